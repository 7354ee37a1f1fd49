"""The Alembic project: load alembic.ini and the migration graph, and validate them.

Everything here runs before any database exists, so bad input never creates one.
"""

from __future__ import annotations

import argparse
import configparser
import warnings
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError

from drift_job.errors import ConfigError, MigrationError, exception_chain
from drift_job.settings import Settings


@dataclass
class AlembicProject:
    """A loaded, validated Alembic project with a single head (or no migrations at all)."""

    config: Config
    script: ScriptDirectory
    head: str | None
    ini_path: Path

    @property
    def env_py(self) -> Path:
        return Path(self.script.dir) / "env.py"

    @property
    def version_dirs(self) -> list[Path]:
        return version_dirs(self.script)

    @property
    def ini_url(self) -> str | None:
        """``sqlalchemy.url`` as written in alembic.ini (used only to learn the driver)."""
        try:
            return self.config.get_main_option("sqlalchemy.url") or None
        except (configparser.Error, ValueError):
            return None

    def new_config(self, *, autogenerate: bool) -> Config:
        """A fresh Config for one env.py run, as the ``alembic`` command line would build it."""
        config = Config(str(self.ini_path), ini_section=self.config.config_ini_section)
        config.cmd_opts = argparse.Namespace(
            x=[], autogenerate=autogenerate, sql=False, config=str(self.ini_path)
        )
        return config


def version_dirs(script: ScriptDirectory) -> list[Path]:
    """Where revision files live: ``version_locations``, else ``<script_location>/versions``."""
    locations = script.version_locations or [script.versions]
    return [Path(location).resolve() for location in locations]


def _script_file(script: Script) -> str:
    return str(Path(script.path).name) if script.path else script.revision


def _load_revisions(script: ScriptDirectory, ini_path: Path) -> tuple[str, ...]:
    """Import every revision file and return the heads, mapping errors to exit codes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            heads = script.get_heads()
        except SyntaxError as exc:
            raise MigrationError(
                f"migration {exc.filename}: syntax error on line {exc.lineno}: {exc.msg}"
            ) from exc
        except CommandError as exc:
            raise ConfigError(f"{ini_path.name}: {exc}") from exc
        except Exception as exc:
            origin = _origin_in(exc, version_dirs(script))
            if origin is not None:
                raise MigrationError(
                    f"migration {origin.name} failed to load: {exc.__class__.__name__}: {exc}"
                ) from exc
            raise ConfigError(f"migration graph: {exc.__class__.__name__}: {exc}") from exc
    duplicates = [str(w.message) for w in caught if "present more than once" in str(w.message)]
    if duplicates:
        raise ConfigError(f"migration graph: {duplicates[0]}")
    return tuple(heads)


def _origin_in(exc: BaseException, directories: list[Path]) -> Path | None:
    """The innermost traceback frame's file that lies in one of ``directories``."""
    resolved = [d.resolve() for d in directories]
    origin = None
    tb = exc.__traceback__
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename)
        if path.is_absolute() and any(path.resolve().is_relative_to(d) for d in resolved):
            origin = path
        tb = tb.tb_next
    if origin is None and isinstance(exc, SyntaxError) and exc.filename:
        path = Path(exc.filename)
        if any(path.resolve().is_relative_to(d) for d in resolved):
            origin = path
    return origin


def open_project(settings: Settings) -> AlembicProject:
    """Read alembic.ini and find env.py, importing none of the project's code yet.

    The project's modules may read their database settings at import time, so they must
    first be imported after :func:`drift_job.migrations.run_environment` has set them.
    """
    ini_path = settings.alembic_config
    if not ini_path.is_file():
        raise ConfigError(f"ALEMBIC_CONFIG: {ini_path} not found")
    config = Config(str(ini_path))
    try:
        script = ScriptDirectory.from_config(config)
    except CommandError as exc:
        raise ConfigError(f"{ini_path.name}: {exc}") from exc
    except configparser.Error as exc:
        raise ConfigError(
            f"{ini_path.name}: not a valid ini file ({exc.__class__.__name__})"
        ) from exc
    env_py = Path(script.dir) / "env.py"
    if not env_py.is_file():
        raise ConfigError(f"{ini_path.name}: script_location {script.dir} has no env.py")
    try:  # a syntax error is found without running anything (and before a database exists)
        compile(env_py.read_bytes(), str(env_py), "exec")
    except SyntaxError as exc:
        raise ConfigError(f"{env_py}: syntax error on line {exc.lineno}: {exc.msg}") from exc
    return AlembicProject(config, script, None, ini_path)


def load_revisions(project: AlembicProject) -> None:
    """Import the revision files and set ``project.head``; exactly one head is allowed."""
    script = project.script
    heads = _load_revisions(script, project.ini_path)
    if len(heads) > 1:
        listed = ", ".join(f"{h} ({_script_file(script.get_revision(h))})" for h in heads)
        raise ConfigError(
            f"migration graph: multiple heads: {listed}; merge them with: "
            f"alembic merge -m 'merge heads' {' '.join(heads)}"
        )
    project.head = heads[0] if heads else None


def origin_in_migrations(exc: BaseException, project: AlembicProject) -> Path | None:
    """The migration file an exception came from, if any (follows the exception chain)."""
    origins = (_origin_in(item, project.version_dirs) for item in exception_chain(exc))
    return next((origin for origin in origins if origin is not None), None)

"""The project as Alembic sees it: its configuration, env.py and migration graph.

Loaded in the worker before the temporary database exists, so a broken project never
creates one; every failure here is reported with the file or setting at fault.
"""

from __future__ import annotations

import argparse
import ast
import configparser
import inspect
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError

from .classify import (
    Failure,
    exception_chain,
    missing_module,
    one_line,
    origin_in,
    settings_validation,
)


@dataclass
class Project:
    """A loaded Alembic project with a single head (several with ``--heads all``, or none
    without migrations)."""

    config: Config
    script: ScriptDirectory
    options: Mapping[str, Any]
    head: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    #: What ``alembic upgrade`` is given: ``heads`` only when there are several on purpose,
    #: so env.py's ``context.get_revision_argument()`` is what ``alembic upgrade head`` gives.
    upgrade_target: str = "head"

    @property
    def env_py(self) -> Path:
        return Path(self.script.dir) / "env.py"

    @property
    def version_dirs(self) -> list[Path]:
        locations = self.script.version_locations or [self.script.versions]
        return [Path(location).resolve() for location in locations]

    @property
    def ini_url(self) -> str | None:
        """``sqlalchemy.url`` as configured (used only to learn the project's driver)."""
        try:
            return self.config.get_main_option("sqlalchemy.url") or None
        except (configparser.Error, ValueError):
            return None

    def new_config(self, *, autogenerate: bool) -> Config:
        """A fresh Config for one env.py run, as the ``alembic`` command line builds it."""
        config = _config(self.options)
        config.cmd_opts = argparse.Namespace(
            x=list(self.options["x_args"]),
            autogenerate=autogenerate,
            sql=False,
            config=self.options["ini_path"],
            name=self.options["ini_section"],
        )
        return config


def _where(options: Mapping[str, Any]) -> str:
    return Path(options["ini_path"]).name if options["ini_path"] else "pyproject.toml"


def _config(options: Mapping[str, Any]) -> Config:
    ini, toml, section = options["ini_path"], options["toml_file"], options["ini_section"]
    if toml is None:
        return Config(ini, ini_section=section)
    if "toml_file" not in inspect.signature(Config).parameters:
        raise Failure("config", "pyproject.toml [tool.alembic] needs Alembic 1.16 or newer")
    return Config(ini, toml_file=toml, ini_section=section)


def _script_location_hint(error: BaseException, config: Config) -> str:
    try:
        location = config.get_main_option("script_location") or "?"
    except (configparser.Error, ValueError):
        location = "?"
    return (
        f"script_location = {location} could not be imported ({error.__class__.__name__}: "
        f"{error}); install the project (pip install -e .), add prepend_sys_path = src "
        "(where the package lives) to the Alembic configuration, or set PYTHONPATH"
    )


def read_config(options: Mapping[str, Any]) -> Config:
    """The Alembic configuration (alembic.ini and/or pyproject.toml), as ``alembic`` reads it."""
    where = _where(options)
    try:
        config = _config(options)
        if options["ini_path"] and not config.file_config.has_section(options["ini_section"]):
            raise Failure("config", f"{where}: no [{options['ini_section']}] section")
    except configparser.Error as exc:
        raise Failure(
            "config", f"{where}: not a valid ini file ({exc.__class__.__name__})"
        ) from exc
    return config


def open_project(config: Config, options: Mapping[str, Any]) -> Project:
    """Find the scripts and env.py. A ``pkg:migrations`` script_location imports ``pkg``, so
    the project's environment must be set before this runs."""
    where = _where(options)
    try:
        script = ScriptDirectory.from_config(config)
    except Failure:
        raise
    except CommandError as exc:
        raise Failure("config", f"{where}: {exc}") from exc
    except configparser.Error as exc:
        raise Failure(
            "config", f"{where}: not a valid ini file ({exc.__class__.__name__})"
        ) from exc
    except ImportError as exc:
        raise Failure("config", f"{where}: {_script_location_hint(exc, config)}") from exc
    project = Project(config, script, options)
    env_py = project.env_py
    if not env_py.is_file():
        raise Failure("config", f"{where}: script_location {script.dir} has no env.py")
    try:  # a syntax error is found without running anything
        compile(env_py.read_bytes(), str(env_py), "exec")
    except SyntaxError as exc:
        raise Failure("config", f"{env_py}: syntax error on line {exc.lineno}: {exc.msg}") from exc
    return project


def _file(script: Script | None, revision: str) -> str:
    return Path(script.path).name if script is not None and script.path else revision


def _declared(path: Path) -> dict[str, Any]:
    """``revision`` and ``down_revision`` as a revision file declares them (read, not run)."""
    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError, OSError):
        return {}
    found: dict[str, Any] = {}
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision") and value:
            try:
                found[target.id] = ast.literal_eval(value)
            except ValueError:
                continue
    return found


def _missing_parent(project: Project) -> Failure | None:
    """A ``down_revision`` that names no revision: which file, and which id."""
    declared = {
        path: _declared(path)
        for directory in project.version_dirs
        for path in sorted(directory.rglob("*.py"))
    }
    known = {str(d["revision"]) for d in declared.values() if "revision" in d}
    for path, names in declared.items():
        parents = names.get("down_revision")
        for parent in (parents,) if isinstance(parents, str) else parents or ():
            if str(parent) not in known:
                return Failure(
                    "config",
                    f"migration graph: {path.name} has down_revision {str(parent)!r}, "
                    f"which no revision file in {path.parent} declares",
                )
    return None


def _duplicate_files(project: Project, revision: str) -> list[str]:
    pattern = re.compile(rf"""^revision\s*(?::[^=]*)?=\s*['"]{re.escape(revision)}['"]""", re.M)
    return sorted(
        path.name
        for directory in project.version_dirs
        for path in directory.rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8", errors="replace"))
    )


def load_revisions(project: Project, *, all_heads: bool = False) -> None:
    """Import every revision file; exactly one head is allowed, unless ``all_heads``."""
    script = project.script
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            heads = tuple(script.get_heads())
        except SyntaxError as exc:
            raise Failure(
                "migration",
                f"migration {exc.filename}: syntax error on line {exc.lineno}: {exc.msg}",
            ) from exc
        except Exception as exc:
            raise _graph_failure(project, exc) from exc
    for warning in caught:
        text = str(warning.message)
        match = re.search(r"Revision (\S+) is present more than once", text)
        if match:
            files = " and ".join(_duplicate_files(project, match.group(1))) or "two files"
            raise Failure(
                "config",
                f"migration graph: revision id {match.group(1)} is "
                f"declared by both {files}; give one of them a new id",
            )
    if len(heads) > 1 and not all_heads:
        listed = ", ".join(f"{h} ({_file(script.get_revision(h), h)})" for h in heads)
        raise Failure(
            "config",
            f"migration graph: multiple heads: {listed}; merge them with: "
            f"alembic merge -m 'merge heads' {' '.join(heads)}",
        )
    project.head = ", ".join(heads) if heads else None
    project.upgrade_target = "heads" if len(heads) > 1 else "head"
    project.files = {
        s.revision: _file(s, s.revision) for s in script.walk_revisions() if s is not None
    }


def _graph_failure(project: Project, exc: BaseException) -> Failure:
    origin = next(
        (o for o in (origin_in(e, project.version_dirs) for e in exception_chain(exc)) if o), None
    )
    if origin is not None:
        return _load_failure(origin, exc)
    missing = _missing_parent(project)
    if missing is not None:
        return missing
    if isinstance(exc, CommandError):
        return Failure("config", f"{_where(project.options)}: {exc}")
    return Failure("config", f"migration graph: {one_line(exc)}")


def _load_failure(origin: Path, exc: BaseException) -> Failure:
    """A revision file that cannot be imported: an application setting missing at import, a
    package this interpreter lacks (both exit 2), or the file itself (exit 4)."""
    settings_problem = settings_validation(exc)
    if settings_problem is not None:
        return Failure("config", f"migration {origin.name} failed to load: {settings_problem}")
    missing = missing_module(exc)
    if missing is not None:
        return Failure("config", f"migration {origin.name} failed to load: {missing}")
    return Failure("migration", f"migration {origin.name} failed to load: {one_line(exc)}")

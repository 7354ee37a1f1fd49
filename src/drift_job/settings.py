"""Settings: CLI flags > process environment > env file > defaults, validated up front.

All problems are collected and reported together in one :class:`ConfigError`, so a user fixes
a broken configuration in one round trip instead of one key at a time.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from drift_job.envfile import read_env_file
from drift_job.errors import ConfigError
from drift_job.ignore_rules import IgnoreRule, expired_rules
from drift_job.settings_cache import cache_options
from drift_job.settings_file import read_settings_file
from drift_job.settings_graph import base_settings
from drift_job.settings_keys import KNOWN_KEYS
from drift_job.settings_reports import report_targets
from drift_job.settings_roundtrip import roundtrip_settings
from drift_job.settings_rules import alembic_files, interpreter, server_kind
from drift_job.settings_sources import Layers, Resolver
from drift_job.settings_values import (
    MIN_WORKER_MEMORY,
    parse_duration,
    parse_set_env,
)

__all__ = ["KNOWN_KEYS", "Settings", "load_settings", "parse_duration", "parse_set_env"]

DEFAULT_ENV_FILE = ".env.k8s.development"
PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,29}$")
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
FORMATS = ("text", "json", "markdown", "junit", "sarif", "github")
DRIVERS = ("psycopg2", "psycopg", "asyncpg", "pg8000")
#: Which passes compare the migrated database with the models.
COMPARE_MODES = ("both", "autogenerate")
HEADS_MODES = ("one", "all")
LINT_MODES = ("off", "warn", "error")


@dataclass(frozen=True)
class Settings:
    """The effective configuration of one run. ``password`` never appears in ``repr``."""

    host: str | None
    port: int
    user: str | None
    password: str | None = field(repr=False)
    #: Where CREATE/DROP DATABASE run (DRIFT_MAINTENANCE_DB). When not explicit, a server
    #: without ``postgres`` may be reached through ``template1``, as ``createdb`` does.
    maintenance_db: str
    sslmode: str | None
    #: None for a project configured only by ``[tool.alembic]`` in pyproject.toml.
    alembic_config: Path | None
    project_dir: Path
    prefix: str
    url_env: str | None
    set_env: tuple[tuple[str, str], ...]
    driver: str | None
    connect_timeout: float
    timeout: float
    orphan_ttl: float
    output_format: str
    output: Path | None
    summary_file: Path | None
    termination_message_path: Path | None
    env_file: Path | None
    maintenance_db_explicit: bool = False
    #: The application's own database (POSTGRES_DB): shown and used in hints only; the
    #: project's code sees POSTGRES_DB set to the temporary database.
    app_database: str | None = None
    server: str = "embedded"
    python: str | None = None
    worker_memory: int | None = None
    verbose: bool = False
    #: ``both``: Alembic autogenerate and the catalog comparison; ``autogenerate``: as
    #: ``alembic check`` alone would see it.
    compare: str = "both"
    #: Objects the models cannot express (functions, views, …) count as drift.
    strict: bool = False
    x_args: tuple[str, ...] = ()
    ini_section: str = "alembic"
    toml_file: Path | None = None
    secret_files: Mapping[str, Path] = field(default_factory=dict, compare=False)
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    #: The env file's values: the project's code sees them too (below the real environment).
    env_file_values: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    #: Downgrade every revision (down to ``roundtrip_to``) and upgrade again, comparing.
    roundtrip: bool = False
    roundtrip_to: str | None = None
    #: (revision, reason): irreversible on purpose, never downgraded.
    roundtrip_skip: tuple[tuple[str, str], ...] = ()
    #: The main line new revisions are checked against (a revision id, or a git ref).
    base_revision: str | None = None
    base_ref: str | None = None
    #: ``all``: several heads on purpose (branch labels), each checked; ``one`` refuses them.
    heads: str = "one"
    #: The data-safety lint of new revisions: ``off``, ``warn``, or ``error`` (fails the check).
    lint: str = "off"
    #: More reports from the same run: (format, file), each written whatever the outcome.
    reports: tuple[tuple[str, Path], ...] = ()
    #: Accepted differences, from the settings file and the ignore file.
    ignore_rules: tuple[IgnoreRule, ...] = ()
    #: Expired and unused ignore rules are errors (exit 2), not warnings.
    strict_ignores: bool = False
    #: pyproject.toml ([tool.drift-check]) or drift-check.toml, when the project has one.
    settings_file: Path | None = None
    ignore_file: Path | None = None
    #: The migration cache (drift_job.cache): templates on the server, at most ``cache_keep``
    #: per project; ``cache_dir`` holds dumps for servers that are new every run.
    cache: bool = False
    cache_keep: int = 3
    cache_key_paths: tuple[Path, ...] = ()
    cache_dir: Path | None = None

    @property
    def embedded(self) -> bool:
        """No server configured: the run starts its own throwaway PostgreSQL."""
        return self.server == "embedded"

    def secrets(self) -> tuple[str, ...]:
        """Values that must never be printed."""
        return (self.password,) if self.password else ()

    def describe(self) -> dict[str, str]:
        """Every setting for display with where it came from; the password only as ``***``."""
        from drift_job.settings_describe import describe  # noqa: PLC0415 - only for config

        return describe(self)


def _project_dir(layers: Layers, base_dir: Path) -> Path:
    text = layers.get("DRIFT_PROJECT_DIR")
    if not text:
        return base_dir
    project_dir = (base_dir / text).resolve()
    if not project_dir.is_dir():
        layers.problems.append(f"DRIFT_PROJECT_DIR: {project_dir} is not a directory")
    return project_dir


def _env_file(
    layers: Layers, environ: Mapping[str, str], base_dir: Path, project_dir: Path
) -> tuple[Path | None, dict[str, str | None]]:
    """An explicitly named env file (must exist), else .env.k8s.development if present."""
    named = layers.get("DRIFT_ENV_FILE")
    path = base_dir / named if named else project_dir / DEFAULT_ENV_FILE
    if not named and not path.exists():
        return None, {}
    return path, read_env_file(path, environ, layers.problems)


def _display(path: Path, base_dir: Path) -> str:
    return str(path.relative_to(base_dir)) if path.is_relative_to(base_dir) else str(path)


def load_settings(
    flags: Mapping[str, str | None] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve and validate the settings for one run; every problem is reported at once.

    ``flags`` uses the same key names as the environment (the CLI translates its options).
    The caller's environment is never modified.
    """
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    environ = os.environ if environ is None else environ
    base_dir = (cwd or Path.cwd()).resolve()
    problems: list[str] = []
    early = Layers([("flag", given), ("environment", environ)], problems)
    project_dir = _project_dir(early, base_dir)
    env_file, file_values = _env_file(early, environ, base_dir, project_dir)
    before_file = Layers(
        [("flag", given), ("environment", environ), ("env file", file_values)], problems
    )
    named_ignore_file = before_file.get("DRIFT_IGNORE_FILE")
    ignore_file = base_dir / named_ignore_file if named_ignore_file else None
    project_file = read_settings_file(project_dir, ignore_file, problems)
    layers = Layers(
        [
            ("flag", given),
            ("environment", environ),
            ("env file", file_values),
            (project_file.layer, project_file.values),
        ],
        problems,
    )
    for earlier in (early, before_file):
        layers.sources.update(earlier.sources)
        layers.rejected.update(earlier.rejected)
    resolve = Resolver(layers, base_dir)

    host = layers.get("POSTGRES_HOST", "PGHOST")
    server = server_kind(resolve, host, _display(env_file, base_dir) if env_file else "")
    # A throwaway server has its own port and superuser: the settings for a configured one
    # are then ignored, and their files not even read.
    configured = server == "configured"
    reported = len(problems)
    user = resolve.secret("POSTGRES_USER", "PGUSER") if configured else None
    if host is not None and user is None and len(problems) == reported:
        problems.append("POSTGRES_USER: not set (required when POSTGRES_HOST is set)")
    alembic_config, toml_file = alembic_files(layers, project_dir)
    url_env = resolve.matching(
        "DRIFT_URL_ENV", ENV_NAME_PATTERN, "is not a valid environment variable name"
    )
    maintenance_db = layers.get("DRIFT_MAINTENANCE_DB")
    roundtrip, roundtrip_to, roundtrip_skip = roundtrip_settings(resolve)
    # Resolved before the Settings are built, so that their sources are recorded.
    reports = report_targets(resolve, FORMATS)
    strict_ignores = resolve.boolean("DRIFT_STRICT_IGNORES")
    cache, cache_keep, cache_key_paths, cache_dir = cache_options(resolve, project_dir)
    settings = Settings(
        host=host,
        port=resolve.port() if configured else 5432,
        user=user,
        password=resolve.secret("POSTGRES_PASSWORD", "PGPASSWORD") if configured else None,
        maintenance_db=maintenance_db or "postgres",
        maintenance_db_explicit=maintenance_db is not None,
        app_database=layers.get("POSTGRES_DB", "PGDATABASE"),
        server=server,
        sslmode=resolve.choice("POSTGRES_SSLMODE", SSL_MODES, "PGSSLMODE"),
        alembic_config=alembic_config,
        toml_file=toml_file,
        ini_section=layers.get("DRIFT_ALEMBIC_NAME") or "alembic",
        x_args=resolve.entries("DRIFT_ALEMBIC_X"),
        project_dir=project_dir,
        python=interpreter(resolve, environ),
        worker_memory=resolve.size("DRIFT_WORKER_MEMORY", MIN_WORKER_MEMORY),
        prefix=resolve.matching(
            "DRIFT_DB_PREFIX",
            PREFIX_PATTERN,
            f"must match {PREFIX_PATTERN.pattern} (a lowercase letter, then lowercase letters, "
            "digits or _; at most 30 characters)",
        )
        or "drift_check",
        url_env=url_env,
        set_env=resolve.set_env(),
        driver=resolve.choice("DRIFT_DRIVER", DRIVERS),
        connect_timeout=resolve.duration("DRIFT_CONNECT_TIMEOUT", 30.0),
        timeout=resolve.duration("DRIFT_TIMEOUT", 900.0),
        orphan_ttl=resolve.duration("DRIFT_ORPHAN_TTL", 6 * 3600.0),
        output_format=resolve.choice("DRIFT_FORMAT", FORMATS) or "text",
        output=resolve.target("DRIFT_OUTPUT"),
        summary_file=resolve.target("DRIFT_SUMMARY_FILE"),
        termination_message_path=resolve.target("DRIFT_TERMINATION_MESSAGE_PATH"),
        verbose=resolve.boolean("DRIFT_VERBOSE"),
        compare=resolve.choice("DRIFT_COMPARE", COMPARE_MODES) or "both",
        strict=resolve.boolean("DRIFT_STRICT"),
        env_file=env_file,
        env_file_values={k: v for k, v in file_values.items() if v is not None},
        secret_files=dict(resolve.secret_files),
        **base_settings(resolve, problems),
        heads=resolve.choice("DRIFT_HEADS", HEADS_MODES) or "one",
        lint=resolve.choice("DRIFT_LINT", LINT_MODES) or "off",
        sources=dict(layers.sources),
        roundtrip=roundtrip,
        roundtrip_to=roundtrip_to,
        roundtrip_skip=roundtrip_skip,
        reports=reports,
        ignore_rules=tuple(project_file.rules),
        strict_ignores=strict_ignores,
        settings_file=project_file.path,
        ignore_file=ignore_file,
        cache=cache,
        cache_keep=cache_keep,
        cache_key_paths=cache_key_paths,
        cache_dir=cache_dir,
    )
    if settings.strict_ignores:  # known before anything is created
        problems += expired_rules(settings.ignore_rules, datetime.date.today())
    if problems:
        raise ConfigError("; ".join(problems))
    return settings

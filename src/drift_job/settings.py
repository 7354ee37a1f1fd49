"""Settings: CLI flags > process environment > env file > defaults, validated up front.

All problems are collected and reported together in one :class:`ConfigError`, so a user fixes
a broken configuration in one round trip instead of one key at a time.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from drift_job.errors import ConfigError

DEFAULT_ENV_FILE = ".env.k8s.development"
PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,29}$")
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
FORMATS = ("text", "json")
DRIVERS = ("psycopg2", "psycopg", "asyncpg", "pg8000")
TEMPLATE_FIELDS = frozenset({"url", "database", "host", "port", "user", "password", "driver"})
DURATION_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
DURATION_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

#: Every key the tool reads, for ``drift-check config`` and the README table.
KNOWN_KEYS = (
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_PASSWORD_FILE",
    "POSTGRES_DB",
    "POSTGRES_SSLMODE",
    "ALEMBIC_CONFIG",
    "DRIFT_DB_PREFIX",
    "DRIFT_URL_ENV",
    "DRIFT_SET_ENV",
    "DRIFT_DRIVER",
    "DRIFT_PROJECT_DIR",
    "DRIFT_ENV_FILE",
    "DRIFT_CONNECT_TIMEOUT",
    "DRIFT_TIMEOUT",
    "DRIFT_ORPHAN_TTL",
    "DRIFT_FORMAT",
    "DRIFT_OUTPUT",
    "DRIFT_SUMMARY_FILE",
    "DRIFT_TERMINATION_MESSAGE_PATH",
)


@dataclass(frozen=True)
class Settings:
    """The effective configuration of one run. ``password`` never appears in ``repr``."""

    host: str | None
    port: int
    user: str | None
    password: str | None = field(repr=False)
    maintenance_db: str
    sslmode: str | None
    alembic_config: Path
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
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def embedded(self) -> bool:
        """No server configured: the run starts its own throwaway PostgreSQL."""
        return self.host is None

    def secrets(self) -> tuple[str, ...]:
        """Values that must never be printed."""
        return (self.password,) if self.password else ()

    def describe(self) -> dict[str, str]:
        """The effective settings for display, password redacted, with where each came from."""
        shown: dict[str, str] = {
            "POSTGRES_HOST": self.host or "(none: embedded PostgreSQL)",
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user or "(none)",
            "POSTGRES_PASSWORD": "***" if self.password else "(none)",
            "POSTGRES_DB": self.maintenance_db,
            "POSTGRES_SSLMODE": self.sslmode or "(libpq default)",
            "ALEMBIC_CONFIG": str(self.alembic_config),
            "DRIFT_PROJECT_DIR": str(self.project_dir),
            "DRIFT_ENV_FILE": str(self.env_file) if self.env_file else "(none)",
            "DRIFT_DB_PREFIX": self.prefix,
            "DRIFT_URL_ENV": self.url_env or "(none)",
            "DRIFT_SET_ENV": "; ".join(f"{k}={v}" for k, v in self.set_env) or "(none)",
            "DRIFT_DRIVER": self.driver or "(from the project's URL, else psycopg2)",
            "DRIFT_CONNECT_TIMEOUT": f"{self.connect_timeout:g}s",
            "DRIFT_TIMEOUT": f"{self.timeout:g}s",
            "DRIFT_ORPHAN_TTL": f"{self.orphan_ttl:g}s",
            "DRIFT_FORMAT": self.output_format,
        }
        return {
            key: f"{value}  [{self.sources.get(key, 'default')}]" for key, value in shown.items()
        }


class _Layers:
    """Looks keys up through the precedence layers and remembers which layer answered."""

    def __init__(self, layers: list[tuple[str, Mapping[str, str | None]]]) -> None:
        self._layers = layers
        self.sources: dict[str, str] = {}

    def get(self, *keys: str) -> str | None:
        for layer_name, values in self._layers:
            for key in keys:
                value = values.get(key)
                if value is not None and value != "":
                    self.sources[keys[0]] = f"{layer_name}:{key}" if key != keys[0] else layer_name
                    return value
        return None

    def first_layer_defining(self, *keys: str) -> tuple[str, dict[str, str]] | None:
        """The highest-precedence layer that sets any of ``keys``, with the ones it sets."""
        for layer_name, values in self._layers:
            found = {key: str(values[key]) for key in keys if values.get(key) not in (None, "")}
            if found:
                return layer_name, found
        return None


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``6h``, ``1d`` → seconds; ValueError otherwise."""
    match = DURATION_PATTERN.match(text)
    if not match:
        raise ValueError(text)
    seconds = float(match.group(1)) * DURATION_UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError(text)
    return seconds


def parse_set_env(text: str) -> list[tuple[str, str]]:
    """Split ``NAME=TEMPLATE`` entries separated by newlines or ``;``."""
    entries = []
    for raw in re.split(r"[;\n]", text):
        item = raw.strip()
        if item:
            name, sep, template = item.partition("=")
            if not sep:
                raise ValueError(item)
            entries.append((name.strip(), template.strip()))
    return entries


def _template_problem(name: str, template: str) -> str | None:
    if not ENV_NAME_PATTERN.match(name):
        return f"DRIFT_SET_ENV: {name!r} is not a valid environment variable name"
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        return f"DRIFT_SET_ENV: template for {name} is malformed ({exc})"
    unknown = fields - TEMPLATE_FIELDS
    if unknown:
        allowed = ", ".join("{" + f + "}" for f in sorted(TEMPLATE_FIELDS))
        return f"DRIFT_SET_ENV: {name} uses unknown field(s) {sorted(unknown)}; allowed: {allowed}"
    return None


def _read_env_file(path: Path, problems: list[str]) -> dict[str, str | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(f"env file {path}: not found")
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"env file {path}: cannot be read ({exc.__class__.__name__})")
        return {}
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        body = stripped.removeprefix("export ").strip()
        key, sep, _ = body.partition("=")
        key = key.strip()
        if not sep or not ENV_NAME_PATTERN.match(key):
            problems.append(f"env file {path}, line {number}: expected KEY=VALUE")
            continue
        if key in seen:
            problems.append(f"env file {path}, line {number}: {key} is set twice")
        seen.add(key)
    return dict(dotenv_values(path, interpolate=False))


def _read_password_file(path_text: str, key: str, problems: list[str]) -> str | None:
    path = Path(path_text)
    try:
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(f"{key}: file {path} not found")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{key}: file {path} cannot be read ({exc.__class__.__name__})")
        return None
    password = content.removesuffix("\n").removesuffix("\r")
    if not password:
        problems.append(f"{key}: file {path} is empty")
        return None
    return password


def _writable_target(path: Path, key: str, problems: list[str]) -> None:
    directory = path.parent if path.parent != Path() else Path.cwd()
    if not directory.is_dir():
        problems.append(f"{key}: directory {directory} does not exist")
    elif not os.access(directory, os.W_OK):
        problems.append(f"{key}: directory {directory} is not writable")


def load_settings(
    flags: Mapping[str, str | None] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve and validate the settings for one run.

    ``flags`` uses the same key names as the environment (the CLI translates its options).
    The caller's environment is never modified.
    """
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    environ = os.environ if environ is None else environ
    problems: list[str] = []

    project_dir_text = flags.get("DRIFT_PROJECT_DIR") or environ.get("DRIFT_PROJECT_DIR")
    base_dir = (cwd or Path.cwd()).resolve()
    project_dir = base_dir
    if project_dir_text:
        project_dir = (base_dir / project_dir_text).resolve()
        if not project_dir.is_dir():
            problems.append(f"DRIFT_PROJECT_DIR: {project_dir} is not a directory")

    env_file_text = flags.get("DRIFT_ENV_FILE") or environ.get("DRIFT_ENV_FILE")
    env_file: Path | None = None
    file_values: dict[str, str | None] = {}
    if env_file_text:
        env_file = base_dir / env_file_text
        file_values = _read_env_file(env_file, problems)
    elif (project_dir / DEFAULT_ENV_FILE).is_file():
        env_file = project_dir / DEFAULT_ENV_FILE
        file_values = _read_env_file(env_file, problems)

    layers = _Layers([("flag", flags), ("environment", environ), ("env file", file_values)])

    host = layers.get("POSTGRES_HOST", "PGHOST")
    port = 5432
    port_text = layers.get("POSTGRES_PORT", "PGPORT")
    if port_text is not None:
        if port_text.isdigit() and 1 <= int(port_text) <= 65535:
            port = int(port_text)
        else:
            problems.append(f"POSTGRES_PORT: {port_text!r} is not a port number (1-65535)")
    user = layers.get("POSTGRES_USER", "PGUSER")
    if host is not None and user is None:
        problems.append("POSTGRES_USER: not set (required when POSTGRES_HOST is set)")

    password = None
    password_layer = layers.first_layer_defining("POSTGRES_PASSWORD", "POSTGRES_PASSWORD_FILE")
    if password_layer is not None:
        layer_name, found = password_layer
        if len(found) == 2:
            problems.append(
                f"POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE are exclusive (both set in {layer_name})"
            )
        elif "POSTGRES_PASSWORD_FILE" in found:
            password = _read_password_file(
                found["POSTGRES_PASSWORD_FILE"], "POSTGRES_PASSWORD_FILE", problems
            )
            layers.sources["POSTGRES_PASSWORD"] = f"{layer_name}:POSTGRES_PASSWORD_FILE"
        else:
            password = found["POSTGRES_PASSWORD"]
            layers.sources["POSTGRES_PASSWORD"] = layer_name
    else:
        password = layers.get("POSTGRES_PASSWORD", "PGPASSWORD")

    maintenance_db = layers.get("POSTGRES_DB", "PGDATABASE") or "postgres"
    sslmode = layers.get("POSTGRES_SSLMODE", "PGSSLMODE")
    if sslmode is not None and sslmode not in SSL_MODES:
        problems.append(f"POSTGRES_SSLMODE: {sslmode!r} is not one of {', '.join(SSL_MODES)}")

    alembic_config = project_dir / (layers.get("ALEMBIC_CONFIG") or "alembic.ini")
    if project_dir.is_dir() and not alembic_config.is_file():
        problems.append(f"ALEMBIC_CONFIG: {alembic_config} not found")

    prefix = layers.get("DRIFT_DB_PREFIX") or "drift_check"
    if not PREFIX_PATTERN.match(prefix):
        problems.append(
            f"DRIFT_DB_PREFIX: {prefix!r} must match {PREFIX_PATTERN.pattern} "
            "(lowercase letter first, then lowercase letters, digits or _; at most 30)"
        )

    url_env = layers.get("DRIFT_URL_ENV")
    if url_env is not None and not ENV_NAME_PATTERN.match(url_env):
        problems.append(f"DRIFT_URL_ENV: {url_env!r} is not a valid environment variable name")

    set_env: list[tuple[str, str]] = []
    set_env_text = layers.get("DRIFT_SET_ENV")
    if set_env_text:
        try:
            set_env = parse_set_env(set_env_text)
        except ValueError as exc:
            problems.append(f"DRIFT_SET_ENV: {str(exc)!r} is not NAME=TEMPLATE")
    for name, template in set_env:
        problem = _template_problem(name, template)
        if problem:
            problems.append(problem)

    driver = layers.get("DRIFT_DRIVER")
    if driver is not None and driver not in DRIVERS:
        problems.append(f"DRIFT_DRIVER: {driver!r} is not one of {', '.join(DRIVERS)}")

    def duration(key: str, default: float) -> float:
        text = layers.get(key)
        if text is None:
            return default
        try:
            return parse_duration(text)
        except ValueError:
            problems.append(f"{key}: {text!r} is not a duration (e.g. 30, 90s, 15m, 6h, 1d)")
            return default

    connect_timeout = duration("DRIFT_CONNECT_TIMEOUT", 30.0)
    timeout = duration("DRIFT_TIMEOUT", 900.0)
    orphan_ttl = duration("DRIFT_ORPHAN_TTL", 6 * 3600.0)

    output_format = layers.get("DRIFT_FORMAT") or "text"
    if output_format not in FORMATS:
        problems.append(f"DRIFT_FORMAT: {output_format!r} is not one of {', '.join(FORMATS)}")

    def target(key: str) -> Path | None:
        text = layers.get(key)
        if text is None:
            return None
        path = base_dir / text
        _writable_target(path, key, problems)
        return path

    output = target("DRIFT_OUTPUT")
    summary_file = target("DRIFT_SUMMARY_FILE")
    termination_message_path = target("DRIFT_TERMINATION_MESSAGE_PATH")

    if problems:
        raise ConfigError("; ".join(problems))
    return Settings(
        host=host,
        port=port,
        user=user,
        password=password,
        maintenance_db=maintenance_db,
        sslmode=sslmode,
        alembic_config=alembic_config,
        project_dir=project_dir,
        prefix=prefix,
        url_env=url_env,
        set_env=tuple(set_env),
        driver=driver,
        connect_timeout=connect_timeout,
        timeout=timeout,
        orphan_ttl=orphan_ttl,
        output_format=output_format,
        output=output,
        summary_file=summary_file,
        termination_message_path=termination_message_path,
        env_file=env_file,
        sources=dict(layers.sources),
    )

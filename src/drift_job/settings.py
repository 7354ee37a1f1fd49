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
FORMATS = ("text", "json", "markdown", "junit")
DRIVERS = ("psycopg2", "psycopg", "asyncpg", "pg8000")
TEMPLATE_FIELDS = frozenset({"url", "database", "host", "port", "user", "password", "driver"})
DURATION_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
DURATION_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

#: Every key the tool reads; the README's settings table lists each (a test checks it).
KNOWN_KEYS = (
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_USER",
    "POSTGRES_USER_FILE",
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
    toml_file: Path | None = None
    ini_section: str = "alembic"
    x_args: tuple[str, ...] = ()
    python: str | None = None
    worker_memory: int | None = None
    verbose: bool = False

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
    problems_before = len(problems)
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
    if len(problems) > problems_before:  # python-dotenv would log its own complaint as well
        return {}
    return dict(dotenv_values(path, interpolate=False))


def _read_secret_file(path_text: str, key: str, problems: list[str]) -> str | None:
    path = Path(path_text)
    try:
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(f"{key}: file {path} not found")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{key}: file {path} cannot be read ({exc.__class__.__name__})")
        return None
    value = content.removesuffix("\n").removesuffix("\r")
    if not value:
        problems.append(f"{key}: file {path} is empty")
        return None
    return value


def _writable_target(path: Path, key: str, problems: list[str]) -> None:
    """An existing writable file (e.g. /dev/termination-log), or a new one in a writable dir."""
    if path.is_file():
        if not os.access(path, os.W_OK):
            problems.append(f"{key}: {path} is not writable")
        return
    directory = path.parent
    if not directory.is_dir():
        problems.append(f"{key}: directory {directory} does not exist")
    elif not os.access(directory, os.W_OK):
        problems.append(f"{key}: directory {directory} is not writable")


class _Resolver:
    """Resolves one group of keys at a time, collecting every problem instead of stopping."""

    def __init__(self, layers: _Layers, base_dir: Path) -> None:
        self.layers = layers
        self.base_dir = base_dir
        self.problems: list[str] = []

    def port(self) -> int:
        text = self.layers.get("POSTGRES_PORT", "PGPORT")
        if text is None:
            return 5432
        if text.isdigit() and 1 <= int(text) <= 65535:
            return int(text)
        self.problems.append(f"POSTGRES_PORT: {text!r} is not a port number (1-65535)")
        return 5432

    def secret(self, key: str, fallback: str) -> str | None:
        """``KEY`` or ``KEY_FILE`` (exclusive within a layer; a file loses one trailing
        newline), else the libpq ``fallback`` variable. The docker-library convention."""
        file_key = f"{key}_FILE"
        found_in = self.layers.first_layer_defining(key, file_key)
        if found_in is None:
            return self.layers.get(key, fallback)
        layer_name, found = found_in
        if len(found) == 2:
            self.problems.append(f"{key} and {file_key} are exclusive (both set in {layer_name})")
            return None
        if file_key in found:
            self.layers.sources[key] = f"{layer_name}:{file_key}"
            return _read_secret_file(found[file_key], file_key, self.problems)
        self.layers.sources[key] = layer_name
        return found[key]

    def choice(self, key: str, allowed: tuple[str, ...], *fallbacks: str) -> str | None:
        value = self.layers.get(key, *fallbacks)
        if value is not None and value not in allowed:
            self.problems.append(f"{key}: {value!r} is not one of {', '.join(allowed)}")
        return value

    def matching(self, key: str, pattern: re.Pattern[str], what: str) -> str | None:
        value = self.layers.get(key)
        if value is not None and not pattern.match(value):
            self.problems.append(f"{key}: {value!r} {what}")
        return value

    def set_env(self, url_env: str | None) -> tuple[tuple[str, str], ...]:
        text = self.layers.get("DRIFT_SET_ENV")
        entries: list[tuple[str, str]] = []
        if text:
            try:
                entries = parse_set_env(text)
            except ValueError as exc:
                self.problems.append(f"DRIFT_SET_ENV: {str(exc)!r} is not NAME=TEMPLATE")
        for name, template in entries:
            problem = _template_problem(name, template)
            if problem:
                self.problems.append(problem)
        return tuple(entries)

    def duration(self, key: str, default: float) -> float:
        text = self.layers.get(key)
        if text is None:
            return default
        try:
            return parse_duration(text)
        except ValueError:
            self.problems.append(f"{key}: {text!r} is not a duration (e.g. 30, 90s, 15m, 6h, 1d)")
            return default

    def target(self, key: str) -> Path | None:
        """An output path whose directory must exist and be writable."""
        text = self.layers.get(key)
        if text is None:
            return None
        path = self.base_dir / text
        _writable_target(path, key, self.problems)
        return path


def _project_dir(
    flags: Mapping[str, str], environ: Mapping[str, str], base_dir: Path, problems: list[str]
) -> Path:
    text = flags.get("DRIFT_PROJECT_DIR") or environ.get("DRIFT_PROJECT_DIR")
    if not text:
        return base_dir
    project_dir = (base_dir / text).resolve()
    if not project_dir.is_dir():
        problems.append(f"DRIFT_PROJECT_DIR: {project_dir} is not a directory")
    return project_dir


def _env_file(
    flags: Mapping[str, str],
    environ: Mapping[str, str],
    base_dir: Path,
    project_dir: Path,
    problems: list[str],
) -> tuple[Path | None, dict[str, str | None]]:
    """An explicitly named env file (must exist), else .env.k8s.development if present."""
    named = flags.get("DRIFT_ENV_FILE") or environ.get("DRIFT_ENV_FILE")
    path = base_dir / named if named else project_dir / DEFAULT_ENV_FILE
    if not named and not path.is_file():
        return None, {}
    return path, _read_env_file(path, problems)


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
    early_problems: list[str] = []
    project_dir = _project_dir(given, environ, base_dir, early_problems)
    env_file, file_values = _env_file(given, environ, base_dir, project_dir, early_problems)
    layers = _Layers([("flag", given), ("environment", environ), ("env file", file_values)])
    resolve = _Resolver(layers, base_dir)
    resolve.problems.extend(early_problems)

    host = layers.get("POSTGRES_HOST", "PGHOST")
    user = resolve.secret("POSTGRES_USER", "PGUSER")
    if host is not None and user is None:
        resolve.problems.append("POSTGRES_USER: not set (required when POSTGRES_HOST is set)")
    alembic_config = project_dir / (layers.get("ALEMBIC_CONFIG") or "alembic.ini")
    if project_dir.is_dir() and not alembic_config.is_file():
        resolve.problems.append(f"ALEMBIC_CONFIG: {alembic_config} not found")
    url_env = resolve.matching(
        "DRIFT_URL_ENV", ENV_NAME_PATTERN, "is not a valid environment variable name"
    )
    settings = Settings(
        host=host,
        port=resolve.port(),
        user=user,
        password=resolve.secret("POSTGRES_PASSWORD", "PGPASSWORD"),
        maintenance_db=layers.get("POSTGRES_DB", "PGDATABASE") or "postgres",
        sslmode=resolve.choice("POSTGRES_SSLMODE", SSL_MODES, "PGSSLMODE"),
        alembic_config=alembic_config,
        project_dir=project_dir,
        prefix=resolve.matching(
            "DRIFT_DB_PREFIX",
            PREFIX_PATTERN,
            f"must match {PREFIX_PATTERN.pattern} (a lowercase letter, then lowercase letters, "
            "digits or _; at most 30 characters)",
        )
        or "drift_check",
        url_env=url_env,
        set_env=resolve.set_env(url_env),
        driver=resolve.choice("DRIFT_DRIVER", DRIVERS),
        connect_timeout=resolve.duration("DRIFT_CONNECT_TIMEOUT", 30.0),
        timeout=resolve.duration("DRIFT_TIMEOUT", 900.0),
        orphan_ttl=resolve.duration("DRIFT_ORPHAN_TTL", 6 * 3600.0),
        output_format=resolve.choice("DRIFT_FORMAT", FORMATS) or "text",
        output=resolve.target("DRIFT_OUTPUT"),
        summary_file=resolve.target("DRIFT_SUMMARY_FILE"),
        termination_message_path=resolve.target("DRIFT_TERMINATION_MESSAGE_PATH"),
        env_file=env_file,
        sources=dict(layers.sources),
    )
    if resolve.problems:
        raise ConfigError("; ".join(resolve.problems))
    return settings

"""Run the project's own env.py against the temporary database, and guard every connection.

The temporary URL reaches env.py whichever way it reads its URL: ``sqlalchemy.url``, the
shared connection in ``config.attributes["connection"]`` (Alembic's cookbook pattern), or
environment variables (``DRIFT_URL_ENV`` / ``DRIFT_SET_ENV``, plus ``POSTGRES_DB``). The safety
guard refuses every SQLAlchemy connection to any other database before a statement runs.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from alembic import command
from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import NullPool, Pool

from drift_job.database import ServerAddress, is_login_failure
from drift_job.errors import (
    ConfigError,
    DriftCheckError,
    InfrastructureError,
    MigrationError,
    SafetyGuardError,
    exception_chain,
)
from drift_job.project import AlembicProject, origin_in_migrations
from drift_job.settings import Settings

SYNC_DRIVERS = ("psycopg2", "psycopg", "pg8000")
DISCONNECT_HINTS = (
    "server closed the connection",
    "terminating connection",
    "connection refused",
    "could not connect",
    "connection is closed",
    "connection was closed",
    "connection already closed",
    "ssl syscall error",
    "consuming input failed",
    "the database system is shutting down",
    "the database system is starting up",
    "connection not open",
)


def driver_of(url_text: str | None) -> str | None:
    """The DBAPI driver named in a URL (``postgresql+asyncpg://`` → ``asyncpg``)."""
    if not url_text or "://" not in url_text:
        return None
    try:
        url = make_url(url_text)
    except exc.ArgumentError:
        return None
    if url.get_backend_name() != "postgresql":
        return None
    return url.get_driver_name() or "psycopg2"


def choose_driver(settings: Settings, project: AlembicProject, environ: Mapping[str, str]) -> str:
    """Keep the project's own driver: DRIFT_DRIVER, else its URL (env var or ini), else psycopg2."""
    if settings.driver:
        return settings.driver
    candidates = [environ.get(settings.url_env) if settings.url_env else None]
    candidates += [environ.get(name) for name, template in settings.set_env if "{url}" in template]
    candidates.append(project.ini_url)
    for candidate in candidates:
        driver = driver_of(candidate)
        if driver:
            return driver
    return "psycopg2"


@dataclass(frozen=True)
class Target:
    """The temporary database as env.py should see it."""

    address: ServerAddress
    database: str
    driver: str

    @property
    def url(self) -> URL:
        return self.address.url(self.database, self.driver)

    @property
    def sync_url(self) -> URL:
        """For the connection we share with env.py: a synchronous driver is required there."""
        driver = self.driver if self.driver in SYNC_DRIVERS else "psycopg2"
        return self.address.url(self.database, driver)

    def template_values(self) -> dict[str, str]:
        return {
            "url": self.url.render_as_string(hide_password=False),
            "database": self.database,
            "host": self.address.host,
            "port": str(self.address.port),
            "user": self.address.user or "",
            "password": self.address.password or "",
            "driver": self.driver,
        }


def environment_for(settings: Settings, target: Target) -> dict[str, str]:
    """The variables env.py may read its database from, pointing at the temporary database."""
    values = target.template_values()
    assignments: dict[str, str] = {"POSTGRES_DB": target.database}
    if not target.address.is_socket:
        assignments.update(
            POSTGRES_HOST=target.address.host,
            POSTGRES_PORT=str(target.address.port),
        )
        if target.address.user:
            assignments["POSTGRES_USER"] = target.address.user
        if target.address.password is not None:
            assignments["POSTGRES_PASSWORD"] = target.address.password
    if settings.url_env:
        assignments[settings.url_env] = values["url"]
    for name, template in settings.set_env:
        assignments[name] = template.format(**values)
    return assignments


def _writable(path: str | None) -> bool:
    return bool(path) and os.path.isdir(str(path)) and os.access(str(path), os.W_OK)


@contextmanager
def run_environment(settings: Settings, target: Target) -> Iterator[dict[str, str]]:
    """Set the environment the project's code runs in, for the run only; restore it after.

    Besides the database variables, HOME and TMPDIR point at a private writable directory
    when theirs are not writable (a read-only container or project checkout), because
    projects' models and env.py write caches and logs there.
    """
    assignments = environment_for(settings, target)
    with tempfile.TemporaryDirectory(prefix="drift-check-home-") as scratch:
        if not _writable(os.environ.get("HOME")):
            assignments["HOME"] = scratch
        if not _writable(os.environ.get("TMPDIR", tempfile.gettempdir())):
            assignments["TMPDIR"] = scratch
        saved = {name: os.environ.get(name) for name in assignments}
        os.environ.update(assignments)
        try:
            yield assignments
        finally:
            for name, previous in saved.items():
                if previous is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = previous


def _database_in(params: Mapping[str, Any]) -> str | None:
    for key in ("dbname", "database"):
        value = params.get(key)
        if value:
            return str(value)
    return None


class SafetyGuard:
    """Refuses any SQLAlchemy connection made during the run to a database other than ours.

    Two checks: the connect parameters before connecting (``do_connect``), and
    ``current_database()`` right after connecting (catches custom ``creator`` functions).
    """

    def __init__(self, database: str) -> None:
        self.database = database
        self.violation: str | None = None
        self._lock = threading.Lock()

    def _refuse(self, other: str) -> None:
        with self._lock:
            if self.violation is None:
                self.violation = other
        raise SafetyGuardError(f"env.py tried to connect to database {other!r}")

    def _before_connect(self, dialect: Any, conn_rec: Any, cargs: Any, cparams: Any) -> None:
        requested = _database_in(cparams)
        if requested is not None and requested != self.database:
            self._refuse(requested)

    def _after_connect(self, dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT current_database()")
            row = cursor.fetchone()
        finally:
            cursor.close()
        actual = str(row[0]) if row else "?"
        if actual != self.database:
            dbapi_connection.close()
            self._refuse(actual)

    def __enter__(self) -> SafetyGuard:
        event.listen(Engine, "do_connect", self._before_connect)
        event.listen(Pool, "connect", self._after_connect)
        return self

    def __exit__(self, *exc_info: object) -> None:
        event.remove(Engine, "do_connect", self._before_connect)
        event.remove(Pool, "connect", self._after_connect)

    def explain(self, environ: Mapping[str, str]) -> str:
        """The violation as a one-line error that suggests the setting that fixes it."""
        other = self.violation or "?"
        url_vars = sorted(
            name
            for name, value in environ.items()
            if "://" in value and driver_of(value) and make_url(value).database == other
        )
        name_vars = sorted(name for name, value in environ.items() if value == other)
        if url_vars:
            name = url_vars[0]
            advice = (
                f"environment variable {name} points there; set DRIFT_URL_ENV={name} "
                f"(or DRIFT_SET_ENV='{name}={{url}}') so it points at the temporary database"
            )
        elif name_vars:
            name = name_vars[0]
            advice = (
                f"environment variable {name} names that database; set "
                f"DRIFT_SET_ENV='{name}={{database}}' (plus host/port/user/password variables "
                "the same way if env.py reads them) so it names the temporary database"
            )
        else:
            advice = (
                "make env.py use config.get_main_option('sqlalchemy.url') or "
                "config.attributes['connection'], or name the environment variables it reads "
                "with DRIFT_SET_ENV (e.g. DATABASE_URL={url} or POSTGRES_DB={database})"
            )
        return (
            f"safety guard: env.py tried to connect to database {other!r} instead of the "
            f"temporary database {self.database!r}; stopped before running anything there; {advice}"
        )


def is_disconnect(error: BaseException) -> bool:
    """Whether the server went away (a transient infrastructure fault, exit 3)."""
    for item in exception_chain(error):
        if isinstance(item, exc.DBAPIError) and item.connection_invalidated:
            return True
        text = str(item).lower()
        if any(hint in text for hint in DISCONNECT_HINTS):
            return True
        if item.__class__.__name__ in {"ConnectionDoesNotExistError", "CannotConnectNowError"}:
            return True
    return False


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{error.__class__.__name__}: {text[0]}" if text else error.__class__.__name__


def classify(
    error: BaseException, project: AlembicProject, guard: SafetyGuard, stage: str
) -> DriftCheckError:
    """Map whatever env.py or a migration raised onto the exit-code contract."""
    if guard.violation is not None:
        return SafetyGuardError(guard.explain(os.environ))
    for item in exception_chain(error):
        if isinstance(item, DriftCheckError):
            return item
    if any(is_login_failure(str(item)) for item in exception_chain(error)):
        return ConfigError(f"env.py could not log in to the temporary database: {_one_line(error)}")
    if is_disconnect(error):
        return InfrastructureError(
            f"the database server went away during {stage}: {_one_line(error)}"
        )
    origin = origin_in_migrations(error, project)
    if origin is not None:
        return MigrationError(f"migration {origin.name} failed: {_one_line(error)}")
    if stage == "migrate" and isinstance(error, exc.DBAPIError):
        return MigrationError(f"migrations failed: {_one_line(error)}")
    return ConfigError(f"env.py ({project.env_py}) failed during {stage}: {_one_line(error)}")


@contextmanager
def shared_connection(
    project: AlembicProject, target: Target, *, autogenerate: bool
) -> Iterator[Any]:
    """A Config whose ``attributes["connection"]`` is an open connection to the temporary DB."""
    config = project.new_config(autogenerate=autogenerate)
    config.set_main_option(
        "sqlalchemy.url", target.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    engine = create_engine(target.sync_url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            yield config
    finally:
        engine.dispose()


def upgrade_to_head(project: AlembicProject, target: Target, guard: SafetyGuard) -> None:
    """``alembic upgrade head`` through the API, running the project's env.py."""
    try:
        with shared_connection(project, target, autogenerate=False) as config:
            command.upgrade(config, "head")
    except (Exception, SystemExit) as error:
        raise classify(error, project, guard, "migrate") from error
    if guard.violation is not None:  # env.py swallowed the guard's exception
        raise SafetyGuardError(guard.explain(os.environ))

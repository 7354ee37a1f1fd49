"""The temporary database: connect to the server, create, mark and drop it.

Identifiers are always quoted with psycopg2's ``sql`` module. Every database we create carries
a marker comment, and nothing without that marker (and our name pattern) is ever dropped.
Finding and sweeping leftovers of killed runs is in :mod:`drift_job.leftovers`.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg2
import psycopg2.errors
from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection

from drift_job.errors import ConfigError, InfrastructureError
from drift_job.worker.patterns import LOGIN_FAILURE

TOOL_NAME = "drift-check"
ADMIN_STATEMENT_TIMEOUT_MS = 60_000
ADMIN_LOCK_TIMEOUT_MS = 10_000


def is_login_failure(text: str) -> bool:
    """Whether a connection error means wrong credentials or names, not an unreachable server."""
    return LOGIN_FAILURE.search(text) is not None


@dataclass(frozen=True)
class ServerAddress:
    """How to reach the PostgreSQL server. ``host`` may be a Unix-socket directory."""

    host: str
    port: int
    user: str | None
    password: str | None = field(repr=False)
    sslmode: str | None
    maintenance_db: str
    #: The maintenance database is the default, not the user's choice: if it does not exist,
    #: fall back to template1, as ``createdb`` does.
    maintenance_fallback: bool = False

    @property
    def label(self) -> str:
        """host:port for messages (never the password)."""
        return f"{self.host}:{self.port}"

    @property
    def is_socket(self) -> bool:
        return self.host.startswith("/")

    def connect_kwargs(self, database: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"host": self.host, "port": self.port, "dbname": database}
        if self.user:
            kwargs["user"] = self.user
        if self.password is not None:
            kwargs["password"] = self.password
        if self.sslmode:
            kwargs["sslmode"] = self.sslmode
        return kwargs


def first_line(exc: BaseException) -> str:
    """An error's first line (the server's message without its DETAIL and HINT lines)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else exc.__class__.__name__


def _classify_connect_error(exc: psycopg2.OperationalError, address: ServerAddress) -> Exception:
    text = first_line(exc)
    if is_login_failure(text):
        return ConfigError(f"cannot log in to {address.label}: {text}")
    return InfrastructureError(f"database unreachable at {address.label}: {text}")


def connect(
    address: ServerAddress,
    database: str,
    *,
    timeout: float,
    application_name: str = TOOL_NAME,
) -> PgConnection:
    """Connect with retries and backoff until ``timeout`` seconds have passed.

    Authentication problems are not retried: they are configuration errors (exit 2).
    """
    deadline = time.monotonic() + timeout
    delay = 0.25
    while True:
        remaining = deadline - time.monotonic()
        try:
            conn: PgConnection = psycopg2.connect(
                **address.connect_kwargs(database),
                connect_timeout=max(1, min(10, int(remaining) or 1)),
                application_name=application_name,
                options=(
                    f"-c statement_timeout={ADMIN_STATEMENT_TIMEOUT_MS} "
                    f"-c lock_timeout={ADMIN_LOCK_TIMEOUT_MS}"
                ),
            )
        except psycopg2.OperationalError as exc:
            error = _classify_connect_error(exc, address)
            remaining = deadline - time.monotonic()
            if isinstance(error, ConfigError) or remaining <= 0:
                raise error from None
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 2.0)
            continue
        conn.autocommit = True
        return conn


def new_database_name(prefix: str, now: datetime | None = None) -> str:
    """``<prefix>_<UTC yyyymmddhhmmss>_<8 random hex>``: sortable, unique, recognisable."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    return f"{prefix}_{stamp}_{secrets.token_hex(4)}"


def name_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(prefix)}_\d{{14}}_[0-9a-f]{{8}}$")


def marker(run_id: str, created: datetime) -> str:
    """The comment that tells our databases apart from everything else on the server."""
    return json.dumps(
        {"tool": TOOL_NAME, "run_id": run_id, "created": created.strftime("%Y-%m-%dT%H:%M:%SZ")}
    )


@dataclass(frozen=True)
class Marker:
    """What our marker comment records: which run created the database, and when."""

    run_id: str
    created: datetime


def read_marker(comment: str | None) -> Marker | None:
    """The marker in a database comment, or None if the comment is not ours."""
    if not comment:
        return None
    try:
        data = json.loads(comment)
        if not isinstance(data, dict) or data.get("tool") != TOOL_NAME:
            return None
        created = datetime.strptime(str(data["created"]), "%Y-%m-%dT%H:%M:%SZ")
        return Marker(str(data.get("run_id", "")), created.replace(tzinfo=UTC))
    except (ValueError, KeyError, TypeError):
        return None


def check_can_create(conn: PgConnection) -> bool:
    """Fail with exit 2 unless the role may CREATE DATABASE; True if it is a superuser."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT current_user, rolcreatedb OR rolsuper, rolsuper "
            "FROM pg_roles WHERE rolname = current_user"
        )
        row = cur.fetchone()
    if row is None or not row[1]:
        role = row[0] if row else "the configured role"
        raise ConfigError(
            f"POSTGRES_USER: role {role} lacks the CREATEDB privilege "
            f"(grant it with: ALTER ROLE {role} CREATEDB)"
        )
    return bool(row[2])


def create_database(
    conn: PgConnection,
    name: str,
    run_id: str,
    *,
    template: str | None = None,
    strategy: str | None = None,
) -> None:
    """Create the temporary database ``name`` (a copy of ``template``, when the migration
    cache has one) and mark it as ours.

    The name was chosen (and handed to the project's code) before, so a name that is taken
    (8 random hex digits and the second it was made: practically never) fails the run as a
    transient fault instead of being changed behind the project's back.
    """
    created = datetime.now(UTC)
    try:
        with conn.cursor() as cur:
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template is not None:
                statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            if strategy is not None:
                statement += sql.SQL(" STRATEGY {}").format(sql.SQL(strategy))
            cur.execute(statement)
            cur.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(name), sql.Literal(marker(run_id, created))
                )
            )
    except psycopg2.errors.DuplicateDatabase:
        raise InfrastructureError(f"temporary database name {name} is taken; retry") from None
    except psycopg2.errors.InsufficientPrivilege as exc:
        raise ConfigError(
            f"POSTGRES_USER: not allowed to create a database ({exc.pgerror or exc})".strip()
        ) from None


def database_names(conn: PgConnection) -> set[str]:
    """Every database on the server (to notice one that the migrations create)."""
    with conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database")
        return {str(row[0]) for row in cur.fetchall()}


def drop_database(conn: PgConnection, name: str) -> None:
    """DROP ... WITH (FORCE), which also ends sessions still connected to it (PostgreSQL 13+).

    Older servers get the equivalent: terminate the sessions, then drop.
    """
    identifier = sql.Identifier(name)
    with conn.cursor() as cur:
        if conn.server_version >= 130000:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(identifier))
            return
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(identifier))


def terminate_run_sessions(conn: PgConnection, application_name: str) -> None:
    """End our own other sessions (e.g. a CREATE DATABASE still in flight) before cleanup.

    One at a time: a session the role may not end (one that is exiting, or another role's
    under the same name) is left to ``DROP … WITH (FORCE)``, instead of ending none."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
            "AND pid <> pg_backend_pid()",
            (application_name,),
        )
        pids = [int(row[0]) for row in cur.fetchall()]
    for pid in pids:
        with suppress(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))


def maintenance_connection(
    address: ServerAddress, *, timeout: float, application_name: str
) -> PgConnection:
    """A connection to the maintenance database (``template1`` when the default ``postgres``
    does not exist and the user named none)."""
    try:
        return connect(
            address, address.maintenance_db, timeout=timeout, application_name=application_name
        )
    except ConfigError as exc:
        missing = f'database "{address.maintenance_db}" does not exist' in str(exc)
        if not (missing and address.maintenance_fallback):
            raise
    return connect(address, "template1", timeout=timeout, application_name=application_name)


@contextmanager
def admin_connection(
    address: ServerAddress, *, timeout: float, application_name: str
) -> Iterator[PgConnection]:
    """A maintenance-database connection for CREATE/DROP, closed on exit."""
    with closing(
        maintenance_connection(address, timeout=timeout, application_name=application_name)
    ) as conn:
        yield conn

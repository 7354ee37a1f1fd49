"""The safety guard: every SQLAlchemy connection made by the project's code during the run
must reach the temporary database on the temporary database's server, with PostgreSQL.

Two checks. Before connecting (``do_connect``): the dialect, the database name, and the host
and port when the connect parameters name them. Right after connecting (the pool's
``connect``): the database reached must carry this run's marker comment, which no other
database on any server has — this also catches custom ``creator`` functions and a libpq
default host. A refused connection runs no statement of the project's.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import Pool

#: Settings-object and environment variable names projects commonly read their database from.
COMMON_VARIABLES = (
    "DATABASE_URL",
    "SQLALCHEMY_DATABASE_URI",
    "SQLALCHEMY_DATABASE_URL",
    "POSTGRES_SERVER",
    "POSTGRES_HOST",
    "DB_HOST",
    "DB_URL",
    "DB_NAME",
)
#: What a variable holding each part is called (DB_HOST, POSTGRES_SERVER, DATABASE_PORT…).
FIELD_NAMES = {
    "host": re.compile(r"HOST|SERVER|ADDR", re.I),
    "port": re.compile(r"PORT", re.I),
    "database": re.compile(r"DB|DATABASE|NAME", re.I),
}
MARKER_QUERY = (
    "SELECT current_database(), shobj_description(d.oid, 'pg_database') "
    "FROM pg_database d WHERE d.datname = current_database()"
)


class GuardViolation(Exception):
    """The project's code tried to reach something other than the temporary database."""


@lru_cache(maxsize=64)
def _addresses(host: str) -> frozenset[str]:
    try:
        return frozenset(str(info[4][0]) for info in socket.getaddrinfo(host, None))
    except OSError:
        return frozenset()


def same_host(expected: str, requested: str) -> bool:
    """The same host, spelt the same or resolving to a shared address (localhost = 127.0.0.1)."""
    if expected == requested:
        return True
    if expected.startswith("/") or requested.startswith("/"):  # Unix-socket directories
        return expected.rstrip("/") == requested.rstrip("/")
    return bool(_addresses(expected) & _addresses(requested))


class SafetyGuard:
    """Refuses, for the whole worker process, connections that could touch another database."""

    def __init__(
        self, database: str, host: str, port: int, run_id: str, models_database: str | None
    ) -> None:
        self.database = database
        #: Both of the run's databases may be reached: the migrated one and the models' one.
        self.databases = {database} | ({models_database} if models_database else set())
        self.host = host
        self.port = port
        self.run_id = run_id
        self.violation: str | None = None
        self._lock = threading.Lock()

    def _refuse(self, what: str) -> None:
        with self._lock:
            if self.violation is None:
                self.violation = what
        raise GuardViolation(f"env.py tried to connect to {what}")

    def _before_connect(self, dialect: Any, conn_rec: Any, cargs: Any, cparams: Any) -> None:
        if dialect.name != "postgresql":
            self._refuse(f"a {dialect.name} database (drift-check checks PostgreSQL only)")
        for key in ("dbname", "database"):
            requested = cparams.get(key)
            if requested and str(requested) not in self.databases:
                self._refuse(f"database {str(requested)!r}")
        host = cparams.get("host")
        if host and not same_host(self.host, str(host)):
            self._refuse(f"host {host}")
        port = cparams.get("port")
        if port and str(port).isdigit() and int(port) != self.port:
            self._refuse(f"port {port}")

    def _after_connect(self, dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(MARKER_QUERY)
            row = cursor.fetchone()
        finally:
            cursor.close()
        if not getattr(dbapi_connection, "autocommit", False):
            # Leave the connection idle, as it came: psycopg 3 refuses a change of isolation
            # level (AUTOCOMMIT) inside the transaction our query began.
            dbapi_connection.rollback()
        actual, comment = (str(row[0]), str(row[1] or "")) if row else ("?", "")
        if actual not in self.databases or self.run_id not in comment:
            dbapi_connection.close()
            where = "another server" if actual in self.databases else f"database {actual!r}"
            self._refuse(where)

    def install(self) -> None:
        event.listen(Engine, "do_connect", self._before_connect)
        event.listen(Pool, "connect", self._after_connect)

    def explain(self, environ: Mapping[str, str]) -> str:
        """The violation as one line, naming the setting that points there when one does."""
        what = self.violation or "?"
        target = f"the temporary database {self.database!r} on {self.host}:{self.port}"
        return (
            f"safety guard: env.py tried to connect to {what} instead of {target}; "
            f"stopped before running anything there; {_advice(what, environ)}"
        )


def _value_of(what: str) -> str:
    match = re.match(r"(?:database|host|port) '?([^' ]+)'?", what)
    return match.group(1) if match else ""


def _url_mentions(value: str, wanted: str) -> bool:
    if "://" not in value:
        return False
    try:
        url = make_url(value)
    except Exception:  # not a URL after all
        return False
    return wanted in {url.database, url.host, str(url.port)}


def _advice(what: str, environ: Mapping[str, str]) -> str:
    wanted = _value_of(what)
    if what.startswith("a ") and "PostgreSQL only" in what:
        url_vars = sorted(n for n, v in environ.items() if v.startswith(("sqlite", "mysql")))
        named = f" ({url_vars[0]} holds such a URL)" if url_vars else ""
        return (
            f"the project fell back to another database{named}; point it at PostgreSQL with "
            "DRIFT_URL_ENV or DRIFT_SET_ENV (e.g. DATABASE_URL={url})"
        )
    field = "database" if what.startswith("database") else what.split(maxsplit=1)[0]
    url_vars = sorted(n for n, v in environ.items() if wanted and _url_mentions(v, wanted))
    # Only a variable whose name says what it holds: POSTGRES_USER=postgres is no host.
    name_vars = sorted(
        n for n, v in environ.items() if wanted and v == wanted and FIELD_NAMES[field].search(n)
    )
    if url_vars:
        name = url_vars[0]
        return (
            f"environment variable {name} points there; set DRIFT_URL_ENV={name} "
            f"(or DRIFT_SET_ENV='{name}={{url}}') so it points at the temporary database"
        )
    if name_vars:
        name = name_vars[0]
        return (
            f"environment variable {name} names that {field}; set "
            f"DRIFT_SET_ENV='{name}={{{field}}}' (and the other connection variables env.py "
            "reads the same way) so it names the temporary database"
        )
    common = ", ".join(COMMON_VARIABLES)
    return (
        "make env.py use config.get_main_option('sqlalchemy.url') or "
        "config.attributes['connection'], or name the variables its settings read with "
        f"DRIFT_SET_ENV (commonly {common}: e.g. DATABASE_URL={{url}}, "
        "POSTGRES_SERVER={host}, POSTGRES_DB={database})"
    )

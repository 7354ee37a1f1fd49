"""Fixtures: the suite's PostgreSQL servers (see servers.py), and nothing left behind."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import AVAILABLE, REPO_ROOT, STARTED, VERSIONS, PostgresServer, server


@pytest.fixture(scope="session", autouse=True)
def _stop_servers() -> Iterator[None]:
    yield
    for started in STARTED.values():
        started.server.stop()


@pytest.fixture(scope="session")
def pg_server() -> PostgresServer:
    """One server for tests that do not care about the version (the newest available)."""
    return server(max(AVAILABLE))


@pytest.fixture(params=VERSIONS, ids=lambda v: f"pg{v}")
def any_pg_server(request: pytest.FixtureRequest) -> PostgresServer:
    """The core cases run against every available PostgreSQL version."""
    return server(request.param)


@pytest.fixture(autouse=True)
def _nothing_left_behind() -> Iterator[None]:
    yield
    for started in STARTED.values():
        if (
            started.server.workdir is None
            or not (started.server.data_dir / "postmaster.pid").exists()
        ):
            continue
        leftovers = started.temporary_databases()
        for name in leftovers:  # clean up so one failure does not cascade, then fail
            started.query(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        assert not leftovers, f"PostgreSQL {started.version}: left behind {leftovers}"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A private copy of the reference app (alembic.ini + examples/) to modify freely."""
    shutil.copy(REPO_ROOT / "alembic.ini", tmp_path / "alembic.ini")
    shutil.copytree(
        REPO_ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp_path

"""Fixtures: the suite's PostgreSQL servers (see servers.py), and nothing left behind."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import summaries
from servers import AVAILABLE, REPO_ROOT, STARTED, VERSIONS, PostgresServer, server


@pytest.fixture(scope="session", autouse=True)
def _stop_servers() -> Iterator[None]:
    yield
    for started in STARTED.values():
        started.server.stop()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hand this worker's summaries to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["summaries"] = summaries.collect()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    summaries.REPORTED.append(getattr(node, "workeroutput", {}).get("summaries", {}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    summaries.write(terminalreporter)


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

"""Fixtures and bookkeeping of the reliability and security suite.

On top of the servers of the top-level ``tests/conftest.py`` (PostgreSQL 15 and 18, shared by
the whole suite), the suite starts its own server for fault injection (it is killed and
restarted). Around every test it checks:

- the decoy databases on every server are unchanged (catalogue and data),
- no temporary database is left on any server,
- the password occurs nowhere in what the test's drift-check processes wrote or exposed.

At the end it prints a summary table (also under ``-q``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import servers
import summaries

from drift_job.server import ThrowawayServer, find_binaries

from . import reliability_support as support
from .reliability_support import (
    DECOY_SETS,
    DECOYS,
    LOOKALIKE_DECOYS,
    OWN_SERVERS,
    STATS,
    DecoySet,
    count_secret,
    query,
    running,
)


def _shared_servers() -> list[Any]:
    started: dict[int, Any] = servers.STARTED
    return list(started.values())


def _all_servers() -> list[Any]:
    return _shared_servers() + OWN_SERVERS


@pytest.fixture(scope="session", autouse=True)
def _reliability_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Start the shared servers, give each one decoys and DDL logging; check them at the end."""
    support.ARTIFACTS_DIR[:] = [tmp_path_factory.mktemp("artifacts")]
    for version in sorted(servers.AVAILABLE):
        server = servers.server(version)
        # Every CREATE DATABASE is logged, so a test can prove that none was sent.
        query(server, "ALTER SYSTEM SET log_statement = 'ddl'")
        query(server, "SELECT pg_reload_conf()")
        decoys = DecoySet(server, f"PostgreSQL {version} (shared)")
        decoys.create(DECOYS)
        DECOY_SETS.append(decoys)
    yield
    STATS.current_test = "(end of session)"
    problems = _check_decoys() + _check_leftovers(fail_on_shared=True)
    for decoys in DECOY_SETS:
        if running(decoys.server):
            for name in decoys.baseline:
                query(decoys.server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert not problems, problems


def _check_decoys() -> list[str]:
    changes: list[str] = []
    for decoys in DECOY_SETS:
        if not running(decoys.server):
            changes.append(f"{decoys.label}: not running, decoys cannot be checked")
            continue
        changes += decoys.changes()
    STATS.decoy_changes += len(changes)
    STATS.decoy_details += changes
    return changes


def _check_leftovers(*, fail_on_shared: bool) -> list[str]:
    """Count temporary databases left on every server; drop those on the suite's own servers
    (the top-level conftest drops and reports those on the shared ones)."""
    problems: list[str] = []
    for server in _all_servers():
        if not running(server):
            continue
        left = [n for n in server.temporary_databases() if n not in LOOKALIKE_DECOYS]
        if not left:
            continue
        STATS.leftovers += len(left)
        STATS.leftover_names += left
        own = server in OWN_SERVERS
        if own or fail_on_shared:
            for name in left:
                query(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            problems.append(f"left behind on port {server.port}: {left}")
    return problems


@pytest.fixture(autouse=True)
def _reliability_checks(request: pytest.FixtureRequest) -> Iterator[None]:
    STATS.current_test = request.node.nodeid
    first = len(STATS.recordings)
    yield
    problems: list[str] = []
    leaks = []
    for recording in STATS.recordings[first:]:
        found = count_secret(recording.text, servers.PASSWORD)
        if found:
            leaks.append(f"{found}x in {recording.label}")
    if leaks:
        occurrences = sum(int(item.split("x", 1)[0]) for item in leaks)
        STATS.secret_occurrences += occurrences
        STATS.secret_places += [f"{request.node.nodeid}: {item}" for item in leaks]
        problems.append(f"the password leaked: {leaks}")
    problems += _check_leftovers(fail_on_shared=False)
    problems += _check_decoys()
    STATS.current_test = "(between tests)"
    assert not problems, problems


def start_own_server() -> Any:
    """A PostgreSQL 18 server of this suite alone, with the shared servers' password."""
    throwaway = ThrowawayServer(find_binaries({"PATH": ""}), tcp=True, password=servers.PASSWORD)
    server = servers.PostgresServer(18, throwaway.start())
    query(server, "ALTER SYSTEM SET log_statement = 'ddl'")
    query(server, "SELECT pg_reload_conf()")
    decoys = DecoySet(server, f"own PostgreSQL 18 on port {server.port}")
    decoys.create({**DECOYS, **LOOKALIKE_DECOYS})
    DECOY_SETS.append(decoys)
    OWN_SERVERS.append(server)
    return server


@pytest.fixture(scope="session")
def _own_server() -> Iterator[Any]:
    server = start_own_server()
    yield server
    # The session's final checks run after this: check this server's decoys now.
    ensure_running(server)
    _check_leftovers(fail_on_shared=False)
    own_decoys = [d for d in DECOY_SETS if d.server is server]
    changes = []
    for decoys in own_decoys:
        changes += decoys.changes()
        DECOY_SETS.remove(decoys)
    STATS.decoy_changes += len(changes)
    STATS.decoy_details += changes
    OWN_SERVERS.remove(server)
    server.server.stop()
    assert not changes, changes


def ensure_running(server: Any) -> None:
    if running(server):
        return
    if (server.server.data_dir / "postmaster.pid").exists():
        server.server.kill()
    server.server.restart()
    deadline = time.monotonic() + 30
    while not running(server) and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.fixture
def fault_server(_own_server: Any) -> Iterator[Any]:
    """The suite's own server, which the test may kill and restart; running again afterwards."""
    ensure_running(_own_server)
    yield _own_server
    ensure_running(_own_server)


@pytest.fixture
def shared18() -> Any:
    """The shared PostgreSQL 18 server of the top-level conftest."""
    return servers.server(18)


@pytest.fixture
def password() -> str:
    value: str = servers.PASSWORD
    return value


def _totals() -> dict[str, Any]:
    """This process's bookkeeping, in a form an xdist worker can hand to the controller."""
    return {
        "runs": STATS.runs,
        "faults": dict(STATS.faults),
        "bad_inputs": STATS.bad_inputs,
        "leftovers": STATS.leftovers,
        "secret_occurrences": STATS.secret_occurrences,
        "texts": len(STATS.recordings),
        "cmdlines": sum(1 for r in STATS.recordings if r.label.startswith("/proc cmdline")),
        "decoy_changes": STATS.decoy_changes,
        "secret_places": list(STATS.secret_places),
        "leftover_names": list(STATS.leftover_names),
        "decoy_details": list(STATS.decoy_details),
    }


summaries.PRODUCERS["reliability"] = _totals

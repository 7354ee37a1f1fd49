"""Server faults: nothing listening, a server that comes up late, a server restarted or a
session cut during the migration, and the overall deadline.

These run against the suite's own server (``fault_server``), which is killed with
``pg_ctl stop -m immediate`` (data kept) and started again on the same port.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
from projects import add_migration

from drift_job.server import free_tcp_port

from .reliability_support import (
    STATS,
    Process,
    Result,
    install_stage_hook,
    query,
    run,
    running,
    sessions_running,
    start,
    wait_until,
)

SLEEP_60 = 'op.execute("SELECT pg_sleep(60)")'


def _exists(server: Any, name: str) -> bool:
    return bool(query(server, "SELECT 1 FROM pg_database WHERE datname = %s", (name,)))


def _created_name(process: Process) -> str:
    process.wait_for_output(" created ")
    line = next(line for line in process.stdout_so_far.splitlines() if " created " in line)
    return line.split(" created ", 1)[1].split()[0]


def _sleeping_in_a_migration(server: Any, process: Process) -> str:
    """Wait until the check's SLEEP_60 migration runs on the server; returns its database."""
    name = _created_name(process)
    wait_until(lambda: sessions_running(server, "pg_sleep(60)"), 60, "migration", process)
    return name


def _one_line(result: Result) -> str:
    lines = result.stderr_lines
    assert len(lines) == 1, result.describe()
    assert "Traceback" not in result.output, result.describe()
    return lines[0]


def _kill(server: Any) -> None:
    server.server.kill()
    STATS.fault("server killed")


def _restart(server: Any) -> None:
    server.server.restart()
    STATS.fault("server restarted")
    wait_until(lambda: running(server), 30, "the server to accept connections again")


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_nothing_listening_exit_3_naming_host_and_port(
    fault_server: Any, project: Path, password: str, debug: bool
) -> None:
    port = free_tcp_port()
    env = fault_server.env(POSTGRES_PORT=str(port), DRIFT_CONNECT_TIMEOUT="3")
    STATS.fault("connection refused")
    result = run("check", *(["--debug"] if debug else []), env=env, cwd=project)
    assert result.code == 3, result.describe()
    assert f"127.0.0.1:{port}" in result.stderr
    assert result.elapsed < 10, f"gave up after {result.elapsed:.1f} s"
    if not debug:
        assert _one_line(result).startswith("drift-check: database unreachable at 127.0.0.1:")
    assert password not in result.output


def test_refused_connections_are_retried_for_the_whole_connect_timeout(
    fault_server: Any, project: Path
) -> None:
    port = free_tcp_port()
    env = fault_server.env(POSTGRES_PORT=str(port), DRIFT_CONNECT_TIMEOUT="3.5")
    STATS.fault("connection refused")
    process = start("check", env=env, cwd=project)
    result = process.finish(60)
    assert result.code == 3, result.describe()
    # From the banner, printed before the settings are even loaded, to the exit.
    assert process.finished_at is not None
    retried = process.finished_at - process.arrival_of("drift-check ")
    assert retried >= 3.5 - 0.25, f"gave up after {retried:.2f} s of 3.5"


def test_a_server_that_accepts_but_never_answers(fault_server: Any, project: Path) -> None:
    """A black hole (e.g. a dead load balancer): each attempt must time out, then exit 3."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    STATS.fault("server silent")
    try:
        env = fault_server.env(POSTGRES_PORT=str(port), DRIFT_CONNECT_TIMEOUT="3")
        result = run("check", env=env, cwd=project, timeout=60)
    finally:
        silent.close()
    assert result.code == 3, result.describe()
    assert f"127.0.0.1:{port}" in _one_line(result)
    assert result.elapsed < 3 + 10, f"gave up after {result.elapsed:.1f} s"


def test_a_server_that_comes_up_during_the_retry_window(fault_server: Any, project: Path) -> None:
    _kill(fault_server)
    STATS.fault("connection refused")
    process = start("check", env=fault_server.env(DRIFT_CONNECT_TIMEOUT="30"), cwd=project)
    try:
        time.sleep(2.5)
        assert process.alive(), process.finish().describe()
        assert " database " not in process.stdout_so_far
        _restart(fault_server)
        result = process.finish(60)
    finally:
        process.kill()
    assert result.code == 0, result.describe()
    assert "no drift" in result.stdout


@pytest.mark.slow
def test_server_restarted_mid_migration_exit_3_and_database_dropped(
    fault_server: Any, project: Path
) -> None:
    add_migration(project, "0007", "0006", SLEEP_60)
    process = start("check", env=fault_server.env(DRIFT_CONNECT_TIMEOUT="20"), cwd=project)
    try:
        name = _sleeping_in_a_migration(fault_server, process)
        _kill(fault_server)
        time.sleep(1)
        _restart(fault_server)
        result = process.finish(60)
    finally:
        process.kill()
    assert result.code == 3, result.describe()
    line = _one_line(result)
    assert "went away" in line or "unreachable" in line, line
    assert not _exists(fault_server, name), f"{name} was not dropped after the restart"


@pytest.mark.slow
def test_server_gone_past_the_cleanup_wait_names_the_database_for_the_sweep(
    fault_server: Any, project: Path
) -> None:
    add_migration(project, "0007", "0006", SLEEP_60)
    process = start("check", env=fault_server.env(DRIFT_CONNECT_TIMEOUT="2"), cwd=project)
    try:
        name = _sleeping_in_a_migration(fault_server, process)
        _kill(fault_server)
        result = process.finish(60)
    finally:
        process.kill()
        _restart(fault_server)
    assert result.code == 3, result.describe()
    line = _one_line(result)
    assert name in line, line
    assert "drift-check sweep" in line, line
    assert _exists(fault_server, name)
    time.sleep(1.5)
    swept = run("sweep", "--older-than", "1s", env=fault_server.env(), cwd=project)
    assert swept.code == 0, swept.describe()
    assert f"dropped leftover database {name}" in swept.stdout
    assert not _exists(fault_server, name)


STAGE_SQL = {"migrate": "pg_sleep(60)", "compare": "pg_sleep(62)"}


@pytest.mark.parametrize("stage", list(STAGE_SQL))
def test_session_terminated_mid_run_exit_3_and_database_dropped(
    fault_server: Any, project: Path, stage: str
) -> None:
    if stage == "migrate":
        add_migration(project, "0007", "0006", SLEEP_60)
        env = fault_server.env()
    else:
        install_stage_hook(project)
        env = fault_server.env(
            RELIABILITY_HOOK_STAGE="compare", RELIABILITY_HOOK_SQL="SELECT pg_sleep(62)"
        )
    text = STAGE_SQL[stage]
    process = start("check", env=env, cwd=project)
    try:
        name = _created_name(process)
        wait_until(lambda: sessions_running(fault_server, text), 60, stage, process)
        query(
            fault_server,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE %s "
            "AND pid <> pg_backend_pid()",
            (f"%{text}%",),
        )
        STATS.fault("session terminated")
        result = process.finish(60)
    finally:
        process.kill()
    assert result.code == 3, result.describe()
    line = _one_line(result)
    assert "went away" in line, line
    assert not _exists(fault_server, name)


DEADLINE_BODIES = {
    "server-side statement": SLEEP_60,
    "python-side sleep": "import time\ntime.sleep(60)",
}


@pytest.mark.parametrize("body", list(DEADLINE_BODIES))
def test_deadline_expiry_exit_3_after_cleanup(fault_server: Any, project: Path, body: str) -> None:
    add_migration(project, "0007", "0006", DEADLINE_BODIES[body])
    STATS.fault("DRIFT_TIMEOUT expiry")
    process = start("check", env=fault_server.env(DRIFT_TIMEOUT="3"), cwd=project)
    try:
        name = _created_name(process)
        result = process.finish(60)
    finally:
        process.kill()
    assert result.code == 3, result.describe()
    assert result.elapsed < 3 + 5, f"took {result.elapsed:.1f} s with DRIFT_TIMEOUT=3"
    line = _one_line(result)
    assert "DRIFT_TIMEOUT" in line, line
    assert not _exists(fault_server, name)
    wait_until(lambda: sessions_running(fault_server, "pg_sleep(60)") == 0, 2, "statement ended")

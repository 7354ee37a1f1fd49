"""Nothing left behind: every outcome and every interruption drops the temporary database.

SIGINT and SIGTERM arrive at each stage of a run: while the database is being created (a
lock on template1 holds CREATE DATABASE), while a long statement runs in a migration
(``pg_sleep``, a slow ``CREATE INDEX``), while comparing, while dropping, and while the report
is being written (``--output`` is a FIFO nobody reads yet). After SIGKILL the leftover is
removed by ``drift-check sweep`` and by the sweep at the start of every check, and the sweep
never touches a database that is not an old leftover of ours.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from projects import MODELS, add_migration, patch

from .reliability_support import (
    LOOKALIKE_DECOYS,
    OUR_OLD_MARKER,
    STATS,
    Process,
    Result,
    copy_reference_app,
    database_locked,
    install_stage_hook,
    kill_process,
    query,
    run,
    sessions_running,
    start,
    template_locked,
    temporary_databases,
    wait_until,
)

SIGNALS = [signal.SIGINT, signal.SIGTERM]
EXIT_FOR = {signal.SIGINT: 130, signal.SIGTERM: 143}
SLEEP_60 = "SELECT pg_sleep(60)"
SLOW_INDEX = """
op.execute(
    "CREATE FUNCTION slow_key(i integer) RETURNS integer LANGUAGE plpgsql IMMUTABLE "
    "AS $$ BEGIN PERFORM pg_sleep(0.05); RETURN i; END $$"
)
op.execute("CREATE TABLE big AS SELECT g AS id FROM generate_series(1, 2000) AS g")
op.execute("CREATE INDEX big_slow_key ON big (slow_key(id))")
"""
NEW_COLUMN = (
    "    nickname: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))\n"
)
AUTHOR_BIO = "    bio: str | None = Field(default=None, sa_column=Column(Text, nullable=True))\n"


def _summary(result: Result) -> dict[str, Any]:
    texts = [text for name, text in result.files.items() if name.startswith("summary-")]
    assert texts, f"no summary file was written:\n{result.describe()}"
    data: dict[str, Any] = json.loads(texts[0])
    return data


def _exists(server: Any, name: str | None) -> bool:
    if name is None:
        return False
    return bool(query(server, "SELECT 1 FROM pg_database WHERE datname = %s", (name,)))


def _created_name(process: Process) -> str:
    process.wait_for_output(" created ")
    line = next(line for line in process.stdout_so_far.splitlines() if " created " in line)
    return line.split(" created ", 1)[1].split()[0]


def _assert_interrupted(result: Result, sig: signal.Signals, *, reporting: bool = False) -> None:
    assert result.elapsed < 5, f"exited {result.elapsed:.1f} s after {sig.name}"
    assert "Traceback" not in result.output, result.describe()
    if reporting and result.code == -sig:
        # The database was dropped before the report; dying of the signal itself shows as
        # 128 + signal to a shell or to Kubernetes, the same code drift-check would exit with.
        return
    assert result.code == EXIT_FOR[sig], result.describe()
    assert sig.name in result.stderr, result.describe()


# -- every outcome --------------------------------------------------------------------------


def _drift(project: Path) -> None:
    patch(project, MODELS, AUTHOR_BIO, AUTHOR_BIO + NEW_COLUMN)


def _failing_migration(project: Path) -> None:
    add_migration(project, "0007", "0006", 'op.execute("SELECT * FROM no_such_table")')


def _failing_compare(project: Path) -> None:
    install_stage_hook(project)


OUTCOMES = {
    "clean": (None, 0, {}),
    "drift": (_drift, 1, {}),
    "migration error": (_failing_migration, 4, {}),
    "env.py error while comparing": (
        _failing_compare,
        2,
        {"RELIABILITY_HOOK_STAGE": "compare", "RELIABILITY_HOOK_RAISE": "compare exploded"},
    ),
}


@pytest.mark.parametrize("outcome", list(OUTCOMES))
def test_every_outcome_drops_the_database(any_pg_server: Any, project: Path, outcome: str) -> None:
    change, code, extra = OUTCOMES[outcome]
    if change is not None:
        change(project)
    result = run("check", env=any_pg_server.env(**extra), cwd=project)
    assert result.code == code, result.describe()
    name = _summary(result)["temporary_database"]
    assert name, result.describe()
    assert f"created {name}" in result.stdout
    assert not _exists(any_pg_server, name)


# -- signals at each stage ------------------------------------------------------------------


def _while_creating(server: Any, project: Path, sig: signal.Signals) -> tuple[Result, str | None]:
    with template_locked(server):
        process = start("check", env=server.env(), cwd=project)
        try:
            wait_until(
                lambda: sessions_running(server, "CREATE DATABASE") > 0,
                30,
                "CREATE DATABASE waiting for the template1 lock",
                process,
            )
            STATS.fault("lock held during CREATE DATABASE")
            process.send(sig)
            result = process.finish(30)
        finally:
            process.kill()
    # The lock is released: a CREATE DATABASE still queued on the server would go ahead now.
    wait_until(lambda: sessions_running(server, "CREATE DATABASE") == 0, 3, "no CREATE left")
    time.sleep(0.2)
    return result, _summary(result)["temporary_database"]


def _while_comparing(server: Any, project: Path, sig: signal.Signals) -> tuple[Result, str | None]:
    install_stage_hook(project)
    env = server.env(RELIABILITY_HOOK_STAGE="compare", RELIABILITY_HOOK_SQL="SELECT pg_sleep(61)")
    process = start("check", env=env, cwd=project)
    try:
        name = _created_name(process)
        wait_until(
            lambda: sessions_running(server, "pg_sleep(61)") > 0, 60, "the compare stage", process
        )
        process.send(sig)
        result = process.finish(30)
    finally:
        process.kill()
    wait_until(lambda: sessions_running(server, "pg_sleep(61)") == 0, 3, "pg_sleep cancelled")
    return result, name


@contextmanager
def _drop_blocked_by_a_lock(server: Any, project: Path) -> Iterator[tuple[Any, str | None]]:
    """A check whose final DROP DATABASE waits for a lock we hold while the body runs."""
    install_stage_hook(project)
    marker = project / "compare-started"
    env = server.env(
        RELIABILITY_HOOK_STAGE="compare",
        RELIABILITY_HOOK_MARKER=str(marker),
        RELIABILITY_HOOK_SLEEP="1.5",
    )
    process = start("check", env=env, cwd=project)
    try:
        name = _created_name(process)
        wait_until(marker.exists, 60, "the compare stage", process)
        with database_locked(server, name):
            STATS.fault("lock held during DROP DATABASE")
            wait_until(
                lambda: sessions_running(server, "DROP DATABASE") > 0,
                30,
                "DROP DATABASE waiting for the lock",
                process,
            )
            yield process, name
        process.finish(30)  # the lock is released: let the drop and the exit happen
    finally:
        process.kill()


def _while_dropping(server: Any, project: Path, sig: signal.Signals) -> tuple[Result, str | None]:
    with _drop_blocked_by_a_lock(server, project) as (process, name):
        process.send(sig)
        time.sleep(1)
    return process.finish(30), name


def _while_reporting(server: Any, project: Path, sig: signal.Signals) -> tuple[Result, str | None]:
    fifo = project / "report-fifo"
    os.mkfifo(fifo)
    process = start("check", "--output", str(fifo), env=server.env(), cwd=project)
    try:
        process.wait_for_output("  cleanup ")
        time.sleep(0.5)  # now blocked opening the FIFO for the report
        assert process.alive()
        STATS.fault("report output blocked")
        process.send(sig)
        try:
            process.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # unblock it, then report
            os.close(reader)
        result = process.finish(30)
    finally:
        process.kill()
    return result, _summary(result)["temporary_database"] if result.files else None


STAGES = {
    "creating": _while_creating,
    "comparing": _while_comparing,
    "dropping": _while_dropping,
    "reporting": _while_reporting,
}


def _stage_params() -> list[Any]:
    params = []
    for stage in STAGES:
        for sig in SIGNALS:
            params.append(pytest.param(stage, sig, id=f"{stage}-{sig.name}"))
    return params


@pytest.mark.parametrize(("stage", "sig"), _stage_params())
def test_signal_at_each_stage_drops_the_database(
    shared18: Any, project: Path, stage: str, sig: signal.Signals
) -> None:
    result, name = STAGES[stage](shared18, project, sig)
    assert not _exists(shared18, name), f"{name} is still there"
    assert temporary_databases(shared18) == []
    _assert_interrupted(result, sig, reporting=stage == "reporting")


def test_a_second_signal_does_not_abort_the_cleanup(shared18: Any, project: Path) -> None:
    """Kubernetes' SIGTERM, then an impatient Ctrl-C while the drop waits for a lock."""
    with _drop_blocked_by_a_lock(shared18, project) as (process, name):
        process.send(signal.SIGTERM)
        time.sleep(0.3)
        process.popen.send_signal(signal.SIGINT)
        STATS.fault("SIGINT")
        time.sleep(1)
    result = process.finish(30)
    assert not _exists(shared18, name)
    assert result.code in (130, 143), result.describe()
    assert result.elapsed < 5
    assert "Traceback" not in result.output, result.describe()


LONG_STATEMENTS = {
    "pg_sleep": (f'op.execute("{SLEEP_60}")', "pg_sleep(60)"),
    "create index": (SLOW_INDEX, "CREATE INDEX big_slow_key"),
}


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
@pytest.mark.parametrize("statement", list(LONG_STATEMENTS))
def test_signal_during_a_long_statement_cancels_it(
    any_pg_server: Any, project: Path, statement: str, sig: signal.Signals
) -> None:
    body, running_text = LONG_STATEMENTS[statement]
    add_migration(project, "0007", "0006", body)
    process = start("check", env=any_pg_server.env(), cwd=project)
    try:
        name = _created_name(process)
        wait_until(
            lambda: sessions_running(any_pg_server, running_text) > 0,
            60,
            f"the migration's {statement}",
            process,
        )
        time.sleep(0.3)
        process.send(sig)
        result = process.finish(30)
    finally:
        process.kill()
    _assert_interrupted(result, sig)
    assert not _exists(any_pg_server, name)
    wait_until(
        lambda: sessions_running(any_pg_server, running_text) == 0,
        2,
        f"the {statement} to be cancelled on the server",
    )


# -- SIGKILL, the sweep, and the sweep at the start of a check ------------------------------


def _connected(server: Any, name: str) -> int:
    rows = query(server, "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,))
    return int(rows[0][0])


def _killed_leftover(server: Any, project: Path) -> list[str]:
    """Start a check with a long migration, SIGKILL it, and return the databases it left: the
    one the migrations were building, and the models' one (created while they run).

    The killed run's statement would keep running on the server (and its database would count
    as alive) until it ends; client_connection_check_interval, which an operator may set too,
    ends it as soon as the server notices the client is gone.
    """
    before = set(temporary_databases(server, LOOKALIKE_DECOYS))
    scratch = project / "tmp"  # SIGKILL leaves the run's scratch directory in its TMPDIR
    scratch.mkdir(exist_ok=True)
    env = server.env(PGOPTIONS="-c client_connection_check_interval=200", TMPDIR=str(scratch))
    process = start("check", env=env, cwd=project)
    try:
        name = _created_name(process)
        wait_until(lambda: sessions_running(server, "pg_sleep(60)") > 0, 60, "migration", process)
    finally:
        kill_process(process)
    wait_until(lambda: _connected(server, name) == 0, 10, "the killed run's sessions to end")
    left = set(temporary_databases(server, LOOKALIKE_DECOYS)) - before
    assert name in left and len(left) <= 2, left
    for leftover in left:  # each marked as ours, by the same run
        comment = query(
            server,
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (leftover,),
        )[0][0]
        assert json.loads(comment)["tool"] == "drift-check"
    return sorted(left)


def test_sweep_removes_what_sigkill_left(fault_server: Any, tmp_path: Path) -> None:
    sleepy = copy_reference_app(tmp_path / "sleepy")
    add_migration(sleepy, "0007", "0006", f'op.execute("{SLEEP_60}")')
    names = _killed_leftover(fault_server, sleepy)
    env = fault_server.env()

    kept = run("sweep", "--older-than", "1h", env=env, cwd=sleepy)
    assert kept.code == 0, kept.describe()
    assert "0 leftover database(s) dropped" in kept.stdout
    assert all(_exists(fault_server, name) for name in names)

    time.sleep(2)  # leftovers are dated to the second
    other = run("sweep", "--prefix", "other", "--older-than", "1s", env=env, cwd=sleepy)
    assert other.code == 0, other.describe()
    assert all(_exists(fault_server, name) for name in names)

    dry = run("sweep", "--dry-run", "--older-than", "1s", env=env, cwd=sleepy)
    assert dry.code == 0, dry.describe()
    for name in names:
        assert f"would drop leftover database {name}" in dry.stdout
    assert f"{len(names)} leftover database(s) found" in dry.stdout
    assert all(_exists(fault_server, name) for name in names)

    swept = run("sweep", "--older-than", "1s", env=env, cwd=sleepy)
    assert swept.code == 0, swept.describe()
    for name in names:
        assert f"dropped leftover database {name}" in swept.stdout
    assert f"{len(names)} leftover database(s) dropped" in swept.stdout
    assert not any(_exists(fault_server, name) for name in names)


def test_check_sweeps_old_leftovers_first(fault_server: Any, tmp_path: Path) -> None:
    sleepy = copy_reference_app(tmp_path / "sleepy")
    add_migration(sleepy, "0007", "0006", f'op.execute("{SLEEP_60}")')
    clean = copy_reference_app(tmp_path / "clean")
    names = _killed_leftover(fault_server, sleepy)

    young = run("check", env=fault_server.env(DRIFT_ORPHAN_TTL="1h"), cwd=clean)
    assert young.code == 0, young.describe()
    assert not any(name in young.stdout for name in names)
    assert all(_exists(fault_server, name) for name in names)

    time.sleep(2)  # leftovers are dated to the second
    swept = run("check", env=fault_server.env(DRIFT_ORPHAN_TTL="1s"), cwd=clean)
    assert swept.code == 0, swept.describe()
    for name in names:
        assert f"dropped leftover database {name}" in swept.stdout
    assert not any(_exists(fault_server, name) for name in names)


def test_sweep_touches_only_old_leftovers_of_ours(fault_server: Any, project: Path) -> None:
    """The own server carries decoys named like ours without our marker, with another tool's
    marker, and with our marker but not our name; add a young one of ours and an old one."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
    young = f"drift_check_{stamp}_0a0a0a0a"
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    old = "drift_check_20010101000000_0b0b0b0b"
    query(fault_server, f'CREATE DATABASE "{young}"')
    query(
        fault_server,
        f'COMMENT ON DATABASE "{young}" IS '
        f'\'{{"tool": "drift-check", "run_id": "y", "created": "{now}"}}\'',
    )
    query(fault_server, f'CREATE DATABASE "{old}"')
    query(fault_server, f"COMMENT ON DATABASE \"{old}\" IS '{OUR_OLD_MARKER}'")
    try:
        env = fault_server.env()
        for prefix in ("drift_check", "reliability", "drift"):
            swept = run("sweep", "--prefix", prefix, "--older-than", "1h", env=env, cwd=project)
            assert swept.code == 0, swept.describe()
            expected = 1 if prefix == "drift_check" else 0
            assert f"{expected} leftover database(s) dropped" in swept.stdout, swept.stdout
        assert not _exists(fault_server, old)
        assert _exists(fault_server, young)
        for decoy in LOOKALIKE_DECOYS:
            assert _exists(fault_server, decoy)
    finally:
        for name in (young, old):
            query(fault_server, f'DROP DATABASE IF EXISTS "{name}"')

"""Throwaway servers orphaned by SIGKILL: reaped by the next sweep or check, nothing else touched.

A real ``drift-check check`` on the embedded default (no POSTGRES_HOST) is SIGKILLed while its
migration sleeps: its postgres keeps running and its directory stays. ``drift-check sweep``
(which then needs no server of its own) or the next check stops that postgres and deletes the
directory, and leaves alone every directory without our marker or whose owner is alive (such
as this suite's own servers, owned by the pytest process). Each test uses a private TMPDIR.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import servers
from projects import add_migration

from drift_job.server import find_binaries, reap_orphans
from drift_job.workdirs import OWNER_MARKER, write_owner_marker

from .reliability_support import copy_reference_app, kill_process, run, start, wait_until


@pytest.fixture
def tmpdir_env() -> Iterator[tuple[Path, dict[str, str]]]:
    """A private, short TMPDIR (socket paths are limited to 107 bytes) that the unprivileged
    account can traverse when we are root, and an environment without any server settings."""
    base = Path(tempfile.mkdtemp(prefix="dc-reap-", dir="/tmp"))
    base.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "PG", "DRIFT_"))}
    env.update(TMPDIR=str(base), NO_COLOR="1")
    try:
        yield base, env
    finally:
        reap_orphans(lambda message: None, tempdir=base)  # after a failure: still our orphans
        shutil.rmtree(base, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _orphan(base: Path, env: dict[str, str], project: Path) -> tuple[Path, int]:
    """SIGKILL an embedded check mid-migration; its server directory and postmaster pid."""
    add_migration(project, "0007", "0006", 'op.execute("SELECT pg_sleep(60)")')
    check = start("check", env=env, cwd=project)
    try:
        check.wait_for_output(" created ")
        (workdir,) = base.glob("drift-check-pg-*")
        owner = json.loads((workdir / OWNER_MARKER).read_text())
        assert owner["pid"] == check.pid

        def migrating() -> bool:
            conn = psycopg2.connect(
                host=str(workdir / "socket"), user="postgres", dbname="postgres"
            )
            try:
                with conn.cursor() as cur:
                    cur.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%%'"
                    )
                    row = cur.fetchone()
                    return bool(row and row[0])
            finally:
                conn.close()

        wait_until(migrating, 60, "the migration", check)
    finally:
        kill_process(check)
    postmaster = int((workdir / "data" / "postmaster.pid").read_text().split()[0])
    assert _alive(postmaster), "the killed run's postgres is not running"
    assert workdir.is_dir()
    return workdir, postmaster


def _decoys(base: Path) -> list[Path]:
    """Directories the reaper must never touch."""
    unmarked = base / "drift-check-pg-unmarked"
    unmarked.mkdir()
    (unmarked / "data").mkdir()
    alive = base / "drift-check-pg-alive"
    alive.mkdir()
    write_owner_marker(alive, find_binaries({"PATH": ""}).bindir)  # owned by pytest, alive
    elsewhere = base / "drift-check-pg-elsewhere"
    elsewhere.mkdir()
    write_owner_marker(elsewhere, Path("/nonexistent"))
    marker = json.loads((elsewhere / OWNER_MARKER).read_text())
    marker.update(pid=2**22 + 1, pid_namespace="pid:[1]")  # another container's pids
    (elsewhere / OWNER_MARKER).write_text(json.dumps(marker))
    return [unmarked, alive, elsewhere]


@pytest.mark.parametrize("reaper", ["sweep", "check"])
def test_an_orphaned_throwaway_server_is_reaped(
    tmpdir_env: tuple[Path, dict[str, str]], tmp_path: Path, reaper: str
) -> None:
    base, env = tmpdir_env
    workdir, postmaster = _orphan(base, env, copy_reference_app(tmp_path / "sleepy"))
    decoys = _decoys(base)

    dry = run("sweep", "--dry-run", env=env, cwd=tmp_path / "sleepy")
    assert dry.code == 0, dry.describe()
    assert f"would stop the orphaned throwaway PostgreSQL in {workdir}" in dry.stdout
    assert "1 orphaned throwaway server(s) found" in dry.stdout
    assert _alive(postmaster) and workdir.is_dir()

    if reaper == "sweep":
        result = run("sweep", env=env, cwd=tmp_path / "sleepy")
        assert result.code == 0, result.describe()
        assert result.stdout.splitlines()[-1] == (
            "1 orphaned throwaway server(s) reaped; no database server to sweep "
            "(POSTGRES_HOST not set)"
        ), result.describe()
    else:
        result = run("check", env=env, cwd=copy_reference_app(tmp_path / "clean"))
        assert result.code == 0, result.describe()
    assert (
        f"stopped the orphaned throwaway PostgreSQL (pid {postmaster}) and removed {workdir}"
        in (result.stdout)
    ), result.describe()
    assert not _alive(postmaster)
    assert not workdir.exists()
    assert all(decoy.is_dir() for decoy in decoys)
    # The reaping check cleaned up after itself. (The killed run's empty drift-check-home-*
    # scratch directory is not a server's and stays: it has no owner marker.)
    servers_left = sorted(base.glob("drift-check-pg-*"))
    assert servers_left == sorted(decoys)


def test_a_reused_pid_is_not_the_owner(tmpdir_env: tuple[Path, dict[str, str]]) -> None:
    """Our own pid, but a different start time: the process that wrote it is gone."""
    base, _ = tmpdir_env
    stale = base / "drift-check-pg-stale"
    stale.mkdir()
    write_owner_marker(stale, Path("/nonexistent"))
    marker = json.loads((stale / OWNER_MARKER).read_text())
    marker["start_time"] = "1"
    (stale / OWNER_MARKER).write_text(json.dumps(marker))
    messages: list[str] = []
    assert reap_orphans(messages.append, tempdir=base) == 1
    assert not stale.exists()
    assert messages == [f"removed {stale} (its drift-check process {os.getpid()} is gone)"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a marker to another account")
def test_another_accounts_directory_is_left_alone(tmpdir_env: tuple[Path, dict[str, str]]) -> None:
    base, _ = tmpdir_env
    foreign = base / "drift-check-pg-foreign"
    foreign.mkdir()
    write_owner_marker(foreign, Path("/nonexistent"))
    marker = json.loads((foreign / OWNER_MARKER).read_text())
    marker["start_time"] = "1"  # its owner is gone, but the marker was not written by us
    (foreign / OWNER_MARKER).write_text(json.dumps(marker))
    os.chown(foreign / OWNER_MARKER, 65534, 65534)
    assert reap_orphans(lambda message: None, tempdir=base) == 0
    assert foreign.is_dir()


def test_the_suites_own_servers_are_never_orphans() -> None:
    """They live in the real temporary directory and belong to this (live) pytest process."""
    started: dict[int, Any] = servers.STARTED
    workdirs = [s.server.workdir for s in started.values() if s.server.workdir is not None]
    assert workdirs
    would: list[str] = []
    reap_orphans(would.append, dry_run=True)
    assert not [line for line in would if any(str(w) in line for w in workdirs)]

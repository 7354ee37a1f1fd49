"""The sweep drops only what is safe to drop, on PostgreSQL 15 and 18.

- never the database of a run that is still alive: its liveness session (named after the
  run, seen even by a role without any privilege) or any session connected to the database
  keeps it, even with ``--older-than 0`` while a real check is migrating;
- only databases the role may drop: ``--dry-run`` lists exactly what the sweep then drops,
  another role's leftovers are named once by ``sweep`` and never by a check;
- a leftover the server refuses to drop is one line, and the sweep exits 3.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import servers
from projects import add_migration

from drift_job.database import ServerAddress
from drift_job.leftovers import liveness_session

from .reliability_support import query, run, sessions_running, start, wait_until

SELF = "sweep_self"
OTHER = "sweep_other"
OLD = "2001-01-01T00:00:00Z"


@pytest.fixture
def roles(any_pg_server: Any, password: str) -> Iterator[Any]:
    """Two roles with CREATEDB and nothing else (no superuser, no pg_read_all_stats)."""
    for role in (SELF, OTHER):
        query(
            any_pg_server, f"CREATE ROLE {role} LOGIN CREATEDB NOSUPERUSER PASSWORD %s", (password,)
        )
    yield any_pg_server
    for role in (SELF, OTHER):
        query(any_pg_server, f"DROP ROLE {role}")


def _leftover(server: Any, name: str, *, role: str, run_id: str = "0123456789ab") -> str:
    """A database exactly as a killed run of ``role`` leaves it: our name, our old marker."""
    conn = server.connect(user=role)
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
            marker = f'{{"tool": "drift-check", "run_id": "{run_id}", "created": "{OLD}"}}'
            cur.execute(f"COMMENT ON DATABASE \"{name}\" IS '{marker}'")
    finally:
        conn.close()
    return name


def _exists(server: Any, name: str) -> bool:
    return bool(query(server, "SELECT 1 FROM pg_database WHERE datname = %s", (name,)))


def _sweep(server: Any, project: Path, *args: str, role: str = SELF) -> Any:
    return run("sweep", *args, env=server.env(POSTGRES_USER=role), cwd=project)


def _superuser_address(server: Any) -> ServerAddress:
    return ServerAddress(server.host, server.port, "postgres", servers.PASSWORD, None, "postgres")


# -- live runs ------------------------------------------------------------------------------


def test_sweep_older_than_0_leaves_a_migrating_check_alone(
    any_pg_server: Any, project: Path
) -> None:
    add_migration(project, "0007", "0006", 'op.execute("SELECT pg_sleep(8)")')
    check = start("check", env=any_pg_server.env(), cwd=project)
    try:
        check.wait_for_output(" created ")
        line = next(line for line in check.stdout_so_far.splitlines() if " created " in line)
        name = line.split(" created ", 1)[1].split()[0]
        wait_until(lambda: sessions_running(any_pg_server, "pg_sleep(8)"), 60, "migration", check)
        swept = run("sweep", "--older-than", "0", env=any_pg_server.env(), cwd=project)
        assert swept.code == 0, swept.describe()
        assert f"skipped {name}: its run is still alive" in swept.stdout, swept.describe()
        assert "0 leftover database(s) dropped" in swept.stdout
        assert _exists(any_pg_server, name)
        result = check.finish(60)
    finally:
        check.kill()
    assert result.code == 0, result.describe()
    assert "went away" not in result.output
    assert f"dropped {name}" in result.stdout
    assert not _exists(any_pg_server, name)


def test_the_liveness_session_keeps_the_database(roles: Any, project: Path) -> None:
    """Held by another role (the superuser): a plain CREATEDB role still sees it."""
    name = _leftover(roles, "drift_check_20010101000000_1a1a1a1a", role=SELF, run_id="a1b2c3d4e5f6")
    with closing(liveness_session(_superuser_address(roles), "a1b2c3d4e5f6", timeout=5)):
        for older_than in ("0", "1s"):
            kept = _sweep(roles, project, "--older-than", older_than)
            assert kept.code == 0, kept.describe()
            assert f"skipped {name}: its run is still alive\n" in kept.stdout, kept.describe()
            assert _exists(roles, name)
        dry = _sweep(roles, project, "--dry-run", "--older-than", "0")
        assert "would drop" not in dry.stdout, dry.describe()
    swept = _sweep(roles, project, "--older-than", "0")
    assert swept.code == 0, swept.describe()
    assert f"dropped leftover database {name}" in swept.stdout
    assert not _exists(roles, name)


def test_a_session_in_the_database_keeps_it(roles: Any, project: Path) -> None:
    name = _leftover(roles, "drift_check_20010101000000_2b2b2b2b", role=SELF)
    inside = roles.connect(name)  # the superuser's: invisible in detail to the role
    try:
        kept = _sweep(roles, project, "--older-than", "0")
        assert kept.code == 0, kept.describe()
        expected = f"skipped {name}: its run is still alive (1 session(s) connected to it)"
        assert expected in kept.stdout, kept.describe()
        assert _exists(roles, name)
    finally:
        inside.close()
    wait_until(
        lambda: not query(roles, "SELECT 1 FROM pg_stat_activity WHERE datname = %s", (name,)),
        5,
        "disconnect",
    )
    swept = _sweep(roles, project, "--older-than", "0")
    assert f"dropped leftover database {name}" in swept.stdout, swept.describe()
    assert not _exists(roles, name)


# -- whose databases ------------------------------------------------------------------------


def _named(output: str, verb: str) -> set[str]:
    return set(re.findall(rf"{verb} leftover database (\S+)", output))


def test_only_our_roles_leftovers_and_dry_run_tells_the_truth(roles: Any, project: Path) -> None:
    mine = _leftover(roles, "drift_check_20010101000000_3c3c3c3c", role=SELF)
    theirs = _leftover(roles, "drift_check_20010101000000_4d4d4d4d", role=OTHER)
    try:
        dry = _sweep(roles, project, "--dry-run", "--older-than", "1h")
        assert dry.code == 0, dry.describe()
        assert _named(dry.stdout, "would drop") == {mine}
        assert dry.stdout.count(theirs) == 1
        assert f"left alone: {theirs} is owned by role {OTHER}" in dry.stdout
        assert "1 leftover database(s) found" in dry.stdout

        check = run("check", env=roles.env(POSTGRES_USER=SELF, DRIFT_ORPHAN_TTL="1s"), cwd=project)
        assert check.code == 0, check.describe()
        assert theirs not in check.output, check.describe()  # no complaint on every check
        assert f"dropped leftover database {mine}" in check.stdout

        swept = _sweep(roles, project, "--older-than", "1h")
        assert swept.code == 0, swept.describe()
        assert _named(swept.stdout, "dropped") == set()
        assert swept.stdout.count(theirs) == 1
        assert f"left alone: {theirs} is owned by role {OTHER}" in swept.stdout
        assert "cannot drop" not in swept.stdout
        assert _exists(roles, theirs)

        # A role acting for the owner (a member, inheriting its privileges) may drop it.
        query(roles, f"GRANT {OTHER} TO {SELF}")
        dry = _sweep(roles, project, "--dry-run", "--older-than", "1h")
        swept = _sweep(roles, project, "--older-than", "1h")
        assert _named(dry.stdout, "would drop") == _named(swept.stdout, "dropped") == {theirs}
        assert not _exists(roles, theirs)
    finally:
        query(roles, f'DROP DATABASE IF EXISTS "{theirs}"')


def test_a_leftover_the_server_refuses_to_drop_is_one_line(roles: Any, project: Path) -> None:
    stuck = _leftover(roles, "drift_check_20010101000000_5e5e5e5e", role=SELF)
    other = _leftover(roles, "drift_check_20010101000000_6f6f6f6f", role=SELF)
    query(roles, f'ALTER DATABASE "{stuck}" IS_TEMPLATE true')
    try:
        swept = _sweep(roles, project, "--older-than", "1h")
        assert swept.code == 3, swept.describe()
        assert f"cannot drop leftover database {stuck}: cannot drop a template database\n" in (
            swept.stdout
        ), swept.describe()
        assert f"dropped leftover database {other}" in swept.stdout  # the sweep went on
        assert "1 leftover database(s) dropped, 1 could not be dropped" in swept.stdout
        assert swept.stderr_lines == [f"drift-check: could not drop {stuck} (see above)"]
        assert "Traceback" not in swept.output
    finally:
        query(roles, f'ALTER DATABASE "{stuck}" IS_TEMPLATE false')
        query(roles, f'DROP DATABASE IF EXISTS "{stuck}"')


def test_older_than_0_is_accepted_and_a_negative_age_is_not(pg_server: Any, project: Path) -> None:
    for zero in ("0", "0s", "0.0h"):
        result = run("sweep", "--dry-run", "--older-than", zero, env=pg_server.env(), cwd=project)
        assert result.code == 0, result.describe()
    bad = run("sweep", "--older-than", "-1", env=pg_server.env(), cwd=project)
    assert bad.code == 2, bad.describe()
    assert bad.stderr_lines == [
        "drift-check: --older-than: '-1' is not a duration (e.g. 0, 90s, 15m, 6h, 1d)"
    ]

"""Least privilege, on PostgreSQL 15 and 18: CREATEDB and nothing else is enough (including
for the emergency cleanup after SIGTERM); without CREATEDB the run stops before creating
anything and says why. The roles use the same hostile password as the superuser, so every
run here is also scanned for it."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from projects import MODELS, add_migration, patch

from .reliability_support import (
    OUR_OLD_MARKER,
    query,
    run,
    sessions_running,
    start,
    wait_until,
)

CHECKER = "rel_checker"
NOCREATE = "rel_nocreate"
AUTHOR_BIO = "    bio: str | None = Field(default=None, sa_column=Column(Text, nullable=True))\n"
NEW_COLUMN = (
    "    nickname: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))\n"
)


@pytest.fixture
def roles(any_pg_server: Any, password: str) -> Iterator[Any]:
    for role, createdb in ((CHECKER, "CREATEDB"), (NOCREATE, "NOCREATEDB")):
        query(
            any_pg_server,
            f"CREATE ROLE {role} LOGIN {createdb} NOSUPERUSER NOCREATEROLE NOREPLICATION "
            "NOBYPASSRLS PASSWORD %s",
            (password,),
        )
    yield any_pg_server
    for role in (CHECKER, NOCREATE):
        query(any_pg_server, f"DROP ROLE {role}")


def _as(server: Any, role: str, **extra: str) -> dict[str, str]:
    env: dict[str, str] = server.env(POSTGRES_USER=role, **extra)
    return env


def _creates_in_log(server: Any, since: int, prefix: str) -> list[str]:
    log = (server.server.workdir / "server.log").read_bytes()[since:].decode(errors="replace")
    return re.findall(rf'CREATE DATABASE "({prefix}_\w+)"', log)


def _log_size(server: Any) -> int:
    return int((server.server.workdir / "server.log").stat().st_size)


def test_the_role_has_createdb_and_nothing_else(roles: Any) -> None:
    rows = query(
        roles,
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, "
        "(SELECT count(*) FROM pg_auth_members WHERE member = r.oid), "
        "(SELECT count(*) FROM pg_database WHERE datdba = r.oid) "
        "FROM pg_roles r WHERE rolname = %s",
        (CHECKER,),
    )
    assert rows == [(False, False, True, False, False, 0, 0)]


def test_createdb_only_role_checks_clean_and_drift(roles: Any, project: Path) -> None:
    env = _as(roles, CHECKER)
    connection = run("config", "--check-connection", env=env, cwd=project)
    assert connection.code == 0, connection.describe()
    assert "role may create databases" in connection.stdout
    clean = run("check", env=env, cwd=project)
    assert clean.code == 0, clean.describe()
    patch(project, MODELS, AUTHOR_BIO, AUTHOR_BIO + NEW_COLUMN)
    drift = run("check", env=env, cwd=project)
    assert drift.code == 1, drift.describe()
    assert "authors.nickname" in drift.stdout


def test_createdb_only_role_cleans_up_after_sigterm(roles: Any, project: Path) -> None:
    add_migration(project, "0007", "0006", 'op.execute("SELECT pg_sleep(60)")')
    process = start("check", env=_as(roles, CHECKER), cwd=project)
    try:
        wait_until(lambda: sessions_running(roles, "pg_sleep(60)"), 60, "migration", process)
        process.send(signal.SIGTERM)
        result = process.finish(30)
    finally:
        process.kill()
    assert result.code == 143, result.describe()
    assert result.elapsed < 5
    assert roles.temporary_databases() == []
    wait_until(lambda: sessions_running(roles, "pg_sleep(60)") == 0, 2, "statement cancelled")


def test_cleanup_after_sigterm_passes_a_session_it_may_not_end(roles: Any, project: Path) -> None:
    """A session under the run's application name that a role without superuser may not
    end (here a superuser's; in the wild one that is exiting): cleanup ends the others and
    drops the databases, instead of failing on the first it cannot end."""
    add_migration(project, "0007", "0006", 'op.execute("SELECT pg_sleep(60)")')
    process = start("check", env=_as(roles, CHECKER), cwd=project)
    try:
        wait_until(lambda: sessions_running(roles, "pg_sleep(60)"), 60, "migration", process)
        (name,) = {
            str(row[0])
            for row in query(
                roles,
                "SELECT application_name FROM pg_stat_activity WHERE usename = %s "
                "AND application_name LIKE 'drift-check %%'",
                (CHECKER,),
            )
        }
        with closing(roles.connect(application_name=name)):
            process.send(signal.SIGTERM)
            result = process.finish(30)
    finally:
        process.kill()
    assert result.code == 143, result.describe()
    assert "Traceback" not in result.output and "unexpected" not in result.stderr
    assert roles.temporary_databases() == []


def test_createdb_only_role_sweeps_its_own_leftovers(roles: Any, project: Path) -> None:
    """A killed run of this role leaves a database this role owns: the sweep may drop it."""
    name = "drift_check_20020202000000_0c0c0c0c"
    conn = roles.connect(user=CHECKER)
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
            cur.execute(f"COMMENT ON DATABASE \"{name}\" IS '{OUR_OLD_MARKER}'")
    finally:
        conn.close()
    swept = run("sweep", "--older-than", "1h", env=_as(roles, CHECKER), cwd=project)
    assert swept.code == 0, swept.describe()
    assert f"dropped leftover database {name}" in swept.stdout
    assert roles.temporary_databases() == []


def test_another_roles_leftover_does_not_block_a_check(roles: Any, project: Path) -> None:
    name = "drift_check_20030303000000_0d0d0d0d"
    query(roles, f'CREATE DATABASE "{name}"')
    query(roles, f"COMMENT ON DATABASE \"{name}\" IS '{OUR_OLD_MARKER}'")
    try:
        result = run("check", env=_as(roles, CHECKER), cwd=project)
        assert result.code == 0, result.describe()
    finally:
        query(roles, f'DROP DATABASE IF EXISTS "{name}"')


def test_without_createdb_exit_2_and_nothing_created(roles: Any, project: Path) -> None:
    env = _as(roles, NOCREATE, DRIFT_DB_PREFIX="nocreate")
    since = _log_size(roles)
    result = run("check", env=env, cwd=project)
    assert result.code == 2, result.describe()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.describe()
    assert f"role {NOCREATE} lacks the CREATEDB privilege" in lines[0]
    assert f"ALTER ROLE {NOCREATE} CREATEDB" in lines[0]
    connection = run("config", "--check-connection", env=env, cwd=project)
    assert connection.code == 2, connection.describe()
    assert "CREATEDB" in connection.stderr
    assert _creates_in_log(roles, since, "nocreate") == []
    assert roles.temporary_databases() == []

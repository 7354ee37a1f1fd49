"""Sweeping leftovers, least privilege, `config`, the library API and secrets."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from projects import add_migration
from servers import PostgresServer, drift_check

from drift_job.runner import run_check
from drift_job.settings import load_settings

OLD_MARKED = "drift_check_20200101000000_0badc0de"
UNMARKED = "drift_check_20200101000000_00000000"
YOUNG_MARKED = "drift_check_20990101000000_feedf00d"
FOREIGN_MARKER = "drift_check_20200101000000_12345678"


@pytest.fixture
def leftovers(pg_server: PostgresServer) -> Iterator[None]:
    """Databases shaped like leftovers; only the first is old, ours, and droppable."""
    specs = {
        OLD_MARKED: '{"tool": "drift-check", "run_id": "x", "created": "2020-01-01T00:00:00Z"}',
        UNMARKED: None,
        YOUNG_MARKED: '{"tool": "drift-check", "run_id": "y", "created": "2099-01-01T00:00:00Z"}',
        FOREIGN_MARKER: '{"tool": "something-else", "created": "2020-01-01T00:00:00Z"}',
    }
    for name, comment in specs.items():
        pg_server.query(f'CREATE DATABASE "{name}"')
        if comment:
            pg_server.query(f"COMMENT ON DATABASE \"{name}\" IS '{comment}'")
    yield
    for name in specs:
        pg_server.query(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.mark.usefixtures("leftovers")
def test_sweep_drops_only_old_marked_databases(pg_server: PostgresServer, project: Path) -> None:
    dry = drift_check("sweep", "--dry-run", env=pg_server.env(), cwd=project)
    assert dry.code == 0, dry.output
    assert f"would drop leftover database {OLD_MARKED}" in dry.stdout
    assert OLD_MARKED in pg_server.databases()
    run = drift_check("sweep", "--older-than", "1h", env=pg_server.env(), cwd=project)
    assert run.code == 0, run.output
    assert f"dropped leftover database {OLD_MARKED}" in run.stdout
    assert "1 leftover database(s) dropped" in run.stdout
    assert pg_server.databases() == sorted([UNMARKED, YOUNG_MARKED, FOREIGN_MARKER])


@pytest.mark.usefixtures("leftovers")
def test_check_sweeps_old_leftovers_first(pg_server: PostgresServer, project: Path) -> None:
    run = drift_check("check", env=pg_server.env(), cwd=project)
    assert run.code == 0, run.output
    assert f"dropped leftover database {OLD_MARKED}" in run.stdout
    assert OLD_MARKED not in pg_server.databases()


@pytest.fixture
def roles(pg_server: PostgresServer) -> Iterator[None]:
    pg_server.query("CREATE ROLE checker LOGIN CREATEDB PASSWORD 'checker-pw'")
    pg_server.query("CREATE ROLE nocreate LOGIN PASSWORD 'nocreate-pw'")
    yield
    pg_server.query("DROP ROLE checker")
    pg_server.query("DROP ROLE nocreate")


@pytest.mark.usefixtures("roles")
def test_a_role_with_only_createdb_is_enough(pg_server: PostgresServer, project: Path) -> None:
    env = pg_server.env(POSTGRES_USER="checker", POSTGRES_PASSWORD="checker-pw")
    run = drift_check("check", env=env, cwd=project)
    assert run.code == 0, run.output
    assert drift_check("config", "--check-connection", env=env, cwd=project).code == 0


@pytest.mark.usefixtures("roles")
def test_a_role_without_createdb_is_told_so(pg_server: PostgresServer, project: Path) -> None:
    env = pg_server.env(POSTGRES_USER="nocreate", POSTGRES_PASSWORD="nocreate-pw")
    run = drift_check("check", env=env, cwd=project)
    assert run.code == 2, run.output
    assert "lacks the CREATEDB privilege" in run.stderr
    run = drift_check("config", "--check-connection", env=env, cwd=project)
    assert run.code == 2
    assert "CREATEDB" in run.stderr


def test_config_prints_settings_with_the_password_redacted(
    pg_server: PostgresServer, project: Path
) -> None:
    run = drift_check("config", "--check-connection", env=pg_server.env(), cwd=project)
    assert run.code == 0, run.output
    assert f"POSTGRES_PORT={pg_server.port}" in run.stdout
    assert "POSTGRES_PASSWORD=***" in run.stdout
    assert "role may create databases" in run.stdout
    assert pg_server.password not in run.output


def test_library_api_returns_the_result(pg_server: PostgresServer, project: Path) -> None:
    stages: list[str] = []
    settings = load_settings({}, pg_server.env(), cwd=project)
    result = run_check(settings, progress=lambda stage, seconds, note: stages.append(stage))
    assert result.exit_code == 0, result.message
    assert result.status == "clean"
    assert stages == [
        "settings",
        "revisions",
        "database",
        "migrate",
        "compare",
        "catalog",
        "cleanup",
    ]
    assert json.loads(json.dumps(result.as_dict()))["alembic_head"] == "0006"


def test_password_never_in_arguments_or_reports(
    pg_server: PostgresServer, project: Path, tmp_path: Path
) -> None:
    add_migration(
        project,
        "0007",
        "0006",
        'op.execute("SELECT pg_sleep(2)")\nraise RuntimeError("after sleeping")',
    )
    report = tmp_path / "report.json"
    summary = tmp_path / "summary.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "drift_job",
            "check",
            "--debug",
            "--format",
            "json",
            "--output",
            str(report),
        ],
        env=pg_server.env(DRIFT_SUMMARY_FILE=str(summary)),
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)
    cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode(errors="replace")
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 4, stdout + stderr
    for text in (cmdline, stdout, stderr, report.read_text(), summary.read_text()):
        assert pg_server.password not in text
    assert "after sleeping" in report.read_text()

"""The command line's side of settings: new flags, `config` output and its pipe, and reports in
the requested format when the settings themselves are wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
from servers import PostgresServer, drift_check


def _clean_env(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "PG", "DRIFT_"))}
    env.update(changes)
    return env


def _config(run_stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in run_stdout.splitlines() if "=" in line)


def test_config_shows_new_flags_and_their_source(project: Path) -> None:
    env_file = project / "dev.env"
    env_file.write_text("POSTGRES_HOST=db\nPOSTGRES_USER=u\nPOSTGRES_DB=test_db\n")
    run = drift_check(
        "config",
        "--env-file",
        str(env_file),
        "--maintenance-db",
        "template1",
        "--python",
        sys.executable,
        "-n",
        "other",
        env=_clean_env(DRIFT_WORKER_MEMORY="512M", DRIFT_ALEMBIC_X="a=1;b=2"),
        cwd=project,
    )
    assert run.code == 0, run.output
    shown = _config(run.stdout)
    assert shown["DRIFT_ENV_FILE"] == f"{env_file}  [flag]"
    assert shown["DRIFT_MAINTENANCE_DB"] == "template1  [flag]"
    assert shown["DRIFT_PYTHON"] == f"{os.path.abspath(sys.executable)}  [flag]"
    assert shown["DRIFT_ALEMBIC_NAME"] == "other  [flag]"
    assert shown["DRIFT_WORKER_MEMORY"] == "536870912 bytes (512 MiB)  [environment]"
    assert shown["DRIFT_ALEMBIC_X"] == "a=1; b=2  [environment]"
    assert shown["POSTGRES_DB"] == "test_db  [env file]"
    assert shown["DRIFT_SERVER"] == "configured (db)  [default]"


def test_check_accepts_verbose_and_x_arguments(pg_server: PostgresServer, project: Path) -> None:
    """-v and -x parse on `check` (and show in `config` via their variables)."""
    run = drift_check("check", "-v", "-x", "tenant=a", "-x", "b", env=pg_server.env(), cwd=project)
    assert run.code == 0, run.output


def test_config_output_is_not_redacted_by_substring(
    pg_server: PostgresServer, project: Path
) -> None:
    env = pg_server.env(POSTGRES_PASSWORD="postgres")  # the same as the user name
    run = drift_check("config", env=env, cwd=project)
    assert run.code == 0, run.output
    shown = _config(run.stdout)
    assert shown["POSTGRES_USER"] == "postgres  [environment]"
    assert shown["POSTGRES_PASSWORD"] == "***  [environment]"


def test_config_into_a_closed_pipe_exits_0_without_a_traceback(project: Path) -> None:
    """`drift-check config | head -1`: the reader has gone before the output is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "drift_job", "config"],
            env=_clean_env(),
            cwd=project,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""


def test_config_piped_into_head(project: Path) -> None:
    completed = subprocess.run(
        f"{sys.executable} -m drift_job config | head -1",
        shell=True,
        env=_clean_env(),
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0
    assert completed.stdout.startswith("POSTGRES_HOST=")
    assert "Traceback" not in completed.stderr
    assert "BrokenPipeError" not in completed.stderr


def _assert_one_line(stderr: str, expected: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("drift-check: ") and expected in lines[0], lines[0]


def test_settings_errors_are_reported_as_json(project: Path) -> None:
    run = drift_check("check", "--format", "json", env=_clean_env(POSTGRES_USER="u"), cwd=project)
    assert run.code == 2
    report = json.loads(run.stdout)
    assert (report["status"], report["exit_code"]) == ("error", 2)
    assert report["message"].startswith("POSTGRES_HOST: not set, but POSTGRES_USER is")
    _assert_one_line(run.stderr, "POSTGRES_HOST: not set")


def test_settings_errors_are_reported_as_junit(project: Path) -> None:
    run = drift_check("check", env=_clean_env(DRIFT_FORMAT="junit", DRIFT_TIMEOUT="x"), cwd=project)
    assert run.code == 2
    suite = ElementTree.fromstring(run.stdout)
    assert suite.get("errors") == "1"
    error = suite.find("testcase/error")
    assert error is not None and "DRIFT_TIMEOUT" in str(error.get("message"))
    _assert_one_line(run.stderr, "DRIFT_TIMEOUT")


def test_settings_errors_are_reported_as_markdown_into_the_output_file(project: Path) -> None:
    env = _clean_env(DRIFT_OUTPUT="report.md", DRIFT_WORKER_MEMORY="1M")
    run = drift_check("check", "--format", "markdown", env=env, cwd=project)
    assert run.code == 2
    assert run.stdout == ""
    report = (project / "report.md").read_text()
    assert report.startswith("### drift-check") and "DRIFT_WORKER_MEMORY" in report
    _assert_one_line(run.stderr, "DRIFT_WORKER_MEMORY")


def test_an_invalid_format_or_output_gives_just_the_line(project: Path) -> None:
    run = drift_check("check", "--format", "yaml", env=_clean_env(), cwd=project)
    assert (run.code, run.stdout) == (2, "")
    _assert_one_line(run.stderr, "DRIFT_FORMAT")
    run = drift_check(
        "check",
        "--format",
        "json",
        "--output",
        "/nonexistent-dir/r.json",
        env=_clean_env(),
        cwd=project,
    )
    assert (run.code, run.stdout) == (2, "")
    _assert_one_line(run.stderr, "DRIFT_OUTPUT")


def test_env_file_from_dev_zero_fails_at_once(project: Path) -> None:
    run = drift_check("check", "--env-file", "/dev/zero", env=_clean_env(), cwd=project, timeout=30)
    assert run.code == 2
    _assert_one_line(run.stderr, "env file /dev/zero: is not a regular file (a character device)")


def test_a_control_character_in_a_flag_names_the_key(project: Path) -> None:
    run = drift_check("config", "--host", "db\x1b]0;x\x07", env=_clean_env(), cwd=project)
    assert run.code == 2
    _assert_one_line(run.stderr, "POSTGRES_HOST: contains a control character (U+001B)")


@pytest.mark.parametrize("maintenance", [None, "postgres"])
def test_postgres_db_is_the_app_database_and_the_check_still_runs(
    pg_server: PostgresServer, project: Path, maintenance: str | None
) -> None:
    """POSTGRES_DB names a database that does not exist: it is not connected to."""
    env = pg_server.env(POSTGRES_DB="test_db_that_does_not_exist")
    if maintenance:
        env["DRIFT_MAINTENANCE_DB"] = maintenance
    run = drift_check("check", env=env, cwd=project)
    assert run.code == 0, run.output


def test_a_missing_maintenance_database_is_named(pg_server: PostgresServer, project: Path) -> None:
    run = drift_check("check", env=pg_server.env(DRIFT_MAINTENANCE_DB="no_such_db"), cwd=project)
    assert run.code == 2, run.output
    _assert_one_line(run.stderr, "no_such_db")


def test_config_takes_the_check_command_line(tmp_path: Path) -> None:
    """Changing only the command from ``check`` to ``config`` shows what the check would use."""
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    args = ["--set-env", "DATABASE_URL={url}", "--driver", "psycopg", "-x", "tenant=acme",
            "--url-env", "APP_URL", "--format", "json", "--timeout", "5m"]  # fmt: skip
    run = drift_check("config", *args, env={"PATH": os.environ["PATH"]}, cwd=tmp_path)
    assert run.code == 0, run.output
    for line in ("DRIFT_SET_ENV=DATABASE_URL={url}  [flag]", "DRIFT_DRIVER=psycopg  [flag]",
                 "DRIFT_ALEMBIC_X=tenant=acme  [flag]", "DRIFT_URL_ENV=APP_URL  [flag]",
                 "DRIFT_FORMAT=json  [flag]", "DRIFT_TIMEOUT=300s  [flag]"):  # fmt: skip
        assert line in run.stdout, run.stdout


def test_config_shows_the_review_settings_and_their_source(project: Path) -> None:
    run = drift_check(
        "config", "--base-ref", "origin/main", "--lint", "--heads", "all",
        env=_clean_env(DRIFT_HEADS="one"), cwd=project,
    )  # fmt: skip
    assert run.code == 0, run.output
    shown = _config(run.stdout)
    assert shown["DRIFT_BASE_REF"] == "origin/main  [flag]"
    assert shown["DRIFT_BASE_REVISION"] == "(none)  [default]"
    assert shown["DRIFT_LINT"] == "warn  [flag]"
    assert shown["DRIFT_HEADS"] == "all  [flag]"
    from_env = drift_check(
        "config", env=_clean_env(DRIFT_LINT="error", DRIFT_BASE_REVISION="0005"), cwd=project
    )
    shown = _config(from_env.stdout)
    assert shown["DRIFT_LINT"] == "error  [environment]"
    assert shown["DRIFT_BASE_REVISION"] == "0005  [environment]"


def test_bad_review_settings_are_one_line_and_exit_2(project: Path) -> None:
    run = drift_check(
        "check", "--lint=strict", "--heads", "some", "--base-ref=--output=x",
        env=_clean_env(DRIFT_BASE_REF="main", DRIFT_BASE_REVISION="0005"), cwd=project,
    )  # fmt: skip
    assert run.code == 2, run.output
    [line] = run.stderr.strip().splitlines()
    assert "DRIFT_LINT: 'strict' is not one of off, warn, error" in line
    assert "DRIFT_HEADS: 'some' is not one of one, all" in line
    assert "DRIFT_BASE_REVISION and DRIFT_BASE_REF: set one of them, not both" in line
    assert "DRIFT_BASE_REF: '--output=x' is not a git ref name" in line

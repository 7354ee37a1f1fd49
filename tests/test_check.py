"""The check end to end: real servers (PostgreSQL 15 and 18), the real command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from projects import MODELS, add_migration, mini_project, patch, report
from servers import PASSWORD, REPO_ROOT, PostgresServer, drift_check

from drift_job.server import free_tcp_port

AUTHOR_FIELDS = "    bio: str | None = Field(default=None, sa_column=Column(Text, nullable=True))\n"
NEW_MODEL = """

class Coupon(SQLModel, table=True):
    __tablename__ = "coupons"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    code: str = Field(sa_column=Column(String(32), nullable=False))
"""


def test_clean_reference_app(any_pg_server: PostgresServer, project: Path) -> None:
    run = drift_check("check", "--format", "json", env=any_pg_server.env(), cwd=project)
    assert run.code == 0, run.output
    data = report(run.stdout)
    assert data["status"] == "clean"
    assert data["exit_code"] == 0
    assert data["differences"] == []
    assert data["alembic_head"] == "0006"
    assert str(data["temporary_database"]).startswith("drift_check_")
    assert set(data["timings"]) >= {"settings", "database", "migrate", "compare", "cleanup"}  # type: ignore[arg-type]
    assert data["tool_version"]


def _add_table(project: Path) -> None:
    (project / MODELS).write_text((project / MODELS).read_text() + NEW_MODEL)


def _remove_table(project: Path) -> None:
    add_migration(
        project,
        "0007",
        "0006",
        'op.create_table("legacy_notes", sa.Column("id", sa.Integer, primary_key=True))',
    )


def _add_fk(project: Path) -> None:
    add_migration(
        project,
        "0007",
        "0006",
        'op.add_column("reviews", sa.Column("order_id", sa.Integer, nullable=True))',
    )
    patch(
        project,
        MODELS,
        "    rating: int = Field(sa_column=Column(SmallInteger, nullable=False))\n",
        "    rating: int = Field(sa_column=Column(SmallInteger, nullable=False))\n"
        "    order_id: int | None = Field(default=None, sa_column=Column(Integer, "
        'ForeignKey("orders.id", name="fk_reviews_order_id"), nullable=True))\n',
    )


DRIFTS = {
    "table added": (_add_table, "add_table", "coupons", None),
    "table removed": (_remove_table, "remove_table", "legacy_notes", None),
    "column added": (
        lambda p: patch(
            p,
            MODELS,
            AUTHOR_FIELDS,
            AUTHOR_FIELDS
            + "    nickname: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))\n",
        ),
        "add_column",
        "authors",
        "nickname",
    ),
    "column removed": (
        lambda p: patch(p, MODELS, AUTHOR_FIELDS, ""),
        "remove_column",
        "authors",
        "bio",
    ),
    "type changed": (
        lambda p: patch(
            p,
            MODELS,
            "    price_cents: int = Field(sa_column=Column(Integer, nullable=False))",
            "    price_cents: int = Field(sa_column=Column(SmallInteger, nullable=False))",
        ),
        "modify_type",
        "books",
        "price_cents",
    ),
    "varchar length changed": (
        lambda p: patch(
            p,
            MODELS,
            "name: str = Field(sa_column=Column(String(50), nullable=False))",
            "name: str = Field(sa_column=Column(String(80), nullable=False))",
        ),
        "modify_type",
        "tags",
        "name",
    ),
    "nullable changed": (
        lambda p: patch(
            p,
            MODELS,
            "country_code: str | None = Field(default=None, sa_column=Column(String(2), nullable=True))",
            "country_code: str | None = Field(default=None, sa_column=Column(String(2), nullable=False))",
        ),
        "modify_nullable",
        "publishers",
        "country_code",
    ),
    "index added": (
        lambda p: patch(
            p,
            MODELS,
            "website: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))",
            "website: str | None = Field(default=None, sa_column=Column(String(255), nullable=True, index=True))",
        ),
        "add_index",
        "publishers",
        None,
    ),
    "index removed": (
        lambda p: patch(
            p,
            MODELS,
            "sa_column=Column(Date, nullable=True, index=True)",
            "sa_column=Column(Date, nullable=True)",
        ),
        "remove_index",
        "books",
        None,
    ),
    "unique constraint added": (
        lambda p: patch(
            p,
            MODELS,
            '(UniqueConstraint("name", name="uq_publishers_name"),)',
            '(UniqueConstraint("name", name="uq_publishers_name"), UniqueConstraint("website", name="uq_publishers_website"))',
        ),
        "add_constraint",
        "publishers",
        None,
    ),
    "foreign key added": (_add_fk, "add_fk", "reviews", None),
}


@pytest.mark.parametrize("case", list(DRIFTS))
def test_each_kind_of_drift_is_reported(
    any_pg_server: PostgresServer, project: Path, case: str
) -> None:
    change, kind, table, column = DRIFTS[case]
    change(project)
    run = drift_check("check", "--format", "json", env=any_pg_server.env(), cwd=project)
    assert run.code == 1, run.output
    data = report(run.stdout)
    assert data["status"] == "drift"
    differences = data["differences"]
    assert isinstance(differences, list)
    assert {"kind": kind, "table": table} in [
        {"kind": d["kind"], "table": d["table"]} for d in differences
    ], differences
    if column is not None:
        assert any(d["column"] == column for d in differences if d["kind"] == kind)
    assert "op." in str(data["suggested_migration"])
    assert not list((project / "examples/bookshop/migrations/versions").glob("*drift*"))


def test_text_report_names_both_sides_and_the_fix(pg_server: PostgresServer, project: Path) -> None:
    DRIFTS["column added"][0](project)
    run = drift_check("check", env=pg_server.env(NO_COLOR="1"), cwd=project)
    assert run.code == 1, run.output
    out = run.stdout
    for stage in ("settings", "database", "migrate", "compare", "cleanup"):
        assert f"  {stage} " in out
    assert "column authors.nickname VARCHAR(64) NULL: in the models, not in the migrations" in out
    assert (
        "op.add_column('authors', sa.Column('nickname', sa.String(length=64), nullable=True))"
        in out
    )
    assert "alembic revision --autogenerate" in out
    assert "\033[" not in out


@pytest.mark.parametrize("style", ["ini-url", "shared-connection", "env-var", "postgres-parts"])
def test_env_py_url_styles_reach_the_temporary_database(
    pg_server: PostgresServer, tmp_path: Path, style: str
) -> None:
    project = mini_project(
        tmp_path, style, ini_url="postgresql+psycopg2://developer@localhost/devdb"
    )
    env = pg_server.env(DATABASE_URL="postgresql+psycopg2://developer@localhost/devdb")
    if style == "env-var":
        env["DRIFT_URL_ENV"] = "DATABASE_URL"
    run = drift_check("check", env=env, cwd=project)
    assert run.code == 0, run.output
    patch(project, "mini_models.py", "sa.String(200)", "sa.String(300)")
    assert drift_check("check", env=env, cwd=project).code == 1


def test_safety_guard_stops_env_py_that_targets_another_database(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    pg_server.query("DROP DATABASE IF EXISTS decoy")
    pg_server.query("CREATE DATABASE decoy")
    try:
        pg_server.query(
            "CREATE TABLE keep (id int); INSERT INTO keep VALUES (1), (2)", database="decoy"
        )
        project = mini_project(tmp_path, "env-var")
        decoy_url = f"postgresql+psycopg2://postgres:{'x'}@127.0.0.1:{pg_server.port}/decoy"
        run = drift_check("check", env=pg_server.env(DATABASE_URL=decoy_url), cwd=project)
        assert run.code == 2, run.output
        assert "'decoy'" in run.stderr
        assert "DRIFT_URL_ENV=DATABASE_URL" in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1, run.stderr
        tables = pg_server.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", database="decoy"
        )
        assert tables == [("keep",)]
        assert pg_server.query("SELECT id FROM keep ORDER BY id", database="decoy") == [(1,), (2,)]
    finally:
        pg_server.query("DROP DATABASE decoy WITH (FORCE)")


def test_env_file_password_file_and_precedence(
    pg_server: PostgresServer, project: Path, tmp_path: Path
) -> None:
    password_file = tmp_path / "pw"
    password_file.write_text(PASSWORD + "\n")
    (project / ".env.k8s.development").write_text(
        f"POSTGRES_HOST=127.0.0.1\nPOSTGRES_PORT=1\nPOSTGRES_USER=postgres\nPOSTGRES_PASSWORD_FILE={password_file}\n"
    )
    env = {k: v for k, v in pg_server.env().items() if not k.startswith("POSTGRES_")}
    env["POSTGRES_PORT"] = str(pg_server.port)  # the environment beats the env file
    run = drift_check("check", env=env, cwd=project)
    assert run.code == 0, run.output
    run = drift_check(
        "check", "--port", "1", "--connect-timeout", "1", env=env, cwd=project
    )  # a flag beats both
    assert run.code == 3, run.output


def test_unreachable_server_exits_3_within_the_timeout(
    pg_server: PostgresServer, project: Path
) -> None:
    port = free_tcp_port()
    started = time.monotonic()
    run = drift_check(
        "check", env=pg_server.env(POSTGRES_PORT=str(port), DRIFT_CONNECT_TIMEOUT="2"), cwd=project
    )
    elapsed = time.monotonic() - started
    assert run.code == 3, run.output
    assert f"127.0.0.1:{port}" in run.stderr
    assert elapsed < 15
    assert PASSWORD not in run.output


def test_wrong_password_is_a_configuration_error(pg_server: PostgresServer, project: Path) -> None:
    run = drift_check(
        "check", env=pg_server.env(POSTGRES_PASSWORD="wrong-secret-value"), cwd=project
    )
    assert run.code == 2, run.output
    assert "password authentication failed" in run.stderr
    assert "wrong-secret-value" not in run.output


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('raise RuntimeError("boom in 0007")', "0007_test_change.py"),
        ('op.execute("SELECT * FROM no_such_table")', "0007_test_change.py"),
    ],
)
def test_failing_migration_exits_4(
    any_pg_server: PostgresServer, project: Path, body: str, expected: str
) -> None:
    add_migration(project, "0007", "0006", body)
    run = drift_check("check", env=any_pg_server.env(), cwd=project)
    assert run.code == 4, run.output
    assert expected in run.stderr
    assert "Traceback" not in run.output


def test_multiple_heads_exit_2_naming_each(pg_server: PostgresServer, project: Path) -> None:
    add_migration(project, "0007", "0005", "pass")
    run = drift_check("check", env=pg_server.env(), cwd=project)
    assert run.code == 2, run.output
    assert "0006 (0006_books_in_print_and_published_on_index.py)" in run.stderr
    assert "0007 (0007_test_change.py)" in run.stderr
    assert "alembic merge" in run.stderr
    assert "  database " not in run.stdout  # bad input never creates a database


def test_keep_database_keeps_and_names_it(pg_server: PostgresServer, project: Path) -> None:
    run = drift_check(
        "check", "--keep-database", "--format", "json", env=pg_server.env(), cwd=project
    )
    assert run.code == 0, run.output
    name = str(report(run.stdout)["temporary_database"])
    assert name in pg_server.databases()
    assert name in str(report(run.stdout)["message"])
    pg_server.query(f'DROP DATABASE "{name}"')


def test_summary_files_hold_one_json_line(
    pg_server: PostgresServer, project: Path, tmp_path: Path
) -> None:
    termination = tmp_path / "termination-log"
    summary = tmp_path / "summary.json"
    env = pg_server.env(DRIFT_TERMINATION_MESSAGE_PATH=str(termination))
    run = drift_check("check", "--summary-file", str(summary), env=env, cwd=project)
    assert run.code == 0, run.output
    for path in (termination, summary):
        lines = path.read_text().splitlines()
        assert len(lines) == 1
        assert json.loads(lines[0])["status"] == "clean"
        assert len(path.read_bytes()) <= 4096


def test_embedded_default_needs_no_server(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "PG", "DRIFT_"))}
    run = drift_check("check", env=env, cwd=project)
    assert run.code == 0, run.output
    assert "throwaway PostgreSQL" in run.stdout
    assert "no drift" in run.stdout


def test_sigterm_during_a_long_migration_cleans_up_fast(
    any_pg_server: PostgresServer, project: Path
) -> None:
    add_migration(project, "0007", "0006", 'op.execute("SELECT pg_sleep(60)")')
    process = subprocess.Popen(
        [sys.executable, "-m", "drift_job", "check"],
        env=any_pg_server.env(),
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            busy = any_pg_server.query(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'"
            )
            if busy[0][0]:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the long migration never started")
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=15)
        elapsed = time.monotonic() - signalled
    finally:
        process.kill()
    assert process.returncode == 143, stdout + stderr
    assert elapsed < 5, elapsed
    assert "SIGTERM" in stderr
    assert any_pg_server.temporary_databases() == []
    assert (
        any_pg_server.query(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'"
        )[0][0]
        == 0
    )


def test_reference_app_at_repo_root_is_clean(pg_server: PostgresServer) -> None:
    run = drift_check("check", env=pg_server.env(), cwd=REPO_ROOT)
    assert run.code == 0, run.output


def test_markdown_and_junit_reports(
    pg_server: PostgresServer, project: Path, tmp_path: Path
) -> None:
    from xml.etree import ElementTree

    DRIFTS["column added"][0](project)
    markdown = drift_check("check", "--format", "markdown", env=pg_server.env(), cwd=project)
    assert markdown.code == 1, markdown.output
    assert "| `add_column` | `authors` | `nickname` |" in markdown.stdout
    junit_file = tmp_path / "drift.xml"
    junit = drift_check(
        "check", "--format", "junit", "--output", str(junit_file), env=pg_server.env(), cwd=project
    )
    assert junit.code == 1, junit.output
    suite = ElementTree.fromstring(junit_file.read_text())
    assert suite.get("failures") == "1"
    failure = suite.find("testcase/failure")
    assert failure is not None
    assert "authors.nickname" in (failure.text or "")

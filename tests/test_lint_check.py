"""The data-safety lint end to end: the real command line on a real server, the findings in
every report format, warnings by default and exit 1 with ``--lint=error``."""

from __future__ import annotations

import subprocess
from pathlib import Path
from xml.etree import ElementTree

from projects import add_migration, mini_project, report
from reports import valid_junit, valid_report, valid_sarif
from servers import PostgresServer, drift_check

from drift_job.report import render_json, render_text
from drift_job.report_junit import render_junit
from drift_job.report_markdown import render_markdown
from drift_job.report_sarif import render_sarif
from drift_job.runner import run_check
from drift_job.settings import load_settings

VERSIONS = Path("migrations/versions")
FAST = ("--compare", "autogenerate")
INDEXED_MODELS = '\nsa.Index("ix_notes_body", notes.c.body)\n'


def indexed_project(root: Path, upgrade: str) -> Path:
    """Models with an index on notes.body, and a new revision 0002 that creates it."""
    project = mini_project(root, "shared-connection")
    models = project / "mini_models.py"
    models.write_text(models.read_text() + INDEXED_MODELS)
    add_migration(project, "0002", "0001", upgrade, versions=VERSIONS)
    return project


BLOCKING = 'op.create_index("ix_notes_body", "notes", ["body"])'
CONCURRENT = """
with op.get_context().autocommit_block():
    op.create_index("ix_notes_body", "notes", ["body"], postgresql_concurrently=True)
"""


def test_warnings_by_default(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = indexed_project(tmp_path, BLOCKING)
    run = drift_check("check", *FAST, "--lint", env=pg_server.env(), cwd=project)
    assert run.code == 0, run.output
    assert "data-safety lint: 1 finding(s) in 2 new revision(s), as warnings:" in run.stdout
    assert (
        "  - 0002_test_change.py:15: creates index ix_notes_body on notes without CONCURRENTLY "
        "[require-concurrent-index-creation]"
    ) in run.stdout
    assert "      instead: op.create_index(..., postgresql_concurrently=True)" in run.stdout


def test_error_fails_the_check(pg_server: PostgresServer, tmp_path: Path) -> None:
    """Through the library, so one run renders every format."""
    project = indexed_project(tmp_path, BLOCKING)
    env = pg_server.env(DRIFT_LINT="error", DRIFT_COMPARE="autogenerate")
    result = run_check(load_settings({}, env, cwd=project))
    assert result.exit_code == 1, result.message
    data = valid_report(render_json(result))
    assert data["status"] == "unsafe" and data["exit_code"] == 1
    assert data["differences"] == []
    lint = data["lint"]
    assert lint["mode"] == "error" and lint["revisions"] == ["0001", "0002"]
    [finding] = lint["findings"]
    assert finding["key"] == "require-concurrent-index-creation:0002:notes.ix_notes_body"
    assert (finding["file"], finding["line"], finding["category"]) == (
        "0002_test_change.py",
        15,
        "locking",
    )
    text = render_text(result)
    assert text.startswith("UNSAFE MIGRATIONS: the models match the migrations, but the")
    markdown = render_markdown(result)
    assert "**new revisions are safe to apply: failed**" in markdown
    assert "data-safety lint: 1 finding(s) in 2 new revision(s), failing the check" in markdown
    assert "- `require-concurrent-index-creation`: 0002_test_change.py:15: " in markdown
    valid_sarif(render_sarif(result))
    junit = render_junit(result)
    valid_junit(junit)
    suite = ElementTree.fromstring(junit)
    assert (suite.get("tests"), suite.get("failures")) == ("5", "1")
    failure = suite.find("testcase[@name='new revisions are safe to apply']/failure")
    assert failure is not None and "require-concurrent-index-creation" in (failure.text or "")


def test_safe_variant_passes(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = indexed_project(tmp_path, CONCURRENT)
    run = drift_check("check", *FAST, "--lint=error", env=pg_server.env(), cwd=project)
    assert run.code == 0, run.output
    assert "data-safety lint: no findings in 2 new revision(s)" in run.stdout


def test_only_revisions_new_since_the_base(pg_server: PostgresServer, tmp_path: Path) -> None:
    """The base's own risky revision is not the branch's business; lock_timeout set in env.py
    covers every revision."""
    project = mini_project(tmp_path, "shared-connection")
    add_migration(project, "0002", "0001", 'op.execute("TRUNCATE notes")', versions=VERSIONS)
    env_py = project / "migrations" / "env.py"
    env_py.write_text(
        env_py.read_text().replace(
            "context.configure(",
            "connection.exec_driver_sql(\"SET lock_timeout = '5s'\")\ncontext.configure(",
            1,
        )
    )
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-qm", "base"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=project,
            check=True,
            capture_output=True,
        )
    add_migration(project, "0003", "0002", 'op.drop_column("notes", "body")', versions=VERSIONS)
    run = drift_check(
        "check", *FAST, "--base-ref", "main", "--lint", "--format", "json",
        env=pg_server.env(), cwd=project,
    )  # fmt: skip
    assert run.code == 1, run.output  # the models still have body: drift
    data = report(run.stdout)
    lint = data["lint"]
    assert isinstance(lint, dict) and lint["revisions"] == ["0003"]
    assert [f["key"] for f in lint["findings"]] == ["ban-drop-column:0003:notes.body"]


def test_an_ignore_rule_accepts_a_finding_with_its_reason(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    """A finding is matched as a difference is: kind = the rule, object = the revision."""
    project = indexed_project(tmp_path, BLOCKING)
    (project / "drift-check.toml").write_text(
        "[[ignore]]\n"
        'kind = "require-concurrent-index-creation"\n'
        'table = "notes"\n'
        'object = "0002"\n'
        'reason = "notes is empty when 0002 ships"\n'
    )
    run = drift_check("check", *FAST, "--lint=error", "--format", "json", env=pg_server.env(),
                      cwd=project)  # fmt: skip
    data = valid_report(run.stdout)
    assert run.code == 0, run.output
    assert data["status"] == "clean" and data["lint"]["findings"] == []
    (accepted,) = [d for d in data["differences"] if d["ignored"]]
    assert accepted["kind"] == "require-concurrent-index-creation"
    assert accepted["source"] == "lint" and accepted["column"] == "ix_notes_body"
    assert accepted["ignored"]["reason"] == "notes is empty when 0002 ships"

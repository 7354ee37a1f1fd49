"""Reports from real runs (PostgreSQL, the real command line): every format from one run,
each validated (SARIF against the official schema, JUnit against its XSD, JSON against the
schema the package ships), placed at the models' source lines, and written when the check
errors too."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from xml.etree import ElementTree

from projects import MODELS, add_migration, patch
from reports import valid_junit, valid_report, valid_sarif
from servers import REPO_ROOT, PostgresServer, drift_check

AUTHOR_BIO = "    bio: str | None = Field(default=None, sa_column=Column(Text, nullable=True))\n"
NICKNAME = (
    "    nickname: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))\n"
)
FORMATS = ("json", "junit", "sarif", "markdown", "text")


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def _readme_command() -> list[str]:
    """The command line of the README's "Reports for CI" section, without ``drift-check``."""
    section = (REPO_ROOT / "README.md").read_text().split("## Reports for CI", 1)[1]
    match = re.search(r"```bash\n(drift-check .*?)\n```", section, re.S)
    assert match is not None
    return shlex.split(match.group(1))[1:]


def _report_args(directory: Path) -> list[str]:
    return [arg for fmt in FORMATS for arg in ("--report", f"{fmt}:{directory}/report.{fmt}")]


def test_one_run_writes_every_format_at_the_models_lines(
    pg_server: PostgresServer, project: Path, tmp_path: Path
) -> None:
    patch(project, MODELS, AUTHOR_BIO, AUTHOR_BIO + NICKNAME)  # autogenerate sees it
    patch(
        project,
        MODELS,
        '    CANCELLED = "cancelled"\n',
        '    CANCELLED = "cancelled"\n    REFUNDED = "refunded"\n',
    )
    summary = tmp_path / "step-summary.md"
    env = pg_server.env(GITHUB_STEP_SUMMARY=str(summary))
    command = [*_readme_command(), "--report", "markdown:report.markdown", "--report", "text:t.txt"]
    run = drift_check(*command, env=env, cwd=project)
    assert run.code == 1, run.output
    models = project / MODELS
    nickname_line = _line_of(models, "nickname:")
    enum_line = _line_of(models, 'name="order_status"')

    report = valid_report((project / "drift-check.json").read_text())
    by_kind = {d["kind"]: d for d in report["differences"]}
    assert by_kind["add_column"]["id"] == "add_column:public.authors.nickname"
    assert (by_kind["add_column"]["file"], by_kind["add_column"]["line"]) == (
        str(MODELS),
        nickname_line,
    )
    catalog = [d for d in report["differences"] if d["source"] == "catalog"]
    assert [(d["object"], d["line"]) for d in catalog] == [("order_status", enum_line)]

    sarif = valid_sarif((project / "drift-check.sarif").read_text())
    places = {
        (
            r["ruleId"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        )
        for r in sarif["runs"][0]["results"]
    }
    assert ("add_column", str(MODELS), nickname_line) in places
    assert (catalog[0]["kind"], str(MODELS), enum_line) in places

    junit = (project / "drift-check.xml").read_text()
    valid_junit(junit)
    cases = {c.get("name"): c for c in ElementTree.fromstring(junit).iter("testcase")}
    assert list(cases) == ["settings", "migrations", "autogenerate pass", "catalog pass"]
    assert [len(c.findall("failure")) for c in cases.values()] == [0, 0, 1, 1]

    annotation = f"::error file={MODELS},line={nickname_line},title=schema drift%3A add_column::"
    assert annotation in run.stdout
    markdown = (project / "report.markdown").read_text()
    assert summary.read_text() == markdown and "**Schema drift**: 2 difference(s)" in markdown
    assert "SCHEMA DRIFT DETECTED: 2 differences" in (project / "t.txt").read_text()


def test_every_report_is_written_when_the_migrations_fail(
    pg_server: PostgresServer, project: Path, tmp_path: Path
) -> None:
    add_migration(project, "0007", "0006", 'op.execute("SELECT no_such_function()")')
    run = drift_check("check", *_report_args(tmp_path), env=pg_server.env(), cwd=project)
    assert run.code == 4, run.output
    report = valid_report((tmp_path / "report.json").read_text())
    assert (report["status"], report["failed_stage"]) == ("error", "migrate")
    invocation = valid_sarif((tmp_path / "report.sarif").read_text())["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 4
    junit = (tmp_path / "report.junit").read_text()
    valid_junit(junit)
    children = [
        [child.tag for child in case] for case in ElementTree.fromstring(junit).iter("testcase")
    ]
    assert children == [[], ["failure"], ["skipped"], ["skipped"]]
    assert "0007_test_change.py" in (tmp_path / "report.markdown").read_text()
    assert "error (exit 4)" in (tmp_path / "report.text").read_text()


def test_reports_are_written_for_a_settings_error_too(project: Path, tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DRIFT_TIMEOUT": "soon",
        "DRIFT_REPORT": f"sarif:{tmp_path}/r.sarif;junit:{tmp_path}/r.xml",
    }
    run = drift_check("check", env=env, cwd=project)
    assert run.code == 2 and "DRIFT_TIMEOUT" in run.stderr
    notification = valid_sarif((tmp_path / "r.sarif").read_text())["runs"][0]["invocations"][0]
    assert "DRIFT_TIMEOUT" in notification["toolExecutionNotifications"][0]["message"]["text"]
    valid_junit((tmp_path / "r.xml").read_text())
    assert json.loads((tmp_path / "r.sarif").read_text())["runs"][0]["results"] == []

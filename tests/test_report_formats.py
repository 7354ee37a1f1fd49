"""Every report format rendered from results built in memory (the end-to-end runs are in
test_reports.py), each validated: SARIF against the official schema, JUnit against its XSD,
JSON against the schema the package ships."""

from __future__ import annotations

import contextlib
import datetime
import io
import re
from pathlib import Path
from xml.etree import ElementTree

from reports import valid_junit, valid_report, valid_sarif
from servers import REPO_ROOT

from drift_job.checks import CheckOutcome, Finding
from drift_job.comparison import Difference, Information
from drift_job.ignore_rules import Accepted, IgnoreRule
from drift_job.report import CheckResult
from drift_job.report_github import render_github
from drift_job.report_junit import render_junit
from drift_job.report_markdown import LIMIT, render_markdown
from drift_job.report_outputs import append_step_summary
from drift_job.report_sarif import render_sarif

MODELS = str(Path(__file__).resolve())


def _difference(number: int, **fields: object) -> Difference:
    values: dict[str, object] = {
        "kind": "add_column",
        "table": f"table_{number}",
        "column": f"column_{number}",
        "detail": f"column table_{number}.column_{number} VARCHAR(64) NULL: in the models, "
        "not in the migrations, with a long explanation " + "x" * 150,
        "file": MODELS,
        "line": number + 1,
    }
    values.update(fields)
    return Difference(**values)  # type: ignore[arg-type]


def _drift(count: int) -> CheckResult:
    differences = [_difference(n) for n in range(count)]
    migration = "\n".join(
        f"op.add_column('table_{n}', sa.Column('column_{n}', sa.String(length=64)))"
        for n in range(count)
    )
    return CheckResult(
        status="drift",
        exit_code=1,
        message=f"{count} difference(s) between models and migrations",
        differences=differences,
        suggested_migration=migration,
        alembic_head="0006",
        timings={"settings": 0.1, "migrate": 0.2, "compare": 0.3, "catalog": 0.4},
        env_py=MODELS,
    )


def test_markdown_of_500_differences_stays_under_githubs_limit() -> None:
    result = _drift(500)
    text = render_markdown(result)
    assert len(text) < LIMIT
    assert "<details><summary>500 difference(s)</summary>" in text
    assert "| `add_column` | `table_0` | `column_0` |" in text
    assert "more difference(s) not shown here" in text
    assert "To fix it:" in text  # the closing steps survive the folding
    small = render_markdown(_drift(3))
    assert "<details>" not in small and "not shown here" not in small


def test_github_commands_escape_their_data_and_properties() -> None:
    weird = _difference(1, detail="50% of rows\nsecond line", kind="add_column,x")
    outside = _difference(2, file="/usr/lib/site-packages/models.py")  # not in the repository
    result = _drift(0)
    result.differences = [weird, outside]
    lines = render_github(result).splitlines()
    here = "tests/test_report_formats.py"
    assert lines[0] == (
        f"::error file={here},line=2,title=schema drift%3A add_column%2Cx::50%25 of rows%0Asecond line"
    )
    assert lines[1].startswith(f"::error file={here},title=")  # env.py's place: no line of its own
    assert lines[-1] == "drift-check: 2 difference(s): schema drift"


def test_step_summary_gets_the_markdown_report_appended(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    append_step_summary(_drift(2), {"GITHUB_STEP_SUMMARY": str(summary)})
    text = summary.read_text()
    assert text.startswith("earlier step\n### drift-check")
    assert "**Schema drift**: 2 difference(s)" in text


def _with_everything() -> CheckResult:
    """Drift, an accepted difference, information, a rule warning and an extra check."""
    result = _drift(2)
    rule = IgnoreRule("pyproject.toml [tool.drift-check] ignore #1", "data team", (("kind", "*"),))
    result.ignored = [Accepted(_difference(7, kind="modify_enum", column=None), rule)]
    result.information = [Information("view", "view public.open_orders", object="open_orders")]
    result.ignore_warnings = ["ignore rule x #2 matched no difference"]
    result.checks = [
        CheckOutcome(
            "downgrade round trip",
            "failed",
            [Finding("leftover_table", "table audit remains after downgrade")],
            "1 finding(s)",
            0.5,
        ),
        CheckOutcome("migration lint", "passed", seconds=0.1),
    ]
    return result


def test_junit_has_a_case_per_check_and_validates() -> None:
    text = render_junit(_with_everything())
    valid_junit(text)
    suite = ElementTree.fromstring(text)
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert list(cases) == [
        "settings",
        "migrations",
        "autogenerate pass",
        "catalog pass",
        "downgrade round trip",
        "migration lint",
    ]
    assert len(cases["autogenerate pass"].findall("failure")) == 2
    assert "ignored:" in (cases["autogenerate pass"].findtext("system-out") or "")
    assert "information: view public.open_orders" in (
        cases["catalog pass"].findtext("system-out") or ""
    )
    assert cases["downgrade round trip"].find("failure") is not None
    assert (suite.get("tests"), suite.get("failures")) == ("6", "2")


def test_junit_for_a_failed_migration_skips_what_follows() -> None:
    result = CheckResult(status="error", exit_code=4, message="migration 0007_x.py failed")
    result.failed_stage = "migrate"
    text = render_junit(result)
    valid_junit(text)
    suite = ElementTree.fromstring(text)
    statuses = [
        (case.get("name"), [child.tag for child in case]) for case in suite.iter("testcase")
    ]
    assert statuses == [
        ("settings", []),
        ("migrations", ["failure"]),
        ("autogenerate pass", ["skipped"]),
        ("catalog pass", ["skipped"]),
    ]


def test_sarif_places_every_result_and_suppresses_accepted_ones() -> None:
    document = valid_sarif(render_sarif(_with_everything()))
    results = document["runs"][0]["results"]
    assert [r["level"] for r in results] == ["error", "error", "error", "note", "error"]
    accepted = results[2]
    assert accepted["suppressions"][0]["justification"] == "data team"
    assert accepted["partialFingerprints"]["driftCheckIdentity/v1"] == "modify_enum:public.table_7"
    # the information item and the extra check's finding have no place of their own: env.py
    here = results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert here.endswith("tests/test_report_formats.py")
    for result in results[3:]:
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == here
    rules = document["runs"][0]["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == [
        "add_column",
        "modify_enum",
        "extra_view",
        "leftover_table",
    ]


def test_sarif_of_an_error_has_no_results_and_says_why() -> None:
    result = CheckResult(status="error", exit_code=3, message="server unreachable")
    document = valid_sarif(render_sarif(result))
    invocation = document["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 3
    assert invocation["toolExecutionNotifications"][0]["message"]["text"] == "server unreachable"


def test_json_report_validates_with_ignored_differences_and_extra_checks() -> None:
    result = _with_everything()
    result.ignored[0] = Accepted(
        result.ignored[0].difference,
        IgnoreRule(
            "drift-check.toml ignore #1", "later", (("table", "t"),), datetime.date(2027, 3, 31)
        ),
    )
    from drift_job.report import render_json

    document = valid_report(render_json(result))
    assert (document["schema_version"], document["normaliser_version"]) == (1, 1)
    ignored = [d for d in document["differences"] if d["ignored"]]
    assert ignored[0]["ignored"] == {
        "rule": "drift-check.toml ignore #1",
        "reason": "later",
        "expires": "2027-03-31",
    }
    assert document["checks"][0]["findings"][0]["rule"] == "leftover_table"


def test_the_readme_extra_check_snippet_renders_valid_junit() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    match = re.search(r"```python\n(from drift_job.checks import .*?)```", readme, re.S)
    assert match is not None
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(match.group(1), {})
    valid_junit(printed.getvalue())
    assert 'name="downgrade round trip"' in printed.getvalue()

"""The lint's place in the result and in each report format (one call from each renderer).

Findings are warnings unless ``--lint=error``: then any finding fails the check with exit 1,
as drift does. A schema without drift but with findings then has the status ``unsafe``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

from drift_job.lint import judge
from drift_job.lint_rules import LintFinding
from drift_job.supervisor.redaction import Redactor

if TYPE_CHECKING:
    from drift_job.report import CheckResult


@dataclass
class LintReport:
    """The lint of one run: its mode, the revisions it judged, what it found."""

    mode: str
    revisions: list[str] = field(default_factory=list)
    findings: list[LintFinding] = field(default_factory=list)

    @property
    def failing(self) -> bool:
        return self.mode == "error" and bool(self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "revisions": self.revisions,
            "findings": [finding.as_dict() for finding in self.findings],
        }


def apply_lint(
    result: CheckResult, recorded: dict[str, Any] | None, mode: str, secrets: tuple[str, ...]
) -> None:
    """Judge what the worker recorded; with ``--lint=error`` findings fail the check. What a
    revision raised offline is the project's free text: redacted before it is reported."""
    if recorded is None:
        return
    redact = Redactor(secrets)
    for revision in recorded.get("revisions", []):
        if revision.get("error"):
            revision["error"] = redact(str(revision["error"]))
    revisions = [r["revision"] for r in recorded.get("revisions", []) if r.get("new")]
    lint = result.lint = LintReport(mode, revisions, judge(recorded))
    if not lint.failing:
        return
    count = len(lint.findings)
    if result.status == "clean":
        result.status, result.exit_code = "unsafe", 1
        result.message = (
            f"the models match the migrations, but the data-safety lint has {count} "
            "finding(s) in new revisions (--lint=error)"
        )
    else:
        result.message += f"; and {count} data-safety lint finding(s) (--lint=error)"


def _heading(lint: LintReport) -> str:
    count = len(lint.findings)
    judged = f"{len(lint.revisions)} new revision(s)"
    if not count:
        return f"data-safety lint: no findings in {judged}"
    verdict = "failing the check (--lint=error)" if lint.mode == "error" else "as warnings"
    return f"data-safety lint: {count} finding(s) in {judged}, {verdict}:"


def text_lines(result: CheckResult) -> list[str]:
    lint = result.lint
    if lint is None or result.status == "error":
        return []
    lines = [_heading(lint)]
    for finding in lint.findings:
        lines += [f"  - {finding.detail}", f"      instead: {finding.instead}"]
    return lines


def markdown_lines(result: CheckResult) -> list[str]:
    lint = result.lint
    if lint is None or result.status == "error":
        return []
    lines = ["", f"**{_heading(lint)}**"]
    if lint.findings:
        lines += ["", "| rule | where | finding | instead |", "|---|---|---|---|"]
        lines += [
            f"| `{f.rule}` | `{f.location}` | {_cell(f.message)} | {_cell(f.instead)} |"
            for f in lint.findings
        ]
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def junit_case(suite: ElementTree.Element, result: CheckResult) -> None:
    """A second test case, failed when the lint fails the check."""
    lint = result.lint
    if lint is None or result.status == "error":
        return
    suite.set("tests", str(int(suite.get("tests", "0")) + 1))
    case = ElementTree.SubElement(
        suite, "testcase", classname="drift-check", name="new revisions are safe to apply"
    )
    text = "\n".join(f"{f.detail}\n  instead: {f.instead}" for f in lint.findings)
    if lint.failing:
        suite.set("failures", str(int(suite.get("failures", "0")) + 1))
        failure = ElementTree.SubElement(case, "failure", message=_heading(lint), type="lint")
        failure.text = text
    elif lint.findings:
        ElementTree.SubElement(case, "system-out").text = f"{_heading(lint)}\n{text}"

"""The lint's place in the result and in each report format (one call from each renderer).

Findings are warnings unless ``--lint=error``: then any finding fails the check with exit 1,
as drift does. A schema without drift but with findings then has the status ``unsafe``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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


def record_lint(
    result: CheckResult, recorded: dict[str, Any] | None, mode: str, secrets: tuple[str, ...]
) -> None:
    """Judge what the worker recorded. What a revision raised offline is the project's free
    text: redacted before it is reported."""
    if recorded is None:
        return
    redact = Redactor(secrets)
    for revision in recorded.get("revisions", []):
        if revision.get("error"):
            revision["error"] = redact(str(revision["error"]))
    revisions = [r["revision"] for r in recorded.get("revisions", []) if r.get("new")]
    result.lint = LintReport(mode, revisions, judge(recorded))


def apply_lint(result: CheckResult) -> None:
    """With ``--lint=error`` the findings (those no ignore rule accepts) fail the check."""
    lint = result.lint
    if lint is None:
        return
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


def heading(lint: LintReport) -> str:
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
    lines = [heading(lint)]
    for finding in lint.findings:
        lines += [f"  - {finding.detail}", f"      instead: {finding.instead}"]
    return lines

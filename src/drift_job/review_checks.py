"""The downgrade round trip and the data-safety lint as checks of the run.

Each becomes a check every report format shows (a JUnit test case, SARIF results and GitHub
annotations at the revision file, a Markdown section), and its findings are matched by the
ignore rules the way differences are: a finding seen as a difference (kind = the lint rule or
the round-trip kind; table, column and object from what it names) can be accepted with a
reason, and is then reported among the accepted differences instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from drift_job.checks import ERROR, FAILED, PASSED, CheckOutcome, Finding
from drift_job.comparison import Difference
from drift_job.lint_report import heading
from drift_job.lint_rules import LintFinding
from drift_job.report import CheckResult
from drift_job.roundtrip import RoundTripFinding
from drift_job.roundtrip_report import CASE_NAME, skips, summary

LINT_CHECK = "new revisions are safe to apply"


def revision_path(name: str | None, version_dirs: Sequence[str]) -> str | None:
    """The absolute path of a revision file the worker named, for CI annotations."""
    if not name:
        return None
    found = (Path(d) / name for d in version_dirs)
    return next((str(path.resolve()) for path in found if path.is_file()), None)


def lint_difference(finding: LintFinding) -> Difference:
    """How an ignore rule sees a lint finding: ``kind`` is the rule, ``object`` the revision."""
    table, _, rest = (finding.target or "").partition(".")
    return Difference(
        kind=finding.rule,
        table=table or None,
        column=rest or None,
        detail=finding.detail,
        source="lint",
        object=finding.revision,
        line=finding.line,
    )


def roundtrip_difference(finding: RoundTripFinding) -> Difference:
    return Difference(
        kind=finding.kind,
        table=finding.table,
        column=finding.column,
        detail=finding.detail,
        source="roundtrip",
        schema=finding.schema,
        object=finding.object or finding.path,
        object_type=finding.object_type,
    )


def add_review_checks(result: CheckResult, version_dirs: Sequence[str]) -> None:
    """Append the lint and the round trip (when they ran) to ``result.checks``."""
    if result.status == "error" and not (result.roundtrip and result.roundtrip.failures):
        return  # the run stopped before them, or for a reason of its own
    if result.lint is not None:
        lint = result.lint
        findings = [
            Finding(
                f.rule,
                f"{f.detail} (instead: {f.instead})",
                file=revision_path(f.file, version_dirs),
                line=f.line,
            )
            for f in lint.findings
        ]
        status = FAILED if lint.failing else PASSED
        result.checks.append(CheckOutcome(LINT_CHECK, status, findings, heading(lint)))
    if result.roundtrip is not None:
        trip = result.roundtrip
        findings = [
            Finding(f.kind, f.detail, file=revision_path(f.file, version_dirs))
            for f in trip.findings
        ]
        status = PASSED
        if trip.findings:
            status = ERROR if result.status == "error" else FAILED
        result.checks.append(
            CheckOutcome(CASE_NAME, status, findings, summary(trip), notes=skips(trip))
        )

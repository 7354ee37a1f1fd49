"""A completed run's verdict: the worker's result read into the report, with the user's
ignore rules, ``--strict``, the round trip, the lint and the review checks applied, and the
exit code that follows from them."""

from __future__ import annotations

from typing import Any

from drift_job.acceptance import accept_differences
from drift_job.comparison import Difference, Information
from drift_job.lint_report import apply_lint, record_lint
from drift_job.report import CheckResult
from drift_job.review_checks import add_review_checks
from drift_job.roundtrip import apply_verdict, record_roundtrip
from drift_job.settings import Settings


def read_verdict(
    result: CheckResult, outcome: dict[str, Any], settings: Settings, version_dirs: list[str]
) -> None:
    """Differences, checks and exit code, from the worker's ``result`` message."""
    result.differences = [Difference.from_message(d) for d in outcome["differences"]]
    result.information = [Information.from_message(i) for i in outcome.get("information", [])]
    if settings.strict:
        result.differences += [item.as_difference() for item in result.information]
    record_roundtrip(result, outcome.get("roundtrip"))
    record_lint(result, outcome.get("lint"), settings.lint, settings.secrets())
    accept_differences(result, settings.ignore_rules, strict=settings.strict_ignores)
    result.suggested_migration = str(outcome["suggested_migration"])
    count = len(result.differences)
    if count:
        result.status, result.exit_code = "drift", 1
        result.message = f"{count} difference(s) between models and migrations"
    else:
        result.status, result.exit_code = "clean", 0
        result.message = "no drift"
    apply_verdict(result)
    apply_lint(result)
    add_review_checks(result, version_dirs)

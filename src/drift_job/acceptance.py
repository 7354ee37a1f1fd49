"""Ignore rules applied to a run's differences: the accepted ones are set aside (reported,
not drift), and rules that expired or matched nothing are reported, as a check of their own
(``ignore rules``) and, with ``--strict-ignores``, as a configuration error (exit 2)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TypeVar

from drift_job.checks import ERROR, PASSED, CheckOutcome, Finding
from drift_job.comparison import Difference
from drift_job.errors import ExitCode
from drift_job.ignore_rules import IgnoreRule, apply_rules
from drift_job.report import CheckResult
from drift_job.review_checks import lint_difference, roundtrip_difference

IGNORE_RULES = "ignore rules"
T = TypeVar("T")


def accept_differences(
    result: CheckResult,
    rules: Sequence[IgnoreRule],
    *,
    strict: bool,
    today: datetime.date | None = None,
) -> None:
    """Split ``result.differences`` (and the lint's and round trip's findings) into what
    fails and what the rules accept."""
    if not rules:
        return
    lint = result.lint.findings if result.lint else []
    trip = result.roundtrip.findings if result.roundtrip else []
    lint_seen = [lint_difference(f) for f in lint]
    trip_seen = [roundtrip_difference(f) for f in trip]
    everything = [*result.differences, *lint_seen, *trip_seen]
    applied = apply_rules(everything, rules, today or datetime.date.today())
    accepted = {id(a.difference) for a in applied.accepted}

    def kept(items: list[T], seen: list[Difference]) -> list[T]:
        return [item for item, d in zip(items, seen, strict=True) if id(d) not in accepted]

    result.differences = kept(result.differences, result.differences)
    if result.lint:
        result.lint.findings = kept(lint, lint_seen)
    if result.roundtrip:
        result.roundtrip.findings = kept(trip, trip_seen)
    result.ignored = applied.accepted
    result.ignore_warnings = applied.warnings
    findings = [Finding("expired-ignore", warning) for warning in applied.expired]
    findings += [Finding("unused-ignore", warning) for warning in applied.unused]
    failed = strict and bool(findings)
    result.checks.append(
        CheckOutcome(
            IGNORE_RULES,
            ERROR if failed else PASSED,
            findings if failed else [],
            f"{len(findings)} ignore rule(s) to clean up (--strict-ignores)" if failed else "",
            notes=[] if failed else applied.warnings,
        )
    )


def enforce_strict_ignores(result: CheckResult, *, strict: bool) -> None:
    """With ``--strict-ignores``, an expired or unused rule fails the run (exit 2), whatever
    the verdict; every difference stays in the report."""
    if strict and result.ignore_warnings and result.status != "error":
        result.status, result.exit_code = "error", ExitCode.BAD_INPUT
        result.message = f"{'; '.join(result.ignore_warnings)} (--strict-ignores)"
        result.failed_stage = IGNORE_RULES

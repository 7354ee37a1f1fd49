"""Ignore rules applied to a run's differences: the accepted ones are set aside (reported,
not drift), and rules that expired or matched nothing are reported."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from drift_job.errors import ConfigError
from drift_job.ignore_rules import IgnoreRule, apply_rules
from drift_job.report import CheckResult


def accept_differences(
    result: CheckResult,
    rules: Iterable[IgnoreRule],
    *,
    strict: bool,
    today: datetime.date | None = None,
) -> None:
    """Split ``result.differences``; with ``strict``, a rule to clean up is an error (exit 2)
    that keeps every difference in the report."""
    applied = apply_rules(result.differences, rules, today or datetime.date.today())
    result.differences, result.ignored = applied.failing, applied.accepted
    result.ignore_warnings = applied.warnings
    if strict and applied.warnings:
        raise ConfigError(f"{'; '.join(applied.warnings)} (--strict-ignores)")

"""Accepted differences: ignore rules, each with a reason, matched against a difference's
stable identity (kind, schema, table, column, object) with globs.

A rule is strict about what it says: an unknown key, a missing reason, a malformed date or a
rule that would match everything is a configuration error (exit 2), never a silent green.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from drift_job.comparison import Difference

#: What a rule may match on: the fields of a difference's identity.
MATCH_KEYS = ("kind", "schema", "table", "column", "object")
RULE_KEYS = (*MATCH_KEYS, "reason", "expires")


@dataclass(frozen=True)
class IgnoreRule:
    """One accepted difference (or family of them, with globs)."""

    #: Where it was written, for messages: ``pyproject.toml: [[tool.drift-check.ignore]] #2``.
    origin: str
    reason: str
    patterns: tuple[tuple[str, str], ...]
    expires: datetime.date | None = None

    def expired(self, today: datetime.date) -> bool:
        """A rule applies up to and including its ``expires`` date."""
        return self.expires is not None and today > self.expires

    def matches(self, difference: Difference) -> bool:
        for key, pattern in self.patterns:
            value = getattr(difference, key)
            if key == "schema":
                value = value or "public"  # both passes leave the default schema unnamed
            if value is None or not fnmatchcase(str(value), pattern):
                return False
        return True

    def describe(self) -> dict[str, Any]:
        return {
            "rule": self.origin,
            "reason": self.reason,
            "expires": self.expires.isoformat() if self.expires else None,
        }


@dataclass(frozen=True)
class Accepted:
    """A difference an ignore rule accepts: reported, but not drift."""

    difference: Difference
    rule: IgnoreRule

    def as_dict(self) -> dict[str, Any]:
        return {**self.difference.as_dict(), "ignored": self.rule.describe()}


def _expires(value: Any, where: str, problems: list[str]) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        problems.append(f"{where}: expires must be a date (2027-03-31), not a date and time")
        return None
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    problems.append(f"{where}: expires {value!r} is not a date (write it as 2027-03-31)")
    return None


def _rule(entry: Any, where: str, problems: list[str]) -> IgnoreRule | None:
    if not isinstance(entry, dict):
        problems.append(f"{where}: must be a table ([[…ignore]]) with a reason")
        return None
    reported = len(problems)
    unknown = sorted(set(entry) - set(RULE_KEYS))
    if unknown:
        problems.append(
            f"{where}: unknown key {', '.join(unknown)} (allowed: {', '.join(RULE_KEYS)})"
        )
    reason = entry.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        problems.append(f"{where}: reason is required (say why the difference is accepted)")
    patterns = []
    for key in MATCH_KEYS:
        if key not in entry:
            continue
        if not isinstance(entry[key], str) or not entry[key]:
            problems.append(f"{where}: {key} must be a non-empty string (globs allowed)")
        else:
            patterns.append((key, entry[key]))
    if not any(pattern.strip("*") for key, pattern in patterns if key != "schema"):
        problems.append(
            f"{where}: names nothing to match; give at least one of kind, table, column, "
            "object other than '*' (a rule must not accept every difference)"
        )
    expires = _expires(entry["expires"], where, problems) if "expires" in entry else None
    if len(problems) > reported:
        return None
    return IgnoreRule(where, str(reason).strip(), tuple(patterns), expires)


def parse_rules(entries: Any, origin: str, problems: list[str]) -> list[IgnoreRule]:
    """The rules of one ``ignore`` array of tables; ``origin`` names the file and table."""
    if not isinstance(entries, list):
        problems.append(f"{origin}: must be an array of tables ([[…ignore]])")
        return []
    rules = [
        _rule(entry, f"{origin} #{number}", problems) for number, entry in enumerate(entries, 1)
    ]
    return [rule for rule in rules if rule is not None]


def expired_rules(rules: Iterable[IgnoreRule], today: datetime.date) -> list[str]:
    """Under ``--strict-ignores``, each expired rule is a configuration problem."""
    return [
        f"{rule.origin}: expired on {rule.expires} (--strict-ignores)"
        for rule in rules
        if rule.expired(today)
    ]


@dataclass
class Applied:
    """The differences that remain drift, the accepted ones, and what to tell about rules."""

    failing: list[Difference]
    accepted: list[Accepted]
    expired: list[str]
    unused: list[str]

    @property
    def warnings(self) -> list[str]:
        return [*self.expired, *self.unused]


def apply_rules(
    differences: Iterable[Difference], rules: Iterable[IgnoreRule], today: datetime.date
) -> Applied:
    """Each difference against the first rule in force that matches it."""
    rules = list(rules)
    active = [rule for rule in rules if not rule.expired(today)]
    applied = Applied([], [], [], [])
    used: set[int] = set()
    for difference in differences:
        rule = next((r for r in active if r.matches(difference)), None)
        if rule is None:
            applied.failing.append(difference)
        else:
            used.add(id(rule))
            applied.accepted.append(Accepted(difference, rule))
    applied.expired = [
        f"ignore rule {rule.origin} expired on {rule.expires} and no longer applies"
        for rule in rules
        if rule.expired(today)
    ]
    applied.unused = [
        f"ignore rule {rule.origin} matched no difference (remove it if it is no longer needed)"
        for rule in active
        if id(rule) not in used
    ]
    return applied

"""SARIF 2.1.0 (``--format sarif``), for GitHub code scanning and other SARIF viewers.

Every result has a location (the model's class or column line, else env.py): GitHub rejects
a whole upload when one result lacks one. Accepted differences are results with a
suppression carrying the rule's reason; information is at level ``note``; an error run has no
results and says why in the invocation.
"""

from __future__ import annotations

import json
from typing import Any

from drift_job import __version__
from drift_job.checks import FAILED, Finding
from drift_job.comparison import Difference
from drift_job.report import CheckResult
from drift_job.source_paths import placed

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://github.com/drift-check/drift-check"
FINGERPRINT = "driftCheckIdentity/v1"


class _Rules:
    """The run's rules (one per kind of difference), each listed once, in order of use."""

    def __init__(self) -> None:
        self.listed: list[dict[str, Any]] = []
        self._index: dict[str, int] = {}

    def index(self, rule: str, level: str) -> int:
        if rule not in self._index:
            self._index[rule] = len(self.listed)
            self.listed.append(
                {
                    "id": rule,
                    "shortDescription": {"text": rule.replace("_", " ")},
                    "defaultConfiguration": {"level": level},
                }
            )
        return self._index[rule]


def _location(file: str | None, line: int | None, fallback: str | None) -> dict[str, Any]:
    where = placed(file, fallback)
    if where != placed(file, None):  # shown at env.py: a line of its own means nothing there
        line = None
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": where or "alembic.ini"},
            "region": {"startLine": max(line or 1, 1)},
        }
    }


def _difference(
    difference: Difference, rules: _Rules, fallback: str | None, level: str = "error"
) -> dict[str, Any]:
    properties = {
        key: value
        for key, value in (
            ("source", difference.source),
            ("migrations", difference.migrations),
            ("models", difference.models),
        )
        if value is not None
    }
    return {
        "ruleId": difference.kind,
        "ruleIndex": rules.index(difference.kind, level),
        "level": level,
        "message": {"text": difference.detail},
        "locations": [_location(difference.file, difference.line, fallback)],
        "partialFingerprints": {FINGERPRINT: difference.identity},
        "properties": properties,
    }


def _finding(
    finding: Finding, check: str, level: str, rules: _Rules, fallback: str | None
) -> dict[str, Any]:
    return {
        "ruleId": finding.rule,
        "ruleIndex": rules.index(finding.rule, level),
        "level": level,
        "message": {"text": finding.message},
        "locations": [_location(finding.file, finding.line, fallback)],
        "properties": {"check": check},
    }


def _results(result: CheckResult, rules: _Rules, fallback: str | None) -> list[dict[str, Any]]:
    results = [_difference(d, rules, fallback) for d in result.differences]
    for accepted in result.ignored:
        item = _difference(accepted.difference, rules, fallback)
        item["suppressions"] = [
            {"kind": "external", "status": "accepted", "justification": accepted.rule.reason}
        ]
        results.append(item)
    if result.status != "error":
        results += [
            _difference(i.as_difference(), rules, fallback, "note") for i in result.information
        ]
    for check in result.checks:
        level = "error" if check.status == FAILED else "warning"
        results += [_finding(f, check.name, level, rules, fallback) for f in check.findings]
    return results


def _invocation(result: CheckResult) -> dict[str, Any]:
    invocation: dict[str, Any] = {
        "executionSuccessful": result.status != "error",
        "exitCode": int(result.exit_code),
    }
    if result.status == "error":
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": result.message}}
        ]
    if result.ignore_warnings:
        invocation["toolConfigurationNotifications"] = [
            {"level": "warning", "message": {"text": warning}} for warning in result.ignore_warnings
        ]
    return invocation


def render_sarif(result: CheckResult) -> str:
    rules = _Rules()
    fallback = result.env_py
    results = _results(result, rules, fallback)
    run = {
        "tool": {
            "driver": {
                "name": "drift-check",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": rules.listed,
            }
        },
        "invocations": [_invocation(result)],
        "results": results,
        "properties": {"status": result.status, "alembicHead": result.alembic_head},
    }
    document = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(document, indent=2) + "\n"

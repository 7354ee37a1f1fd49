"""JUnit XML: one test case per check (settings, migrations, autogenerate pass, catalog pass,
then every check in ``CheckResult.checks``), each difference a ``<failure>`` with its detail.

The document validates against the Surefire/Jenkins JUnit schema (``junit-10.xsd``).
"""

from __future__ import annotations

from xml.etree import ElementTree

from drift_job.checks import ERROR, FAILED, PASSED, SKIPPED, CheckOutcome, Finding
from drift_job.comparison import Difference
from drift_job.errors import ExitCode
from drift_job.report import CheckResult

SETTINGS, MIGRATIONS, AUTOGENERATE, CATALOG = (
    "settings",
    "migrations",
    "autogenerate pass",
    "catalog pass",
)
BUILT_IN = (SETTINGS, MIGRATIONS, AUTOGENERATE, CATALOG)
#: Which check each stage of a run belongs to (a failed stage fails its check).
STAGE_CHECKS = {
    "settings": SETTINGS,
    "server": SETTINGS,
    "revisions": SETTINGS,
    "database": SETTINGS,
    "migrate": MIGRATIONS,
    "compare": AUTOGENERATE,
    "catalog": CATALOG,
    "cleanup": "cleanup",
}


def _finding(difference: Difference) -> Finding:
    sides = [
        f"{side}: {rendering}"
        for side, rendering in (
            ("migrations", difference.migrations),
            ("models", difference.models),
        )
        if rendering is not None
    ]
    return Finding(
        difference.kind,
        difference.detail,
        "\n".join([difference.identity, *sides]),
        difference.file,
        difference.line,
    )


def _pass(result: CheckResult, name: str, source: str, stages: tuple[str, ...]) -> CheckOutcome:
    """A comparison pass: the differences it found (each found once, by one pass)."""
    catalog = source == "catalog"
    found = [_finding(d) for d in result.differences if (d.source == "catalog") == catalog]
    accepted = [a for a in result.ignored if (a.difference.source == "catalog") == catalog]
    notes = [f"ignored: {a.difference.detail} ({a.rule.reason})" for a in accepted]
    if source == "catalog" and result.information:
        notes += [f"information: {item.detail}" for item in result.information]
    seconds = sum(result.timings.get(stage, 0.0) for stage in stages)
    status = FAILED if found else PASSED
    message = f"{len(found)} difference(s)" if found else ""
    return CheckOutcome(name, status, found, message, seconds, notes)


def _completed(result: CheckResult, name: str) -> CheckOutcome:
    """A built-in check whose stage ran to its end."""
    if name == SETTINGS:
        stages = ("settings", "server", "revisions", "database")
        return CheckOutcome(name, PASSED, seconds=sum(result.timings.get(s, 0.0) for s in stages))
    if name == MIGRATIONS:
        return CheckOutcome(name, PASSED, seconds=result.timings.get("migrate", 0.0))
    if name == AUTOGENERATE:
        return _pass(result, name, "autogenerate", ("compare",))
    if "catalog" not in result.timings:
        return CheckOutcome(name, SKIPPED, message="not run: --compare autogenerate")
    return _pass(result, name, "catalog", ("catalog",))


def built_in_checks(result: CheckResult) -> list[CheckOutcome]:
    """The run's own checks, in order: the one whose stage failed, the ones before it, and
    the ones after it as skipped. A failed cleanup is a check of its own."""
    failed = None
    if result.status == "error":  # a stage of no built-in check (ignore rules) fails none
        failed = STAGE_CHECKS.get(result.failed_stage) if result.failed_stage else SETTINGS
    status = FAILED if result.exit_code == ExitCode.MIGRATIONS_FAILED else ERROR
    checks: list[CheckOutcome] = []
    stopped = False
    for name in BUILT_IN:
        if stopped:
            checks.append(CheckOutcome(name, SKIPPED, message=f"not run: {failed} failed"))
        elif name == failed:
            checks.append(CheckOutcome(name, status, message=result.message))
            stopped = True
        else:
            checks.append(_completed(result, name))
    if failed == "cleanup":
        checks.append(CheckOutcome("cleanup", ERROR, message=result.message))
    return checks


def _case(suite: ElementTree.Element, check: CheckOutcome) -> None:
    case = ElementTree.SubElement(
        suite, "testcase", classname="drift-check", name=check.name, time=f"{check.seconds:.3f}"
    )
    if check.status == SKIPPED:
        ElementTree.SubElement(case, "skipped", message=check.message)
    elif check.status == ERROR:
        ElementTree.SubElement(
            case, "error", message=check.message, type="error"
        ).text = check.message
    elif check.status == FAILED and not check.findings:
        ElementTree.SubElement(
            case, "failure", message=check.message, type="failed"
        ).text = check.message
    notes = list(check.notes)
    for finding in check.findings:
        text = "\n".join(part for part in (finding.message, finding.detail) if part)
        if check.status == PASSED:  # warnings (the lint without --lint=error): no failure
            notes.append(f"warning: {finding.rule}: {text}")
            continue
        failure = ElementTree.SubElement(
            case, "failure", message=finding.message, type=finding.rule
        )
        failure.text = text
    if check.notes or notes:
        ElementTree.SubElement(case, "system-out").text = "\n".join(notes)


def render_junit(result: CheckResult) -> str:
    checks = [*built_in_checks(result), *result.checks]
    suite = ElementTree.Element(
        "testsuite",
        name="drift-check",
        tests=str(len(checks)),
        failures=str(sum(1 for c in checks if c.status == FAILED)),
        errors=str(sum(1 for c in checks if c.status == ERROR)),
        skipped=str(sum(1 for c in checks if c.status == SKIPPED)),
        time=f"{sum(result.timings.values()):.3f}",
    )
    for check in checks:
        _case(suite, check)
    extra = []
    if result.suggested_migration:
        extra += ["Alembic operations that would fix it:", result.suggested_migration]
    extra += [f"warning: {warning}" for warning in result.ignore_warnings]
    if extra:
        ElementTree.SubElement(suite, "system-out").text = "\n".join(extra)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"

"""The round trip in each report format; report.py calls one function per format."""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.etree import ElementTree

if TYPE_CHECKING:
    from drift_job.report import CheckResult
    from drift_job.roundtrip import RoundTrip

CASE_NAME = "downgrades restore the schema"


def _summary(trip: RoundTrip) -> str:
    kept = f" ({len(trip.kept)} left applied, up to {trip.kept[-1]})" if trip.kept else ""
    if not trip.checked and not trip.findings:
        return f"round trip: no revision downgraded{kept}"
    done = f"{len(trip.checked)} revision(s) downgraded one at a time{kept}, then upgraded again"
    if not trip.findings:
        return (
            f"round trip: {done}: each downgrade restored the schema as it was before its "
            "revision, and the upgrade rebuilt the schema of the first"
        )
    return f"ROUND TRIP FAILED: {len(trip.findings)} finding(s); {done}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _skips(trip: RoundTrip) -> list[str]:
    return [f"not downgraded: {s['revision']} ({s['file']}): {s['reason']}" for s in trip.skipped]


def text_lines(result: CheckResult) -> list[str]:
    """After the models' verdict: what the round trip did and each finding."""
    trip = result.roundtrip
    if trip is None:
        return []
    lines = [_summary(trip)]
    lines += [f"  - {f.detail}  [{f.kind}]" for f in trip.findings]
    lines += [f"  {line}" for line in _skips(trip)]
    return lines


def markdown_lines(result: CheckResult) -> list[str]:
    trip = result.roundtrip
    if trip is None:
        return []
    lines = ["", f"**{_summary(trip)}**" if trip.findings else _summary(trip)]
    if trip.findings:
        lines += ["", "| kind | revision | file | object | detail |", "|---|---|---|---|---|"]
        lines += [
            f"| `{f.kind}` | `{f.revision or 'head'}` | `{f.file or ''}` | `{f.path or ''}` | "
            f"{_cell(f.detail)} |"
            for f in trip.findings
        ]
    skips = _skips(trip)
    return lines + (["", *(f"- {line}" for line in skips)] if skips else [])


def add_junit_case(suite: ElementTree.Element, result: CheckResult) -> None:
    """A test case of its own, and the suite's counts brought up to date."""
    trip = result.roundtrip
    if trip is None:
        return
    case = ElementTree.SubElement(suite, "testcase", classname="drift-check", name=CASE_NAME)
    failures, traces = trip.failures, trip.traces
    if failures and result.status == "error":
        error = ElementTree.SubElement(case, "error", message=failures[0].detail, type="exit 4")
        error.text = "\n".join(f.detail for f in trip.findings)
    elif trip.findings:
        message = f"{len(trip.findings)} finding(s) ({len(traces)} trace(s))"
        failure = ElementTree.SubElement(case, "failure", message=message, type="roundtrip")
        failure.text = "\n".join(f.detail for f in trip.findings)
    out = [_summary(trip), *_skips(trip)]
    ElementTree.SubElement(case, "system-out").text = "\n".join(out)
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))

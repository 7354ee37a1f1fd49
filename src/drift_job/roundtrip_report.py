"""The round trip in each report format; report.py calls one function per format."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drift_job.report import CheckResult
    from drift_job.roundtrip import RoundTrip

CASE_NAME = "downgrades restore the schema"


def summary(trip: RoundTrip) -> str:
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


def skips(trip: RoundTrip) -> list[str]:
    return [f"not downgraded: {s['revision']} ({s['file']}): {s['reason']}" for s in trip.skipped]


def text_lines(result: CheckResult) -> list[str]:
    """After the models' verdict: what the round trip did and each finding."""
    trip = result.roundtrip
    if trip is None:
        return []
    lines = [summary(trip)]
    lines += [f"  - {f.detail}  [{f.kind}]" for f in trip.findings]
    lines += [f"  {line}" for line in skips(trip)]
    return lines

"""The downgrade round trip's findings and its part of the verdict.

The round trip runs in the worker (:mod:`drift_job.worker.roundtrip`); this side asks for it
in the job and turns what comes back into the result: a downgrade that raises fails the check
with exit 4, a trace one leaves (or a difference after upgrading again) is drift, exit 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from drift_job.errors import ExitCode
from drift_job.worker.protocol import DOWNGRADE_FAILED, UPGRADE_FAILED

if TYPE_CHECKING:
    from drift_job.report import CheckResult
    from drift_job.settings import Settings

FAILURES = (DOWNGRADE_FAILED, UPGRADE_FAILED)


@dataclass(frozen=True)
class RoundTripFinding:
    """One revision whose downgrade (or re-upgrade) raised or did not restore the schema.

    ``kind`` and ``path`` (with ``object_type``) identify it across runs: ``roundtrip_leftover``
    ``enum`` ``order_status`` is the same finding whatever the detail says.
    """

    kind: str
    detail: str
    #: The revision undone (or redone) when it happened; None for the final comparison.
    revision: str | None = None
    file: str | None = None
    #: "downgrade", or "upgrade" for the upgrade back to head.
    step: str = "downgrade"
    object_type: str | None = None
    schema: str | None = None
    table: str | None = None
    column: str | None = None
    object: str | None = None
    path: str | None = None

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> RoundTripFinding:
        known: dict[str, Any] = {n: data[n] for n in cls.__dataclass_fields__ if n in data}
        return cls(**known)

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


@dataclass
class RoundTrip:
    """What the round trip did and found."""

    findings: list[RoundTripFinding] = field(default_factory=list)
    #: Revisions downgraded (and upgraded again), in the order they were downgraded.
    checked: list[str] = field(default_factory=list)
    #: Revisions left applied: at and below DRIFT_ROUNDTRIP_TO or a skipped revision.
    kept: list[str] = field(default_factory=list)
    #: {"revision", "file", "reason"} for each DRIFT_ROUNDTRIP_SKIP entry.
    skipped: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> RoundTrip:
        return cls(
            findings=[RoundTripFinding.from_message(f) for f in data.get("findings", [])],
            checked=[str(r) for r in data.get("checked", [])],
            kept=[str(r) for r in data.get("kept", [])],
            skipped=[{k: str(v) for k, v in s.items()} for s in data.get("skipped", [])],
        )

    @property
    def failures(self) -> list[RoundTripFinding]:
        return [f for f in self.findings if f.kind in FAILURES]

    @property
    def traces(self) -> list[RoundTripFinding]:
        return [f for f in self.findings if f.kind not in FAILURES]

    def as_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.as_dict() for f in self.findings],
            "checked": self.checked,
            "kept": self.kept,
            "skipped": self.skipped,
        }


def job_options(settings: Settings) -> dict[str, Any] | None:
    """What the worker is told (None: no round trip)."""
    if not settings.roundtrip:
        return None
    return {"to": settings.roundtrip_to, "skip": [list(pair) for pair in settings.roundtrip_skip]}


def _fails(trip: RoundTrip) -> list[RoundTripFinding]:
    """What makes the run exit 4: a downgrade that raised; an upgrade back to head that raised
    when no downgrade left a trace (a leftover makes the re-upgrade collide with it: then the
    trace is the finding, and the collision its consequence)."""
    if trip.traces:
        return [f for f in trip.failures if f.kind == DOWNGRADE_FAILED]
    return trip.failures


def record_roundtrip(result: CheckResult, message: dict[str, Any] | None) -> None:
    """What the worker's round trip found, before ignore rules and the verdict."""
    if message is not None:
        result.roundtrip = RoundTrip.from_message(message)


def apply_verdict(result: CheckResult) -> None:
    """Fold the round trip (its accepted findings set aside) into the models' verdict."""
    trip = result.roundtrip
    if trip is None:
        return
    failing = _fails(trip)
    others = [f for f in trip.findings if f not in failing]
    if failing:
        models = f"; {result.message}" if result.status == "drift" else ""
        also = f"; also {'; '.join(f.detail for f in others)}" if others else ""
        result.message = f"round trip: {'; '.join(f.detail for f in failing)}{also}{models}"
        result.status, result.exit_code = "error", ExitCode.MIGRATIONS_FAILED
        result.failed_stage = "roundtrip"
        return
    if not trip.findings:
        return
    count = f"round trip: {len(trip.findings)} finding(s) after {len(trip.checked)} downgrade(s)"
    if result.status == "drift":
        result.message = f"{result.message}; {count}"
    else:
        result.status, result.exit_code, result.message = "drift", ExitCode.DRIFT, count

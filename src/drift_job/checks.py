"""The checks a run is made of, as CI reports show them: one JUnit test case per check.

The built-in checks (settings, migrations, autogenerate pass, catalog pass) are derived from
the result; any other check (a downgrade round trip, a migration lint) appends a
:class:`CheckOutcome` to ``CheckResult.checks`` and every report format shows it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
STATUSES = (PASSED, FAILED, ERROR, SKIPPED)


@dataclass(frozen=True)
class Finding:
    """One thing a check found: a JUnit failure, a SARIF result, a GitHub annotation."""

    #: A short, stable name for what was found (the SARIF rule), e.g. ``add_column``.
    rule: str
    message: str
    #: More lines for the JUnit failure text (each side's rendering, for a difference).
    detail: str = ""
    #: Where it is: an absolute path and a line from 1; None for the project's env.py.
    file: str | None = None
    line: int | None = None


@dataclass
class CheckOutcome:
    """The result of one check."""

    name: str
    status: str
    findings: list[Finding] = field(default_factory=list)
    #: Why it failed, errored or was skipped, in one line.
    message: str = ""
    seconds: float = 0.0
    #: Lines worth keeping with it (JUnit ``system-out``): information, accepted differences.
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"check status {self.status!r} is not one of {', '.join(STATUSES)}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

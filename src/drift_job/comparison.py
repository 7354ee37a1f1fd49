"""The comparison's model: one :class:`Difference` per way the models and the migrated
schema disagree, whichever pass found it.

The autogenerate pass runs in the worker (:mod:`drift_job.worker.autogenerate`), because it
needs the project's env.py, and sends each difference in this shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Difference:
    """One way the models and the migrated schema disagree."""

    kind: str
    table: str | None
    column: str | None
    detail: str

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)

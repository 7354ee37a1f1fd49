"""The comparison's model: one :class:`Difference` per way the models and the migrated
schema disagree, whichever pass found it.

The autogenerate pass runs in the worker (:mod:`drift_job.worker.autogenerate`), because it
needs the project's env.py, and sends each difference in this shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Difference:
    """One way the models and the migrated schema disagree, and which pass found it."""

    kind: str
    table: str | None
    column: str | None
    detail: str
    source: str = "autogenerate"
    schema: str | None = None
    #: The index, constraint, enum or sequence concerned.
    object: str | None = None
    #: Each side's rendering (the server's, for the catalog pass); None when absent there.
    migrations: str | None = None
    models: str | None = None
    #: What Alembic's include_object hook calls the object ("table", "column", "index"…).
    object_type: str | None = None

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> Difference:
        """From the worker's message; keys this version does not know are left out."""
        known: dict[str, Any] = {n: data[n] for n in cls.__dataclass_fields__ if n in data}
        return cls(**known)

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


@dataclass(frozen=True)
class Information:
    """An object the models cannot express (a function, view, trigger…) that only the
    migrations create: listed, and drift only with ``--strict``."""

    kind: str
    detail: str
    schema: str | None = None
    table: str | None = None
    object: str | None = None

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> Information:
        known: dict[str, Any] = {n: data[n] for n in cls.__dataclass_fields__ if n in data}
        return cls(**known)

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)

    def as_difference(self) -> Difference:
        """Under ``--strict``: drift, found by the catalog pass."""
        return Difference(
            f"extra_{self.kind}", self.table, None, self.detail, "catalog", self.schema, self.object
        )

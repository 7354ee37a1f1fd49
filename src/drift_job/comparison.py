"""The comparison's model: one :class:`Difference` per way the models and the migrated
schema disagree, whichever pass found it.

The autogenerate pass runs in the worker (:mod:`drift_job.worker.autogenerate`), because it
needs the project's env.py, and sends each difference in this shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: Bumped whenever a difference's kind, path or renderings change for the same schemas, so
#: accepted differences and stored reports can tell an upgrade of drift-check from drift.
NORMALISER_VERSION = 1


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
    #: Where it is in the project's source (the model's class or column line, else env.py):
    #: an absolute path, and a line number from 1.
    file: str | None = None
    line: int | None = None

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> Difference:
        """From the worker's message; keys this version does not know are left out."""
        known: dict[str, Any] = {n: data[n] for n in cls.__dataclass_fields__ if n in data}
        return cls(**known)

    @property
    def identity(self) -> str:
        """``kind:schema.table.column`` (or ``.object``): the same difference has the same
        identity in every run, whatever its wording, so a rule written today matches it
        tomorrow."""
        return identity_of(self.kind, self.schema, self.table, self.column, self.object)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.identity, **asdict(self)}


@dataclass(frozen=True)
class Information:
    """An object the models cannot express (a function, view, trigger…) that only the
    migrations create: listed, and drift only with ``--strict``."""

    kind: str
    detail: str
    schema: str | None = None
    table: str | None = None
    object: str | None = None
    file: str | None = None
    line: int | None = None

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> Information:
        known: dict[str, Any] = {n: data[n] for n in cls.__dataclass_fields__ if n in data}
        return cls(**known)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def as_difference(self) -> Difference:
        """Under ``--strict``: drift, found by the catalog pass."""
        return Difference(
            f"extra_{self.kind}",
            self.table,
            None,
            self.detail,
            "catalog",
            self.schema,
            self.object,
            file=self.file,
            line=self.line,
        )


def identity_of(
    kind: str, schema: str | None, table: str | None, column: str | None, obj: str | None
) -> str:
    """The stable identity of a difference: its kind and the path of what it is about, with
    the default schema spelled out (both passes leave ``public`` unnamed)."""
    path = [schema or "public", *(part for part in (table, column or obj) if part)]
    return f"{kind}:{'.'.join(path)}"

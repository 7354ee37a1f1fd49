"""Two catalog snapshots of the same database compared exactly, object by object.

The round trip compares a database with an earlier state of itself, so unlike the catalog
pass (models against migrations) nothing is matched loosely: names count, and every attribute
the snapshot records must be equal. Only column order is ignored (a downgrade that re-adds a
column puts it last). Each difference is a trace: something left behind, something removed,
or something changed, with a stable identity (object type and path) for ignore rules.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from .catalog_compare import qualified, shown_schema

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .catalog import Column, Snapshot, Table

    Entry = dict[str, Any]

LEFTOVER = "roundtrip_leftover"
MISSING = "roundtrip_missing"
CHANGED = "roundtrip_changed"


@dataclasses.dataclass(frozen=True)
class Where:
    """How one comparison is described: who acted, and which state it is measured against."""

    subject: str  # "downgrade of 0002 (0002_orders.py)"
    expected: str  # "before 0002"


@dataclasses.dataclass(frozen=True)
class Item:
    """One object of a snapshot: its identity, how it is named in a sentence, its state."""

    object_type: str
    schema: str | None
    table: str | None
    column: str | None
    name: str
    shown: str  # "enum order_status", "column notes.body"
    state: dict[str, Any]

    @property
    def path(self) -> str:
        if self.object_type == "schema":
            return self.name
        parts = [shown_schema(self.schema), self.table, self.column]
        if self.object_type not in ("table", "column"):
            parts.append(self.name)
        return ".".join(p for p in parts if p)


def _state(value: Any, *leave_out: str) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(value).items() if k not in leave_out}


def _table_items(table: Table) -> Iterable[Item]:
    name = qualified(table.schema, table.name)
    yield Item(
        "table",
        table.schema,
        table.name,
        None,
        table.name,
        f"table {name}",
        _state(table, "columns"),
    )
    for column in table.columns:
        yield _column_item(table, column)


def _column_item(table: Table, column: Column) -> Item:
    name = qualified(table.schema, table.name)
    return Item(
        "column",
        table.schema,
        table.name,
        column.name,
        column.name,
        f"column {name}.{column.name}",
        _state(column),
    )


def items(snapshot: Snapshot) -> dict[tuple[str, ...], Item]:
    """Every object of a snapshot by identity (type, schema, table, name)."""
    found: list[Item] = [
        Item("schema", name, None, None, name, f"schema {name}", {}) for name in snapshot.schemas
    ]
    for table in snapshot.tables:
        found.extend(_table_items(table))
    for c in snapshot.constraints:
        shown = f"constraint {c.name} on {qualified(c.schema, c.table)}"
        found.append(Item("constraint", c.schema, c.table, None, c.name, shown, _state(c)))
    for i in snapshot.indexes:
        shown = f"index {qualified(i.schema, i.name)}"
        found.append(Item("index", i.schema, i.table, None, i.name, shown, _state(i, "structure")))
    for e in snapshot.enums:
        shown = f"enum {qualified(e.schema, e.name)} ({', '.join(e.labels)})"
        found.append(Item("enum", e.schema, None, None, e.name, shown, _state(e)))
    for s in snapshot.sequences:
        shown = f"sequence {qualified(s.schema, s.name)}"
        found.append(Item("sequence", s.schema, None, None, s.name, shown, _state(s)))
    for o in snapshot.objects:
        name = o.name if o.signature is None else f"{o.name}({o.signature})"
        on = f" on {qualified(o.schema, o.table)}" if o.table else ""
        where = o.name if o.table or o.schema is None else qualified(o.schema, name)
        shown = f"{o.kind.replace('_', ' ')} {where}{on}"
        found.append(Item(o.kind, o.schema, o.table, None, name, shown, _state(o)))
    return {(i.object_type, i.schema or "", i.table or "", i.name): i for i in found}


def _entry(kind: str, item: Item, detail: str, **sides: str | None) -> Entry:
    return {
        "kind": kind,
        "object_type": item.object_type,
        "schema": shown_schema(item.schema),
        "table": item.table,
        "column": item.column,
        "object": None if item.object_type in ("table", "column") else item.name,
        "path": item.path,
        "detail": detail,
        **sides,
    }


def _changes(before: Item, after: Item, where: Where) -> str:
    changed = [k for k in before.state if before.state[k] != after.state.get(k)]

    def shown(value: Any) -> str:
        return "none" if value is None else str(value)

    return "; ".join(
        f"{key} {shown(before.state[key])} {where.expected}, {shown(after.state.get(key))} now"
        for key in changed
    )


def traces(actual: Snapshot, expected: Snapshot, where: Where) -> list[Entry]:
    """What differs between the database now (``actual``) and the state it should be in."""
    now, then = items(actual), items(expected)
    found: list[Entry] = []
    for key in sorted(now.keys() | then.keys()):
        after, before = now.get(key), then.get(key)
        if before is None and after is not None:
            if _inside_reported(key, now, then):
                continue
            detail = f"{where.subject} leaves {after.shown} behind (not there {where.expected})"
            found.append(_entry(LEFTOVER, after, detail))
        elif after is None and before is not None:
            if _inside_reported(key, then, now):
                continue
            detail = f"{where.subject} removes {before.shown} (there {where.expected})"
            found.append(_entry(MISSING, before, detail))
        elif before is not None and after is not None and before.state != after.state:
            detail = f"{where.subject} changes {after.shown}: {_changes(before, after, where)}"
            found.append(_entry(CHANGED, after, detail))
    return found


def _inside_reported(
    key: tuple[str, ...], side: dict[tuple[str, ...], Item], other: dict[tuple[str, ...], Item]
) -> bool:
    """A column, constraint or index of a table that is itself reported as a whole."""
    object_type, schema, table, _ = key
    if object_type == "table" or not table:
        return False
    table_key = ("table", schema, table, table)
    return table_key in side and table_key not in other

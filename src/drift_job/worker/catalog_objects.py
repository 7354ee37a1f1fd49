"""Constraints, indexes, enums, sequences and the objects models cannot express, compared.

Constraints and indexes are paired by structure first: the same definition on the same
table is the same object, whatever its name. What is left is paired by name (the same
name with another definition is one modified object), and the rest exists on one side only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .catalog_compare import (
    CONSTRAINT_TYPES,
    entry,
    group,
    looks_generated,
    qualified,
    shown_schema,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .catalog import CatalogObject, Snapshot, Table

    Entry = dict[str, Any]


def _check_body(definition: str) -> str:
    """``CHECK ((a > 0))`` read as ``(a > 0)``, as the CHECK was written."""
    if definition.startswith("CHECK (") and definition.endswith(")"):
        return definition[len("CHECK (") : -1]
    return definition


def _pair(
    old: list[Any], new: list[Any], structure: Any
) -> tuple[list[tuple[Any, Any]], list[Any], list[Any]]:
    """(renamed pairs, only old, only new): same structure first, then leftovers."""
    renamed: list[tuple[Any, Any]] = []
    old_by, new_by = group(old, structure), group(new, structure)
    only_old: list[Any] = []
    only_new: list[Any] = []
    for key in sorted(old_by.keys() | new_by.keys()):
        before = sorted(old_by.get(key, []), key=lambda o: o.name)
        after = sorted(new_by.get(key, []), key=lambda o: o.name)
        same = {o.name for o in before} & {o.name for o in after}
        before = [o for o in before if o.name not in same]
        after = [o for o in after if o.name not in same]
        renamed.extend(zip(before, after))  # noqa: B905 - the leftovers are kept below
        only_old.extend(before[len(after) :])
        only_new.extend(after[len(before) :])
    return renamed, only_old, only_new


def _compare_named(
    old: list[Any],
    new: list[Any],
    tables: set[tuple[str, str]],
    structure: Any,
    describe: Any,
) -> Iterable[Entry]:
    """Constraints or indexes: renamed, modified (same name), only on one side."""
    old = [o for o in old if (o.schema, o.table) in tables]
    new = [o for o in new if (o.schema, o.table) in tables]
    renamed, only_old, only_new = _pair(old, new, structure)
    for before, after in renamed:
        yield describe("rename", before, after)
    new_by_name = {(o.schema, o.table, o.name): o for o in only_new}
    for before in only_old:
        after = new_by_name.pop((before.schema, before.table, before.name), None)
        yield describe("modify", before, after) if after else describe("remove", before, None)
    for after in new_by_name.values():
        yield describe("add", None, after)


def _described(
    change: str, old: Any, new: Any, *, label: str, object_type: str, kind: str
) -> Entry | None:
    """One entry for a rename, a modification (same name) or an object on one side only."""
    present = new if new is not None else old
    named = old if old is not None else new
    index = kind == "index"
    show = _check_body if object_type == "check_constraint" else str
    where = f"{label} {qualified(present.schema, present.table)}"
    migrations = None if old is None else old.definition
    models = None if new is None else new.definition
    if change == "rename":
        # A models' name that PostgreSQL chose means the model left it unnamed: the
        # migrations' own name (fk_cookbooks_household_id) is then no difference.
        if looks_generated(new.name, new.table, index):
            return None
        detail = (
            f"{where}: {show(new.definition)} named {old.name} in the migrations,"
            f" {new.name} in the models"
        )
        migrations, models = old.name, new.name
    elif change == "modify":
        detail = (
            f"{where}.{old.name}: migrations {show(old.definition)}, models {show(new.definition)}"
        )
    else:
        side = "models" if change == "add" else "migrations"
        detail = f"{where}.{present.name} only in the {side}: {show(present.definition)}"
    return entry(
        f"{change}_{kind}",
        object_type,
        present.schema,
        detail,
        table=present.table,
        obj=named.name,
        migrations=migrations,
        models=models,
    )


def _describe_constraint(change: str, old: Any, new: Any) -> Entry | None:
    label, object_type = CONSTRAINT_TYPES[(new if new is not None else old).contype]
    kind = (
        "fk"
        if object_type == "foreign_key_constraint" and change in ("add", "remove")
        else "constraint"
    )
    return _described(change, old, new, label=label, object_type=object_type, kind=kind)


def _describe_index(change: str, old: Any, new: Any) -> Entry | None:
    return _described(change, old, new, label="index", object_type="index", kind="index")


def constraints(old: Snapshot, new: Snapshot, tables: set[tuple[str, str]]) -> list[Entry]:
    found = _compare_named(
        old.constraints,
        new.constraints,
        tables,
        lambda c: (c.schema, c.table, c.contype, c.definition),
        _describe_constraint,
    )
    return [e for e in found if e is not None]


def indexes(old: Snapshot, new: Snapshot, tables: set[tuple[str, str]]) -> list[Entry]:
    found = _compare_named(
        old.indexes,
        new.indexes,
        tables,
        lambda i: (i.schema, i.table, i.structure),
        _describe_index,
    )
    return [e for e in found if e is not None]


def enums(old: Snapshot, new: Snapshot) -> Iterable[Entry]:
    before = {(e.schema, e.name): e.labels for e in old.enums}
    after = {(e.schema, e.name): e.labels for e in new.enums}
    for key in sorted(before.keys() | after.keys()):
        name = qualified(*key)
        old_labels = "(" + ", ".join(before[key]) + ")" if key in before else None
        new_labels = "(" + ", ".join(after[key]) + ")" if key in after else None
        if old_labels == new_labels:
            continue
        if old_labels is None or new_labels is None:
            kind, side = ("add_enum", "models") if new_labels else ("remove_enum", "migrations")
            detail = f"enum {name} only in the {side} {new_labels or old_labels}"
        else:
            kind = "modify_enum"
            detail = f"enum {name}: migrations {old_labels}, models {new_labels}"
        yield entry(
            kind, "enum", key[0], detail, obj=key[1], migrations=old_labels, models=new_labels
        )


def sequences(old: Snapshot, new: Snapshot) -> Iterable[Entry]:
    before = {(s.schema, s.name): str(s.increment) for s in old.sequences}
    after = {(s.schema, s.name): str(s.increment) for s in new.sequences}
    for key in sorted(before.keys() | after.keys()):
        old_inc, new_inc = before.get(key), after.get(key)
        name = qualified(*key)
        if old_inc == new_inc:
            continue
        if old_inc is None or new_inc is None:
            kind, side = (
                ("add_sequence", "models") if new_inc else ("remove_sequence", "migrations")
            )
            detail = f"sequence {name} only in the {side}"
        else:
            kind = "modify_sequence"
            detail = f"sequence {name} increment: migrations {old_inc}, models {new_inc}"
        yield entry(
            kind, "sequence", key[0], detail, obj=key[1], migrations=old_inc, models=new_inc
        )


def _object_name(o: CatalogObject) -> str:
    if o.signature is not None:
        return f"{o.schema}.{o.name}({o.signature})"
    if o.table is not None:
        return f"{o.name} on {qualified(o.schema, o.table)}"
    return o.name if o.schema is None else f"{o.schema}.{o.name}"


def _info(kind: str, schema: str | None, table: str | None, obj: str, detail: str) -> Entry:
    return {
        "kind": kind,
        "schema": shown_schema(schema),
        "table": table,
        "object": obj,
        "detail": detail,
    }


def _acl(acl: list[str] | None) -> str:
    return "default" if acl is None else "{" + ",".join(acl) + "}"


def _flags(table: Table) -> str:
    if not table.row_security:
        return "disabled"
    return "enabled, forced" if table.force_row_security else "enabled"


def information(old: Snapshot, new: Snapshot) -> list[Entry]:
    """Objects models cannot express, and table flags/grants that differ between the sides."""
    found: list[Entry] = []
    keys = {(o.kind, o.schema, o.table, o.name, o.signature): o for o in old.objects}
    new_keys = {(o.kind, o.schema, o.table, o.name, o.signature): o for o in new.objects}
    for key in keys.keys() ^ new_keys.keys():
        o = keys.get(key) or new_keys[key]
        side = "migrations" if key in keys else "models"
        detail = f"{o.kind.replace('_', ' ')} {_object_name(o)} (only in the {side})"
        found.append(_info(o.kind, o.schema, o.table, o.name, detail))
    after = {(t.schema, t.name): t for t in new.tables}
    for before in old.tables:
        other = after.get((before.schema, before.name))
        if other is None:
            continue
        name = qualified(before.schema, before.name)
        if _flags(before) != _flags(other):
            detail = (
                f"row-level security on {name}: migrations {_flags(before)}, models {_flags(other)}"
            )
            found.append(
                _info("row_level_security", before.schema, before.name, before.name, detail)
            )
        if before.acl != other.acl:
            detail = f"grants on {name}: migrations {_acl(before.acl)}, models {_acl(other.acl)}"
            found.append(_info("grant", before.schema, before.name, before.name, detail))
    return sorted(
        found,
        key=lambda e: (
            e["schema"] is not None,
            e["schema"] or "",
            e["table"] or "",
            e["kind"],
            e["object"],
            e["detail"],
        ),
    )

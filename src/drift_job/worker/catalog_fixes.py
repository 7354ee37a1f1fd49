"""Alembic operations that bring the migrated database to the models' state, one catalog
difference at a time (the difference dicts of catalog.compare, see the catalog pass spec).

``fixes(difference)`` returns lines for an upgrade() body, unindented: Alembic ops where one is
exact, else ``op.execute(...)`` with the SQL, else a ``# ...`` comment saying why no safe
single operation exists. The SQL is built from the server's own renderings that the difference
carries (format_type, pg_get_expr, pg_get_constraintdef, pg_get_indexdef, enum labels).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .catalog_text import (
    CONTYPES,
    INDEX_NAME,
    Difference,
    comment_line,
    execute,
    ident,
    labels,
    literal,
    note,
    split,
    text_call,
    unquote,
    within_parentheses,
)


def _table(d: Difference) -> list[str]:
    if d.kind == "remove_table":
        return [d.call("drop_table", repr(d.table_name))]
    return note(
        d,
        "autogenerate's op.create_table() creates it"
        " (a catalog difference does not carry the table's full definition)",
    )


_NOT_NULL = dict.fromkeys(("not null", "notnull", "not nullable", "true", "t"), True)
_NOT_NULL.update(dict.fromkeys(("null", "nullable", "false", "f"), False))


def _column(d: Difference) -> list[str]:
    if d.kind == "remove_column":
        return [d.call("drop_column", repr(d.table_name), repr(d.column_name))]
    if d.kind == "modify_type":
        return [d.alter_column(f"TYPE {d.new} USING {d.column}::{d.new}")]
    if d.kind == "modify_default":
        return [d.column_call(server_default=f"sa.text({text_call(d.new)})" if d.new else "None")]
    if d.kind == "modify_nullable":
        new, old = (_NOT_NULL.get((v or "").strip().lower()) for v in (d.new, d.old))
        not_null = (not old if old is not None else None) if new is None else new
        if not_null is None:
            return note(d, "cannot tell the models' nullability")
        return [d.column_call(nullable=repr(not not_null))]
    if d.new is None:
        return note(d, "the models' column definition is unknown")
    return [d.alter(f"ADD COLUMN {d.column} {d.new}")]


def _comment_fix(d: Difference) -> list[str]:
    if d.column_name is not None:
        return [d.column_call(comment=repr(d.new))]
    existing = repr(d.old) if d.old is not None else None
    if d.new is None:
        return [d.call("drop_table_comment", repr(d.table_name), existing_comment=existing)]
    args = (repr(d.table_name), repr(d.new))
    return [d.call("create_table_comment", *args, existing_comment=existing)]


def _index_name(definition: str | None) -> str | None:
    match = INDEX_NAME.match(definition or "")
    return unquote(match.group(1).strip()) if match and match.group(1) else None


def _index(d: Difference) -> list[str]:
    lines = []
    if d.old is not None:
        old = _index_name(d.old) or d.name
        lines.append(d.call("drop_index", f"op.f({old!r})", table_name=repr(d.table_name)))
    match = INDEX_NAME.match(d.new or "")
    if match and not match.group(1) and d.name:  # a structural key: the name put back
        at = match.end() - len("ON ")
        lines.append(execute(f"{d.new[:at]}{ident(d.name)} {d.new[at:]}"))  # type: ignore[index]
    elif d.new is not None:
        lines.append(execute(d.new))
    return lines


def _contype(definition: str, object_type: str) -> str:
    """A constraint's kind, from its definition, else from its include_object type."""
    for prefix, contype in CONTYPES.items():
        if definition.startswith(prefix):
            return contype
    kind = object_type.replace("_constraint", "")
    return CONTYPES.get(kind, kind)


def _constraint(d: Difference) -> list[str]:
    lines = []
    if d.old is not None:
        if not d.name:
            return note(d, "the constraint has no name to drop it by")
        contype = _contype(d.old, d.object_type)
        type_ = repr(contype) if contype in ("check", "unique", "foreignkey", "primary") else None
        name = f"op.f({d.name!r})"
        lines.append(d.call("drop_constraint", name, repr(d.table_name), type_=type_))
    if d.new is not None:
        lines.append(_add_constraint(d, d.new))
    return lines


def _add_constraint(d: Difference, definition: str) -> str:
    contype = _contype(definition, d.object_type)
    if contype == "check" and not definition.startswith("CHECK"):
        definition = f"CHECK ({definition})"  # the bare expression
    head, _, rest = definition.partition(" (")
    inner = within_parentheses("(" + rest)
    table = repr(d.table_name)
    if d.name and inner is not None and head == "CHECK":
        return d.call("create_check_constraint", f"op.f({d.name!r})", table, text_call(inner))
    if d.name and inner is not None and head == "PRIMARY KEY":
        columns = ", ".join(repr(unquote(c)) for c in split(inner))
        return d.call("create_primary_key", f"op.f({d.name!r})", table, f"[{columns}]")
    return d.alter(
        f"ADD CONSTRAINT {ident(d.name)} {definition}" if d.name else f"ADD {definition}"
    )


_NAME = r'("(?:[^"]|"")+"|[^\s,:()"]+)'


def _name_in(text: str | None) -> str | None:
    """A name rendered alone, or the name in an index definition."""
    if text is None:
        return None
    if text.startswith("CREATE "):
        return _index_name(text)
    match = re.fullmatch(_NAME, text.strip())
    return unquote(match.group(1)) if match else None


def _last(name: str) -> str:
    parts = re.findall(r'"(?:[^"]|"")+"|[^.]+', name)
    return unquote(parts[-1]) if parts else name


def _rename(d: Difference) -> list[str]:
    old, new = _name_in(d.old), _name_in(d.new)
    match = re.search(
        rf"migrations {_NAME},? models {_NAME}|{_NAME} (?:renamed to|->) {_NAME}", d.detail
    )
    if match and not (old and new):
        found = [g for g in match.groups() if g]
        old, new = old or _last(found[0]), new or _last(found[1])
    if d.name and old and not new and d.name != old:
        new = d.name
    if d.name and new and not old and d.name != new:
        old = d.name
    if not (old and new):
        return note(d, "cannot tell the old and the new name")
    if d.kind == "rename_index":
        return [execute(f"ALTER INDEX {d.object(old)} RENAME TO {ident(new)}")]
    return [d.alter(f"RENAME CONSTRAINT {ident(old)} TO {ident(new)}")]


def _enum(d: Difference) -> list[str]:
    name = d.object()
    old, new = labels(d.old), labels(d.new)
    if d.kind == "add_enum":
        return [execute(f"CREATE TYPE {name} AS ENUM ({', '.join(map(literal, new))})")]
    if d.kind == "remove_enum":
        return [execute(f"DROP TYPE {name}")]
    if [label for label in new if label in old] != old:
        return note(
            d,
            "PostgreSQL cannot drop or reorder enum labels, so no single safe"
            " operation exists; recreate the type (CREATE TYPE with the models' labels,"
            " ALTER each column TYPE ... USING col::text::new_type, DROP TYPE, RENAME)",
        )
    lines = []
    for i, label in enumerate(new):
        if label in old:
            continue
        following = next((later for later in new[i + 1 :] if later in old), None)
        if following is not None:
            where = f" BEFORE {literal(following)}"
        else:
            where = f" AFTER {literal(new[i - 1])}" if i else ""
        lines.append(execute(f"ALTER TYPE {name} ADD VALUE {literal(label)}{where}"))
    return lines


def _identity_fix(d: Difference) -> list[str]:
    old, new = (
        "ALWAYS"
        if "always" in t or t == "a"
        else "BY DEFAULT"
        if "default" in t or t == "d"
        else None
        for t in ((v or "").strip().lower() for v in (d.old, d.new))
    )
    if new is None:
        return [d.alter_column("DROP IDENTITY")] if old else []
    if old is not None:
        return [d.alter_column(f"SET GENERATED {new}")]
    column, generated = f"ALTER COLUMN {d.column}", f"GENERATED {new} AS IDENTITY"
    sequence = f"pg_get_serial_sequence({literal(d.table)}, {literal(d.column_name or '')})"
    return [
        d.alter(f"{column} DROP DEFAULT, {column} SET NOT NULL, {column} ADD {generated}"),
        execute(
            f"SELECT setval({sequence}, GREATEST(COALESCE(max({d.column}), 0) + 1, 1), false)"  # noqa: S608
            f" FROM {d.table}"
        ),
    ]


def _generated(d: Difference) -> list[str]:
    old, new = (  # the expression alone, were "GENERATED ALWAYS AS" or "STORED" around it
        re.sub(r"(?i)^\s*GENERATED ALWAYS AS\s+|\s+(STORED|VIRTUAL)\s*$", "", v or "").strip()
        or None
        for v in (d.old, d.new)
    )
    if new is None:
        return [d.alter_column("DROP EXPRESSION")] if old else []
    if old is None:
        return note(
            d,
            f"PostgreSQL cannot make an existing column generated; drop it and"
            f" add it again as GENERATED ALWAYS AS ({new}) STORED",
        )
    return [
        comment_line("SET EXPRESSION needs PostgreSQL 17+ (before: drop and add the column again)"),
        d.alter_column(f"SET EXPRESSION AS ({new})"),
    ]


def _collation(d: Difference) -> list[str]:
    collation = (d.new or "").strip()
    if not collation or collation == "default":
        collation = '"default"'
    elif '"' not in collation and "." not in collation:
        collation = ident(collation)
    table, column = literal(d.table), literal(d.column_name or "")
    current_type = (
        "(SELECT format_type(atttypid, atttypmod) FROM pg_attribute"  # noqa: S608
        f" WHERE attrelid = {table}::regclass AND attname = {column})"
    )
    # The difference carries the collation, not the type: the statement reads the column's type.
    return [
        execute(
            "DO $fix$BEGIN EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE %s COLLATE %s', "
            f"{table}::regclass, {column}, {current_type}, {literal(collation)}); END$fix$"
        )
    ]


def _schema(d: Difference) -> list[str]:
    name = ident(d.name or d.schema or "")
    return [execute(f"{'CREATE' if d.kind == 'add_schema' else 'DROP'} SCHEMA {name}")]


def _sequence(d: Difference) -> list[str]:
    match = re.search(r"(?i)increment(?:\s+by)?\D*?(-?\d+)|^\s*(-?\d+)\s*$", d.new or "")
    increment = (match.group(1) or match.group(2)) if match else None
    if d.kind == "remove_sequence":
        return [execute(f"DROP SEQUENCE {d.object()}")]
    if d.kind == "add_sequence":
        by = f" INCREMENT BY {increment}" if increment not in (None, "1") else ""
        return [execute(f"CREATE SEQUENCE {d.object()}{by}")]
    if increment is None:
        return note(d, "cannot tell the models' increment")
    return [execute(f"ALTER SEQUENCE {d.object()} INCREMENT BY {increment}")]


_HANDLERS: dict[str, Callable[[Difference], list[str]]] = {
    kind: handler
    for handler, kinds in (
        (_table, "add_table remove_table"),
        (_column, "add_column remove_column modify_type modify_nullable modify_default"),
        (
            _comment_fix,
            "modify_comment add_table_comment remove_table_comment modify_table_comment",
        ),
        (_index, "add_index remove_index modify_index"),
        (_constraint, "add_constraint remove_constraint add_fk remove_fk modify_constraint"),
        (_rename, "rename_index rename_constraint"),
        (_enum, "modify_enum add_enum remove_enum"),
        (_identity_fix, "modify_identity"),
        (_generated, "modify_generated"),
        (_collation, "modify_collation"),
        (_sequence, "add_sequence remove_sequence modify_sequence"),
        (_schema, "add_schema remove_schema"),
    )
    for kind in kinds.split()
}


def fixes(difference: dict[str, Any]) -> list[str]:
    """Lines of an upgrade() body (unindented) that bring the migrated database to the models'
    state for one catalog difference; ``[]`` if none is needed, a ``# ...`` line when no safe
    operation exists."""
    d = Difference(difference)
    handler = _HANDLERS.get(d.kind)
    if handler is None:
        return note(d, f"no automatic fix for a {d.kind or 'difference'}")
    return handler(d)

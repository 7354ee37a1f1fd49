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

# Keywords that cannot be a bare table, column, index or type name (PostgreSQL's reserved and
# type/function-name keywords); every other name only needs quotes when it is not lower case.
_KEYWORDS = """all analyse analyze and any array as asc asymmetric authorization binary both
    case cast check collate collation column concurrently constraint create cross current_catalog
    current_date current_role current_schema current_time current_timestamp current_user default
    deferrable desc distinct do else end except false fetch for foreign freeze from full grant
    group having ilike in initially inner intersect into is isnull join lateral leading left like
    limit localtime localtimestamp natural not notnull null offset on only or order outer
    overlaps placing primary references returning right select session_user similar some
    symmetric system_user table tablesample then to trailing true union unique user using
    variadic verbose when where window with"""
_RESERVED = frozenset(_KEYWORDS.split())
_PLAIN = re.compile(r"[a-z_][a-z0-9_$]*\Z")
_BIND = re.compile(r"(?<![:\w\\]):(?=\w)")  # what sqlalchemy.text() would take for a parameter
_INDEX_NAME = re.compile(
    r'CREATE (?:UNIQUE )?INDEX (?:CONCURRENTLY )?((?:"(?:[^"]|"")+"|\S+) )?ON '
)
_CONTYPES = (
    ("PRIMARY KEY", "primary"),
    ("FOREIGN KEY", "foreignkey"),
    ("UNIQUE", "unique"),
    ("CHECK", "check"),
    ("EXCLUDE", "exclusion"),
)
_OBJECT_TYPES = {
    "primary_key": "primary",
    "foreign_key_constraint": "foreignkey",
    "unique_constraint": "unique",
    "check_constraint": "check",
    "exclusion_constraint": "exclusion",
}


def ident(name: str) -> str:
    """``name`` as a PostgreSQL identifier: double-quoted when it has to be."""
    if _PLAIN.match(name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str | None, name: str) -> str:
    return name if schema is None else f"{ident(schema)}.{name}"


def literal(value: str) -> str:
    """``value`` as an SQL string literal (standard_conforming_strings, as on every server)."""
    return "'" + value.replace("'", "''") + "'"


def _text(sql: str) -> str:
    """``sql`` as the Python literal of a string that becomes ``sqlalchemy.text()``."""
    return repr(_BIND.sub(r"\\:", sql))


def _execute(sql: str) -> str:
    return f"op.execute({_text(sql)})"


def _args(*args: str, **kwargs: str | None) -> str:
    """Positional arguments already rendered, keyword arguments rendered unless None."""
    rendered = list(args) + [f"{k}={v}" for k, v in kwargs.items() if v is not None]
    return ", ".join(rendered)


def _comment(text: str) -> str:
    return "# " + " ".join(text.split())


def _unquote(name: str) -> str:
    if len(name) > 1 and name[0] == name[-1] == '"':
        return name[1:-1].replace('""', '"')
    return name


def _split(text: str, sep: str = ",") -> list[str]:
    """Split at top-level ``sep``: not inside parentheses, 'literals' or "identifiers"."""
    parts: list[str] = []
    depth, quote, start = 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote  # a doubled quote re-enters at once: same effect
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _inner(text: str) -> str | None:
    """What is inside ``text``'s outer parentheses when they enclose all of it, else None."""
    text = text.strip()
    if not (text.startswith("(") and text.endswith(")")):
        return None
    depth, quote = 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "()":
            depth += 1 if ch == "(" else -1
            if depth == 0 and i != len(text) - 1:
                return None
    return text[1:-1]


def _labels(rendering: str | None) -> list[str]:
    inner = _inner(rendering or "()")
    return [label.strip() for label in (inner or "").split(", ") if label.strip()]


class _Difference:
    """The parts of one difference dict, with the table and column already quoted."""

    def __init__(self, difference: dict[str, Any]) -> None:
        self.raw = difference
        self.kind = str(difference.get("kind") or "")
        self.schema: str | None = difference.get("schema")
        self.table_name: str | None = difference.get("table")
        self.column_name: str | None = difference.get("column")
        self.name: str | None = difference.get("object")
        self.old: str | None = difference.get("migrations")
        self.new: str | None = difference.get("models")
        self.detail = str(difference.get("detail") or self.kind)
        self.object_type = str(difference.get("object_type") or "")
        self.table = qualified(self.schema, ident(self.table_name or ""))
        self.column = ident(self.column_name or "")

    def alter(self, action: str) -> str:
        return _execute(f"ALTER TABLE {self.table} {action}")

    def alter_column(self, action: str) -> str:
        return self.alter(f"ALTER COLUMN {self.column} {action}")

    def object(self, name: str | None = None) -> str:
        return qualified(self.schema, ident(name or self.name or ""))

    def call(self, op: str, *args: str, **kwargs: str | None) -> str:
        schema = repr(self.schema) if self.schema is not None else None
        return f"op.{op}({_args(*args, **kwargs, schema=schema)})"

    def column_call(self, **kwargs: str | None) -> str:
        return self.call("alter_column", repr(self.table_name), repr(self.column_name), **kwargs)


def _table(d: _Difference) -> list[str]:
    if d.kind == "remove_table":
        return [d.call("drop_table", repr(d.table_name))]
    return [
        _comment(
            f"{d.detail}: autogenerate's op.create_table() creates it"
            " (a catalog difference does not carry the table's full definition)"
        )
    ]


def _column(d: _Difference) -> list[str]:
    if d.kind == "remove_column":
        return [d.call("drop_column", repr(d.table_name), repr(d.column_name))]
    if d.new is None:
        return [_comment(f"{d.detail}: the models' column definition is unknown")]
    return [d.alter(f"ADD COLUMN {d.column} {d.new}")]


def _not_null(value: str | None) -> bool | None:
    text = (value or "").strip().lower()
    if text in ("not null", "notnull", "not nullable", "true", "t"):
        return True
    if text in ("null", "nullable", "false", "f"):
        return False
    return None


def _nullable(d: _Difference) -> list[str]:
    not_null = _not_null(d.new)
    if not_null is None and _not_null(d.old) is not None:
        not_null = not _not_null(d.old)
    if not_null is None:
        return [_comment(f"{d.detail}: cannot tell the models' nullability")]
    return [d.column_call(nullable=repr(not not_null))]


def _type(d: _Difference) -> list[str]:
    return [d.alter_column(f"TYPE {d.new} USING {d.column}::{d.new}")]


def _default(d: _Difference) -> list[str]:
    return [d.column_call(server_default=f"sa.text({_text(d.new)})" if d.new else "None")]


def _comment_fix(d: _Difference) -> list[str]:
    if d.column_name is not None:
        return [d.column_call(comment=repr(d.new))]
    existing = repr(d.old) if d.old is not None else None
    if d.new is None:
        return [d.call("drop_table_comment", repr(d.table_name), existing_comment=existing)]
    args = (repr(d.table_name), repr(d.new))
    return [d.call("create_table_comment", *args, existing_comment=existing)]


def _index_name(definition: str | None) -> str | None:
    match = _INDEX_NAME.match(definition or "")
    return _unquote(match.group(1).strip()) if match and match.group(1) else None


def _index(d: _Difference) -> list[str]:
    lines = []
    if d.old is not None:
        old = _index_name(d.old) or d.name
        lines.append(d.call("drop_index", f"op.f({old!r})", table_name=repr(d.table_name)))
    match = _INDEX_NAME.match(d.new or "")
    if match and not match.group(1) and d.name:  # a structural key: the name put back
        at = match.end() - len("ON ")
        lines.append(_execute(f"{d.new[:at]}{ident(d.name)} {d.new[at:]}"))  # type: ignore[index]
    elif d.new is not None:
        lines.append(_execute(d.new))
    return lines


def _contype(definition: str, object_type: str) -> str:
    for prefix, contype in _CONTYPES:
        if definition.startswith(prefix):
            return contype
    return _OBJECT_TYPES.get(object_type, "")


def _constraint(d: _Difference) -> list[str]:
    lines = []
    if d.old is not None:
        if not d.name:
            return [_comment(f"{d.detail}: the constraint has no name to drop it by")]
        contype = _contype(d.old, d.object_type)
        type_ = repr(contype) if contype in ("check", "unique", "foreignkey", "primary") else None
        name = f"op.f({d.name!r})"
        lines.append(d.call("drop_constraint", name, repr(d.table_name), type_=type_))
    if d.new is not None:
        lines.append(_add_constraint(d, d.new))
    return lines


def _add_constraint(d: _Difference, definition: str) -> str:
    contype = _contype(definition, d.object_type)
    if contype == "check" and not definition.startswith("CHECK"):
        definition = f"CHECK ({definition})"  # the bare expression
    head, _, rest = definition.partition(" (")
    inner = _inner("(" + rest)
    table = repr(d.table_name)
    if d.name and inner is not None and head == "CHECK":
        return d.call("create_check_constraint", f"op.f({d.name!r})", table, _text(inner))
    if d.name and inner is not None and head == "PRIMARY KEY":
        columns = ", ".join(repr(_unquote(c)) for c in _split(inner))
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
    return _unquote(match.group(1)) if match else None


def _last(name: str) -> str:
    parts = re.findall(r'"(?:[^"]|"")+"|[^.]+', name)
    return _unquote(parts[-1]) if parts else name


def _rename(d: _Difference) -> list[str]:
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
        return [_comment(f"{d.detail}: cannot tell the old and the new name")]
    if d.kind == "rename_index":
        return [_execute(f"ALTER INDEX {d.object(old)} RENAME TO {ident(new)}")]
    return [d.alter(f"RENAME CONSTRAINT {ident(old)} TO {ident(new)}")]


def _enum(d: _Difference) -> list[str]:
    name = d.object()
    old, new = _labels(d.old), _labels(d.new)
    if d.kind == "add_enum":
        return [_execute(f"CREATE TYPE {name} AS ENUM ({', '.join(map(literal, new))})")]
    if d.kind == "remove_enum":
        return [_execute(f"DROP TYPE {name}")]
    if [label for label in new if label in old] != old:
        return [
            _comment(
                f"{d.detail}: PostgreSQL cannot drop or reorder enum labels, so no single safe"
                " operation exists; recreate the type (CREATE TYPE with the models' labels,"
                " ALTER each column TYPE ... USING col::text::new_type, DROP TYPE, RENAME)"
            )
        ]
    lines = []
    for i, label in enumerate(new):
        if label in old:
            continue
        following = next((later for later in new[i + 1 :] if later in old), None)
        if following is not None:
            where = f" BEFORE {literal(following)}"
        else:
            where = f" AFTER {literal(new[i - 1])}" if i else ""
        lines.append(_execute(f"ALTER TYPE {name} ADD VALUE {literal(label)}{where}"))
    return lines


def _identity(value: str | None) -> str | None:
    text = (value or "").strip().lower()
    if text == "a" or "always" in text:
        return "ALWAYS"
    if text == "d" or "default" in text:
        return "BY DEFAULT"
    return None


def _identity_fix(d: _Difference) -> list[str]:
    old, new = _identity(d.old), _identity(d.new)
    if new is None:
        return [d.alter_column("DROP IDENTITY")] if old else []
    if old is not None:
        return [d.alter_column(f"SET GENERATED {new}")]
    column, generated = f"ALTER COLUMN {d.column}", f"GENERATED {new} AS IDENTITY"
    sequence = f"pg_get_serial_sequence({literal(d.table)}, {literal(d.column_name or '')})"
    return [
        d.alter(f"{column} DROP DEFAULT, {column} SET NOT NULL, {column} ADD {generated}"),
        _execute(
            f"SELECT setval({sequence}, GREATEST(COALESCE(max({d.column}), 0) + 1, 1), false)"  # noqa: S608
            f" FROM {d.table}"
        ),
    ]


def _expression(value: str | None) -> str | None:
    text = re.sub(r"(?i)^\s*GENERATED ALWAYS AS\s+", "", value or "")
    text = re.sub(r"(?i)\s+(STORED|VIRTUAL)\s*$", "", text).strip()
    return text or None


def _generated(d: _Difference) -> list[str]:
    old, new = _expression(d.old), _expression(d.new)
    if new is None:
        return [d.alter_column("DROP EXPRESSION")] if old else []
    if old is None:
        return [
            _comment(
                f"{d.detail}: PostgreSQL cannot make an existing column generated; drop it and"
                f" add it again as GENERATED ALWAYS AS ({new}) STORED"
            )
        ]
    return [
        _comment("SET EXPRESSION needs PostgreSQL 17+ (before: drop and add the column again)"),
        d.alter_column(f"SET EXPRESSION AS ({new})"),
    ]


def _collation(d: _Difference) -> list[str]:
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
        _execute(
            "DO $fix$BEGIN EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE %s COLLATE %s', "
            f"{table}::regclass, {column}, {current_type}, {literal(collation)}); END$fix$"
        )
    ]


def _schema(d: _Difference) -> list[str]:
    name = ident(d.name or d.schema or "")
    return [_execute(f"{'CREATE' if d.kind == 'add_schema' else 'DROP'} SCHEMA {name}")]


def _increment(value: str | None) -> str | None:
    text = value or ""
    match = re.search(r"(?i)increment(?:\s+by)?\D*?(-?\d+)", text) or re.fullmatch(
        r"\s*(-?\d+)\s*", text
    )
    return match.group(1) if match else None


def _sequence(d: _Difference) -> list[str]:
    increment = _increment(d.new)
    if d.kind == "remove_sequence":
        return [_execute(f"DROP SEQUENCE {d.object()}")]
    if d.kind == "add_sequence":
        by = f" INCREMENT BY {increment}" if increment not in (None, "1") else ""
        return [_execute(f"CREATE SEQUENCE {d.object()}{by}")]
    if increment is None:
        return [_comment(f"{d.detail}: cannot tell the models' increment")]
    return [_execute(f"ALTER SEQUENCE {d.object()} INCREMENT BY {increment}")]


_HANDLERS: dict[str, Callable[[_Difference], list[str]]] = {
    "add_table": _table,
    "remove_table": _table,
    "add_column": _column,
    "remove_column": _column,
    "modify_type": _type,
    "modify_nullable": _nullable,
    "modify_default": _default,
    "modify_comment": _comment_fix,
    "add_table_comment": _comment_fix,
    "remove_table_comment": _comment_fix,
    "modify_table_comment": _comment_fix,
    "add_index": _index,
    "remove_index": _index,
    "rename_index": _rename,
    "add_constraint": _constraint,
    "remove_constraint": _constraint,
    "add_fk": _constraint,
    "remove_fk": _constraint,
    "rename_constraint": _rename,
    "modify_enum": _enum,
    "add_enum": _enum,
    "remove_enum": _enum,
    "modify_identity": _identity_fix,
    "modify_generated": _generated,
    "modify_collation": _collation,
    "add_sequence": _sequence,
    "remove_sequence": _sequence,
    "modify_sequence": _sequence,
    "add_schema": _schema,
    "remove_schema": _schema,
}


def fixes(difference: dict[str, Any]) -> list[str]:
    """Lines of an upgrade() body (unindented) that bring the migrated database to the models'
    state for one catalog difference; ``[]`` if none is needed, a ``# ...`` line when no safe
    operation exists."""
    d = _Difference(difference)
    handler = _HANDLERS.get(d.kind)
    if handler is None:
        return [_comment(f"{d.detail}: no automatic fix for a {d.kind or 'difference'}")]
    return handler(d)

"""Alembic operations that bring the migrated database to the models' state, one catalog
difference at a time (the difference dicts of catalog.compare, see the catalog pass spec).

``fixes(difference)`` returns lines for an upgrade() body, unindented: Alembic ops where one is
exact, else ``op.execute(...)`` with the SQL, else a ``# ...`` comment saying why no safe
single operation exists. The SQL is built from the server's own renderings that the difference
carries (format_type, pg_get_expr, pg_get_constraintdef, pg_get_indexdef, enum labels).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
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
_CONTYPES = {"PRIMARY KEY": "primary", "FOREIGN KEY": "foreignkey", "UNIQUE": "unique"}
_CONTYPES.update(
    CHECK="check", EXCLUDE="exclusion", primary_key="primary", foreign_key="foreignkey"
)


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


def _comment(text: str) -> str:
    return "# " + " ".join(text.split())


def _note(d: _Difference, reason: str) -> list[str]:
    """The one line for a difference that has no safe fix: a comment saying why."""
    return [_comment(f"{d.detail}: {reason}")]


def _unquote(name: str) -> str:
    if len(name) > 1 and name[0] == name[-1] == '"':
        return name[1:-1].replace('""', '"')
    return name


def _top_level(text: str) -> Iterator[tuple[int, str, int]]:
    """(index, character, parenthesis depth) of each character outside 'literals' and "names"
    (a doubled quote closes and reopens at once: the same effect)."""
    depth, quote = 0, ""
    for i, ch in enumerate(text):
        if quote or ch in "'\"":
            quote = "" if ch == quote else (quote or ch)
            continue
        depth += (ch == "(") - (ch == ")")
        yield i, ch, depth


def _split(text: str) -> list[str]:
    """``text`` split at its top-level commas."""
    cuts = [i for i, ch, depth in _top_level(text) if ch == "," and depth == 0]
    bounds = [-1, *cuts, len(text)]
    return [text[bounds[k] + 1 : bounds[k + 1]].strip() for k in range(len(cuts) + 1)]


def _inner(text: str) -> str | None:
    """What is inside ``text``'s outer parentheses when they enclose all of it, else None."""
    text = text.strip()
    last = len(text) - 1
    if (
        text[:1] != "("
        or text[-1:] != ")"
        or any(depth == 0 for i, _, depth in _top_level(text) if i < last)
    ):
        return None
    return text[1:-1]


def _labels(rendering: str | None) -> list[str]:
    inner = _inner(rendering or "()")
    return [label.strip() for label in (inner or "").split(", ") if label.strip()]


class _Difference:
    """The parts of one difference dict, with the table and column already quoted."""

    def __init__(self, difference: dict[str, Any]) -> None:
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
        """``op.<op>(...)``: arguments already rendered, keyword arguments left out when None."""
        kwargs["schema"] = repr(self.schema) if self.schema is not None else None
        rendered = [*args, *(f"{k}={v}" for k, v in kwargs.items() if v is not None)]
        return f"op.{op}({', '.join(rendered)})"

    def column_call(self, **kwargs: str | None) -> str:
        return self.call("alter_column", repr(self.table_name), repr(self.column_name), **kwargs)


def _table(d: _Difference) -> list[str]:
    if d.kind == "remove_table":
        return [d.call("drop_table", repr(d.table_name))]
    return _note(
        d,
        "autogenerate's op.create_table() creates it"
        " (a catalog difference does not carry the table's full definition)",
    )


_NOT_NULL = dict.fromkeys(("not null", "notnull", "not nullable", "true", "t"), True)
_NOT_NULL.update(dict.fromkeys(("null", "nullable", "false", "f"), False))


def _column(d: _Difference) -> list[str]:
    if d.kind == "remove_column":
        return [d.call("drop_column", repr(d.table_name), repr(d.column_name))]
    if d.kind == "modify_type":
        return [d.alter_column(f"TYPE {d.new} USING {d.column}::{d.new}")]
    if d.kind == "modify_default":
        return [d.column_call(server_default=f"sa.text({_text(d.new)})" if d.new else "None")]
    if d.kind == "modify_nullable":
        new, old = (_NOT_NULL.get((v or "").strip().lower()) for v in (d.new, d.old))
        not_null = (not old if old is not None else None) if new is None else new
        if not_null is None:
            return _note(d, "cannot tell the models' nullability")
        return [d.column_call(nullable=repr(not not_null))]
    if d.new is None:
        return _note(d, "the models' column definition is unknown")
    return [d.alter(f"ADD COLUMN {d.column} {d.new}")]


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
    """A constraint's kind, from its definition, else from its include_object type."""
    for prefix, contype in _CONTYPES.items():
        if definition.startswith(prefix):
            return contype
    kind = object_type.replace("_constraint", "")
    return _CONTYPES.get(kind, kind)


def _constraint(d: _Difference) -> list[str]:
    lines = []
    if d.old is not None:
        if not d.name:
            return _note(d, "the constraint has no name to drop it by")
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
        return _note(d, "cannot tell the old and the new name")
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
        return _note(
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
        lines.append(_execute(f"ALTER TYPE {name} ADD VALUE {literal(label)}{where}"))
    return lines


def _identity_fix(d: _Difference) -> list[str]:
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
        _execute(
            f"SELECT setval({sequence}, GREATEST(COALESCE(max({d.column}), 0) + 1, 1), false)"  # noqa: S608
            f" FROM {d.table}"
        ),
    ]


def _generated(d: _Difference) -> list[str]:
    old, new = (  # the expression alone, were "GENERATED ALWAYS AS" or "STORED" around it
        re.sub(r"(?i)^\s*GENERATED ALWAYS AS\s+|\s+(STORED|VIRTUAL)\s*$", "", v or "").strip()
        or None
        for v in (d.old, d.new)
    )
    if new is None:
        return [d.alter_column("DROP EXPRESSION")] if old else []
    if old is None:
        return _note(
            d,
            f"PostgreSQL cannot make an existing column generated; drop it and"
            f" add it again as GENERATED ALWAYS AS ({new}) STORED",
        )
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


def _sequence(d: _Difference) -> list[str]:
    match = re.search(r"(?i)increment(?:\s+by)?\D*?(-?\d+)|^\s*(-?\d+)\s*$", d.new or "")
    increment = (match.group(1) or match.group(2)) if match else None
    if d.kind == "remove_sequence":
        return [_execute(f"DROP SEQUENCE {d.object()}")]
    if d.kind == "add_sequence":
        by = f" INCREMENT BY {increment}" if increment not in (None, "1") else ""
        return [_execute(f"CREATE SEQUENCE {d.object()}{by}")]
    if increment is None:
        return _note(d, "cannot tell the models' increment")
    return [_execute(f"ALTER SEQUENCE {d.object()} INCREMENT BY {increment}")]


_HANDLERS: dict[str, Callable[[_Difference], list[str]]] = {
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
    d = _Difference(difference)
    handler = _HANDLERS.get(d.kind)
    if handler is None:
        return _note(d, f"no automatic fix for a {d.kind or 'difference'}")
    return handler(d)

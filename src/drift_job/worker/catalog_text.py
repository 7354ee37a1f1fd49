"""The SQL text of catalog fixes: identifiers quoted as PostgreSQL wants them, literals, the
parts of a server rendering, and one difference's parts ready to write ops with."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# Keywords that cannot be a bare table, column, index or type name (PostgreSQL's reserved and
# type/function-name keywords); every other name only needs quotes when it is not lower case.
KEYWORDS = """all analyse analyze and any array as asc asymmetric authorization binary both
    case cast check collate collation column concurrently constraint create cross current_catalog
    current_date current_role current_schema current_time current_timestamp current_user default
    deferrable desc distinct do else end except false fetch for foreign freeze from full grant
    group having ilike in initially inner intersect into is isnull join lateral leading left like
    limit localtime localtimestamp natural not notnull null offset on only or order outer
    overlaps placing primary references returning right select session_user similar some
    symmetric system_user table tablesample then to trailing true union unique user using
    variadic verbose when where window with"""
RESERVED = frozenset(KEYWORDS.split())
PLAIN = re.compile(r"[a-z_][a-z0-9_$]*\Z")
BIND = re.compile(r"(?<![:\w\\]):(?=\w)")  # what sqlalchemy.text() would take for a parameter
INDEX_NAME = re.compile(r'CREATE (?:UNIQUE )?INDEX (?:CONCURRENTLY )?((?:"(?:[^"]|"")+"|\S+) )?ON ')
CONTYPES = {"PRIMARY KEY": "primary", "FOREIGN KEY": "foreignkey", "UNIQUE": "unique"}
CONTYPES.update(CHECK="check", EXCLUDE="exclusion", primary_key="primary", foreign_key="foreignkey")


def ident(name: str) -> str:
    """``name`` as a PostgreSQL identifier: double-quoted when it has to be."""
    if PLAIN.match(name) and name not in RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str | None, name: str) -> str:
    return name if schema is None else f"{ident(schema)}.{name}"


def literal(value: str) -> str:
    """``value`` as an SQL string literal (standard_conforming_strings, as on every server)."""
    return "'" + value.replace("'", "''") + "'"


def text_call(sql: str) -> str:
    """``sql`` as the Python literal of a string that becomes ``sqlalchemy.text()``."""
    return repr(BIND.sub(r"\\:", sql))


def execute(sql: str) -> str:
    return f"op.execute({text_call(sql)})"


def comment_line(text: str) -> str:
    return "# " + " ".join(text.split())


def note(d: Difference, reason: str) -> list[str]:
    """The one line for a difference that has no safe fix: a comment saying why."""
    return [comment_line(f"{d.detail}: {reason}")]


def unquote(name: str) -> str:
    if len(name) > 1 and name[0] == name[-1] == '"':
        return name[1:-1].replace('""', '"')
    return name


def top_level(text: str) -> Iterator[tuple[int, str, int]]:
    """(index, character, parenthesis depth) of each character outside 'literals' and "names"
    (a doubled quote closes and reopens at once: the same effect)."""
    depth, quote = 0, ""
    for i, ch in enumerate(text):
        if quote or ch in "'\"":
            quote = "" if ch == quote else (quote or ch)
            continue
        depth += (ch == "(") - (ch == ")")
        yield i, ch, depth


def split(text: str) -> list[str]:
    """``text`` split at its top-level commas."""
    cuts = [i for i, ch, depth in top_level(text) if ch == "," and depth == 0]
    bounds = [-1, *cuts, len(text)]
    return [text[bounds[k] + 1 : bounds[k + 1]].strip() for k in range(len(cuts) + 1)]


def within_parentheses(text: str) -> str | None:
    """What is inside ``text``'s outer parentheses when they enclose all of it, else None."""
    text = text.strip()
    last = len(text) - 1
    if (
        text[:1] != "("
        or text[-1:] != ")"
        or any(depth == 0 for i, _, depth in top_level(text) if i < last)
    ):
        return None
    return text[1:-1]


def labels(rendering: str | None) -> list[str]:
    inner = within_parentheses(rendering or "()")
    return [label.strip() for label in (inner or "").split(", ") if label.strip()]


class Difference:
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
        return execute(f"ALTER TABLE {self.table} {action}")

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

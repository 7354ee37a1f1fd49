"""Reading the PostgreSQL statements a revision renders: which table each touches and how,
and whether a column type change narrows, rewrites, or neither.

Only the shapes Alembic renders and people write by hand in ``op.execute`` are needed;
a statement this does not recognise is never reported as safe, it is just not judged.
"""

from __future__ import annotations

import re

NAME = r'(?:"(?:[^"]|"")+"|[\w$]+)(?:\s*\.\s*(?:"(?:[^"]|"")+"|[\w$]+))?'
LABEL = r"'(?:[^']|'')*'"
_FLAGS = re.IGNORECASE | re.DOTALL

CREATE_TABLE = re.compile(
    r"^CREATE (?:(?:GLOBAL |LOCAL )?(?:TEMP|TEMPORARY|UNLOGGED) )?TABLE "
    rf"(?:IF NOT EXISTS )?({NAME})",
    _FLAGS,
)
DROP_TABLE = re.compile(rf"^DROP TABLE (?:IF EXISTS )?({NAME}(?:\s*,\s*{NAME})*)", _FLAGS)
ALTER_TABLE = re.compile(rf"^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?({NAME})\s+(.*)$", _FLAGS)
CREATE_INDEX = re.compile(
    r"^CREATE (?:UNIQUE )?INDEX (CONCURRENTLY )?(?:IF NOT EXISTS )?"
    rf"(?:({NAME}) )?ON (?:ONLY )?({NAME})",
    _FLAGS,
)
DROP_INDEX = re.compile(rf"^DROP INDEX (CONCURRENTLY )?(?:IF EXISTS )?({NAME})", _FLAGS)
TRUNCATE = re.compile(rf"^TRUNCATE (?:TABLE )?(?:ONLY )?({NAME})", _FLAGS)
TIMEOUT = re.compile(
    r"^(?:SET (?:LOCAL |SESSION )?(?:lock_timeout|statement_timeout)\b"
    r"|SELECT set_config\(\s*'(?:lock_timeout|statement_timeout)')",
    _FLAGS,
)
OTHER_EXCLUSIVE = re.compile(
    r"^(?:LOCK (?:TABLE )?|VACUUM FULL|CLUSTER|REINDEX (?!.*CONCURRENTLY))", _FLAGS
)
CREATE_ENUM = re.compile(rf"^CREATE TYPE ({NAME}) AS ENUM\s*\((.*)\)$", _FLAGS)
ADD_ENUM_VALUE = re.compile(
    rf"^ALTER TYPE ({NAME}) ADD VALUE (?:IF NOT EXISTS )?({LABEL})"
    rf"(?:\s+(BEFORE|AFTER)\s+({LABEL}))?",
    _FLAGS,
)
RENAME_ENUM_VALUE = re.compile(rf"^ALTER TYPE ({NAME}) RENAME VALUE ({LABEL}) TO ({LABEL})", _FLAGS)
RENAME_TYPE = re.compile(rf"^ALTER TYPE ({NAME}) RENAME TO ({NAME})", _FLAGS)
DROP_TYPE = re.compile(rf"^DROP TYPE (?:IF EXISTS )?({NAME}(?:\s*,\s*{NAME})*)", _FLAGS)

ADD_COLUMN = re.compile(
    rf"^ADD (?:COLUMN )?(?:IF NOT EXISTS )?(?!CONSTRAINT\b|PRIMARY\b|UNIQUE\b"
    rf"|CHECK\b|FOREIGN\b|EXCLUDE\b)({NAME})\s+(.*)$",
    _FLAGS,
)
ADD_CONSTRAINT = re.compile(
    rf"^ADD (?:CONSTRAINT ({NAME}) )?(PRIMARY KEY|UNIQUE|CHECK|FOREIGN KEY"
    r"|EXCLUDE)\b(.*)$",
    _FLAGS,
)
DROP_COLUMN = re.compile(rf"^DROP (?:COLUMN )?(?:IF EXISTS )?(?!CONSTRAINT\b)({NAME})", _FLAGS)
ALTER_TYPE = re.compile(rf"^ALTER (?:COLUMN )?({NAME}) (?:SET DATA )?TYPE\b", _FLAGS)
SET_NOT_NULL = re.compile(rf"^ALTER (?:COLUMN )?({NAME}) SET NOT NULL", _FLAGS)
RENAME_COLUMN = re.compile(
    rf"^RENAME (?:COLUMN )?(?!TO\b|CONSTRAINT\b)({NAME}) TO ({NAME})", _FLAGS
)
RENAME_TABLE = re.compile(rf"^RENAME TO ({NAME})", _FLAGS)
VALIDATE = re.compile(r"^VALIDATE CONSTRAINT\b", _FLAGS)
#: Functions a column default may call without rewriting the table (PostgreSQL 11+ stores
#: a non-volatile default once); any other call is taken as volatile.
NON_VOLATILE = frozenset(
    (
        *("now", "current_timestamp", "current_date", "current_time", "localtimestamp"),
        *("localtime", "transaction_timestamp", "statement_timestamp", "cast", "array"),
        *("numeric", "timestamp", "timestamptz", "interval", "date", "jsonb", "json"),
    )
)
_CALL = re.compile(r"\b([A-Za-z_][\w.]*)\s*\(")


def unquote(name: str) -> str:
    """The unqualified name as PostgreSQL stores it (unquoted names fold to lower case)."""
    last = re.split(r'\s*\.\s*(?=(?:[^"]*"[^"]*")*[^"]*$)', name.strip())[-1]
    if last.startswith('"') and last.endswith('"'):
        return last[1:-1].replace('""', '"')
    return last.lower()


def label(text: str) -> str:
    return text[1:-1].replace("''", "'")


def labels(text: str) -> list[str]:
    return [label(m.group(0)) for m in re.finditer(LABEL, text)]


def normalise(sql: str) -> str:
    """One line: whitespace collapsed, comments removed."""
    sql = re.sub(r"--[^\n]*", " ", sql)
    return re.sub(r"\s+", " ", sql).strip().rstrip(";").strip()


def split_top_level(text: str) -> list[str]:
    """``text`` split at the commas outside parentheses and quotes (ALTER TABLE actions)."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return [part for part in parts if part]


def volatile_default(definition: str) -> str | None:
    """The volatile function a new column's DEFAULT calls, or its serial type."""
    serial = re.match(r"^(?:SMALL|BIG)?SERIAL\d?\b", definition, re.IGNORECASE)
    if serial:
        return serial.group(0).lower()
    if re.search(
        r"\bGENERATED\b.*\bIDENTITY\b|\bGENERATED ALWAYS AS\b.*\bSTORED\b", definition, _FLAGS
    ):
        return "an identity or stored generated column"
    match = re.search(r"\bDEFAULT\b(.*)$", definition, _FLAGS)
    if not match:
        return None
    for call in _CALL.finditer(re.sub(LABEL, "''", match.group(1))):
        if call.group(1).lower() not in NON_VOLATILE:
            return f"{call.group(1)}()"
    return None


_TYPE = re.compile(r"^([A-Z][A-Z ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?$")
_STRINGS = {"VARCHAR", "CHARACTER VARYING", "TEXT"}
_INTEGERS = {"SMALLINT": 2, "INTEGER": 4, "INT": 4, "BIGINT": 8}
_FLOATS = {"REAL": 4, "FLOAT": 8, "DOUBLE PRECISION": 8}
_NUMERIC = {"NUMERIC", "DECIMAL"}


def _parse(rendered: str) -> tuple[str, int | None, int | None] | None:
    match = _TYPE.match(rendered.strip().upper())
    if not match:
        return None
    size = int(match.group(2)) if match.group(2) else None
    scale = int(match.group(3)) if match.group(3) else None
    return match.group(1), size, scale


def type_change(old: str | None, new: str | None) -> str:
    """``narrowing``, ``rewrite``, ``safe`` (binary-compatible widening) or ``unknown``."""
    before, after = _parse(old or ""), _parse(new or "")
    if before is None or after is None:
        return "unknown"
    (kind, size, scale), (new_kind, new_size, new_scale) = before, after
    if kind in _STRINGS and new_kind in _STRINGS:
        if new_kind == "TEXT" or new_size is None:
            return "safe"
        return "safe" if size is not None and kind != "TEXT" and new_size >= size else "narrowing"
    if kind in _INTEGERS and new_kind in _INTEGERS:
        return "narrowing" if _INTEGERS[new_kind] < _INTEGERS[kind] else "rewrite"
    if kind in _FLOATS and new_kind in _FLOATS:
        return "narrowing" if _FLOATS[new_kind] < _FLOATS[kind] else "rewrite"
    if kind in _NUMERIC and new_kind in _NUMERIC:
        if new_size is None:
            return "safe"
        digits, new_digits = (size or 0) - (scale or 0), new_size - (new_scale or 0)
        if size is None or new_digits < digits or (new_scale or 0) < (scale or 0):
            return "narrowing"
        return "safe" if (new_scale or 0) == (scale or 0) else "rewrite"
    if (kind in _NUMERIC or kind in _FLOATS) and new_kind in _INTEGERS:
        return "narrowing"
    if kind == new_kind and (size, scale) == (new_size, new_scale):
        return "safe"
    return "rewrite"

"""The data-safety lint: judges the statements the worker recorded offline for each revision,
and reports the new revisions' risky ones with the file and line that emitted them.

The older revisions are read too, for what they tell about the new ones (an enum's values
before a new revision recreates it), but only new revisions get findings. A table created in
the same revision is not an existing one: nothing can wait for it, and it has no rows.
"""

from __future__ import annotations

import re
from typing import Any

from drift_job import lint_sql as sql
from drift_job.lint_enums import EnumHistory
from drift_job.lint_rules import LintFinding


class _Revision:
    """Judges one revision's statements in order."""

    def __init__(self, data: dict[str, Any], enums: EnumHistory, timeouts: bool) -> None:
        self.data = data
        self.enums = enums
        self.created_tables: set[str] = set()
        self.created_indexes: set[str] = set()
        self.timeout_set = timeouts
        self.unprotected: dict[str, Any] | None = None
        self.findings: list[LintFinding] = []
        self.statement: dict[str, Any] = {}

    def flag(self, rule: str, target: str | None, message: str) -> None:
        if self.data["new"]:
            finding = LintFinding(
                rule, self.data["revision"], self.data["file"], self.statement.get("line"),
                target, message,
            )  # fmt: skip
            self.findings.append(finding)

    def exclusive(self) -> None:
        """The statement takes an ACCESS EXCLUSIVE lock on an existing table."""
        if not self.timeout_set and self.unprotected is None:
            self.unprotected = self.statement

    def judge(self) -> list[LintFinding]:
        for statement in self.data["statements"]:
            self.statement = statement
            self.one(sql.normalise(statement["sql"]))
        self.enums.retired.clear()
        if self.data.get("error"):
            self.statement = {}
            self.flag(
                "revision-not-rendered", None, f"upgrade() failed offline: {self.data['error']}"
            )
        if self.unprotected is not None:
            self.statement = self.unprotected
            self.flag(
                "require-lock-timeout", None,
                "takes an ACCESS EXCLUSIVE lock on an existing table and sets no lock_timeout "
                "or statement_timeout before it",
            )  # fmt: skip
        return self.findings

    def one(self, text: str) -> None:
        for pattern, handler in self.HANDLERS:
            match = pattern.match(text)
            if match:
                handler(self, match)
                return

    def timeout(self, match: re.Match[str]) -> None:
        self.timeout_set = True

    def create_table(self, match: re.Match[str]) -> None:
        self.created_tables.add(sql.unquote(match.group(1)))

    def drop_table(self, match: re.Match[str]) -> None:
        for name in (sql.unquote(n) for n in sql.split_top_level(match.group(1))):
            if name not in self.created_tables:
                self.flag("ban-drop-table", name, f"drops table {name}")
                self.exclusive()

    def truncate(self, match: re.Match[str]) -> None:
        name = sql.unquote(match.group(1))
        if name not in self.created_tables:
            self.flag("ban-truncate", name, f"truncates table {name}")
            self.exclusive()

    def create_index(self, match: re.Match[str]) -> None:
        index, table = sql.unquote(match.group(2) or ""), sql.unquote(match.group(3))
        self.created_indexes.add(index)
        if not match.group(1) and table not in self.created_tables:
            self.flag(
                "require-concurrent-index-creation", f"{table}.{index}",
                f"creates index {index} on {table} without CONCURRENTLY",
            )  # fmt: skip

    def drop_index(self, match: re.Match[str]) -> None:
        index = sql.unquote(match.group(2))
        table = self.statement.get("table_name")
        if index in self.created_indexes or table in self.created_tables:
            return
        self.flag("ban-drop-index", index, f"drops index {index}")
        if not match.group(1):
            self.flag(
                "require-concurrent-index-deletion", index,
                f"drops index {index} without CONCURRENTLY",
            )  # fmt: skip
            self.exclusive()

    def other_exclusive(self, match: re.Match[str]) -> None:
        self.exclusive()

    def create_enum(self, match: re.Match[str]) -> None:
        name, values = sql.unquote(match.group(1)), sql.labels(match.group(2))
        previous = self.enums.create(name, values)
        if previous is None:
            return
        removed = [v for v in previous if v not in values]
        if removed:
            self.flag(
                "removing-enum-value", name,
                f"recreates enum {name} without {', '.join(removed)}",
            )  # fmt: skip
        elif [v for v in values if v in previous] != previous:
            self.flag(
                "reordering-enum-values", name,
                f"recreates enum {name} as ({', '.join(values)}), was ({', '.join(previous)})",
            )  # fmt: skip

    def add_enum_value(self, match: re.Match[str]) -> None:
        name = sql.unquote(match.group(1))
        anchor = sql.label(match.group(4)) if match.group(4) else None
        self.enums.add(name, sql.label(match.group(2)), match.group(3), anchor)

    def rename_enum_value(self, match: re.Match[str]) -> None:
        name, old, new = (
            sql.unquote(match.group(1)),
            sql.label(match.group(2)),
            sql.label(match.group(3)),
        )
        values = self.enums.values.get(name)
        if values and old in values:
            values[values.index(old)] = new
        self.flag(
            "renaming-enum-value", f"{name}.{old}", f"renames value {old} of enum {name} to {new}"
        )

    def rename_type(self, match: re.Match[str]) -> None:
        self.enums.retire(sql.unquote(match.group(1)), sql.unquote(match.group(2)))

    def drop_type(self, match: re.Match[str]) -> None:
        for name in sql.split_top_level(match.group(1)):
            self.enums.retire(sql.unquote(name))

    def alter_table(self, match: re.Match[str]) -> None:
        table = sql.unquote(match.group(1))
        if table in self.created_tables:
            return
        for action in sql.split_top_level(match.group(2)):
            if not sql.VALIDATE.match(action):
                self.exclusive()
            self.alter_action(table, action)

    def alter_action(self, table: str, action: str) -> None:
        if found := sql.ADD_COLUMN.match(action):
            self.add_column(table, sql.unquote(found.group(1)), found.group(2))
        elif found := sql.ADD_CONSTRAINT.match(action):
            self.add_constraint(table, found)
        elif found := sql.DROP_COLUMN.match(action):
            column = sql.unquote(found.group(1))
            self.flag("ban-drop-column", f"{table}.{column}", f"drops column {table}.{column}")
        elif found := sql.ALTER_TYPE.match(action):
            self.alter_type(table, sql.unquote(found.group(1)))
        elif found := sql.SET_NOT_NULL.match(action):
            column = sql.unquote(found.group(1))
            self.flag(
                "adding-not-nullable-field", f"{table}.{column}",
                f"sets NOT NULL on existing column {table}.{column}",
            )  # fmt: skip
        elif found := sql.RENAME_COLUMN.match(action):
            old, new = sql.unquote(found.group(1)), sql.unquote(found.group(2))
            self.flag("renaming-column", f"{table}.{old}", f"renames column {table}.{old} to {new}")
        elif found := sql.RENAME_TABLE.match(action):
            new = sql.unquote(found.group(1))
            self.flag("renaming-table", table, f"renames table {table} to {new}")

    def add_column(self, table: str, column: str, definition: str) -> None:
        target = f"{table}.{column}"
        upper = definition.upper()
        if "NOT NULL" in upper and " DEFAULT " not in f" {upper} " and "GENERATED" not in upper:
            self.flag(
                "adding-required-field", target, f"adds NOT NULL column {target} without a default"
            )
        volatile = sql.volatile_default(definition)
        if volatile:
            self.flag("adding-field-with-default", target, f"adds column {target} with {volatile}")

    def add_constraint(self, table: str, found: re.Match[str]) -> None:
        name = sql.unquote(found.group(1)) if found.group(1) else "(unnamed)"
        kind, rest = found.group(2).upper(), found.group(3).upper()
        target = f"{table}.{name}"
        if kind in ("FOREIGN KEY", "CHECK") and "NOT VALID" not in rest:
            self.flag(
                "constraint-missing-not-valid", target,
                f"adds {kind.lower()} constraint {name} on {table} without NOT VALID",
            )  # fmt: skip
        elif kind in ("PRIMARY KEY", "UNIQUE") and "USING INDEX" not in rest:
            self.flag(
                "disallowed-unique-constraint", target,
                f"adds {kind.lower()} constraint {name} on {table}, building its index in place",
            )  # fmt: skip

    def alter_type(self, table: str, column: str) -> None:
        facts = self.statement
        known = facts.get("column_name") == column and facts.get("table_name") == table
        old = facts.get("existing_type") if known else None
        new = facts.get("modify_type") if known else None
        change = sql.type_change(old, new)
        target = f"{table}.{column}"
        if change == "narrowing":
            self.flag("narrowing-column-type", target, f"narrows {target} from {old} to {new}")
        if change != "safe":
            said = (
                f"from {old} to {new}"
                if old
                else "(existing_type not given, so assumed to rewrite)"
            )
            self.flag("changing-column-type", target, f"changes the type of {target} {said}")

    HANDLERS = (
        (sql.TIMEOUT, timeout),
        (sql.CREATE_TABLE, create_table),
        (sql.DROP_TABLE, drop_table),
        (sql.TRUNCATE, truncate),
        (sql.CREATE_INDEX, create_index),
        (sql.DROP_INDEX, drop_index),
        (sql.CREATE_ENUM, create_enum),
        (sql.ADD_ENUM_VALUE, add_enum_value),
        (sql.RENAME_ENUM_VALUE, rename_enum_value),
        (sql.RENAME_TYPE, rename_type),
        (sql.DROP_TYPE, drop_type),
        (sql.ALTER_TABLE, alter_table),
        (sql.OTHER_EXCLUSIVE, other_exclusive),
    )


def judge(recorded: dict[str, Any]) -> list[LintFinding]:
    """Every finding of the new revisions, in upgrade order."""
    enums = EnumHistory()
    timeouts = bool(recorded.get("env_py_sets_timeouts"))
    findings: list[LintFinding] = []
    for revision in recorded.get("revisions", []):
        findings += _Revision(revision, enums, timeouts).judge()
    return findings

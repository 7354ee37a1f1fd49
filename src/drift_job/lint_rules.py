"""The data-safety lint's rules (what each flags, the safe way instead) and its findings.

Names follow squawk and strong_migrations where one of them has the rule; docs/lint.md
documents each (a test checks that every rule here is documented there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rule:
    category: str  # destructive, locking or safety
    summary: str
    instead: str


RULES: dict[str, Rule] = {
    "ban-drop-table": Rule(
        "destructive",
        "drops a table and its data",
        "stop reading and writing it in a release first; drop it in a later revision",
    ),
    "ban-drop-column": Rule(
        "destructive",
        "drops a column and its data; running code that still selects it breaks",
        "stop using the column (SQLAlchemy: deferred or removed from the model) in a release "
        "first, then drop it",
    ),
    "ban-drop-index": Rule(
        "destructive",
        "drops an index: queries that used it slow down, and a unique index stops "
        "enforcing uniqueness",
        "make sure nothing needs it (pg_stat_user_indexes.idx_scan), drop it CONCURRENTLY",
    ),
    "narrowing-column-type": Rule(
        "destructive",
        "narrows a column type: values that no longer fit make the migration fail, or are "
        "truncated",
        "check the data first (SELECT max(length(col))...), or keep the wider type",
    ),
    "ban-truncate": Rule(
        "destructive",
        "deletes every row of a table",
        "delete the rows you mean to in batches, or truncate by hand outside the migrations",
    ),
    "require-concurrent-index-creation": Rule(
        "locking",
        "builds an index without CONCURRENTLY: writes to the table wait until it is built",
        "op.create_index(..., postgresql_concurrently=True) inside "
        "with op.get_context().autocommit_block():",
    ),
    "require-concurrent-index-deletion": Rule(
        "locking",
        "drops an index without CONCURRENTLY: takes an ACCESS EXCLUSIVE lock on its table",
        "op.drop_index(..., postgresql_concurrently=True) inside an autocommit_block()",
    ),
    "adding-required-field": Rule(
        "locking",
        "adds a NOT NULL column without a default: fails on a table with rows",
        "add it nullable (or with a non-volatile server_default), backfill, then set NOT NULL",
    ),
    "adding-not-nullable-field": Rule(
        "locking",
        "sets NOT NULL on an existing column: scans the whole table under an ACCESS EXCLUSIVE lock",
        "add CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in a later step, then "
        "SET NOT NULL (PostgreSQL 12+ uses the constraint and skips the scan) and drop the "
        "CHECK",
    ),
    "adding-field-with-default": Rule(
        "locking",
        "adds a column with a volatile default (or a serial/identity column): rewrites the "
        "whole table under an ACCESS EXCLUSIVE lock",
        "add the column without the default, set the default, backfill in batches",
    ),
    "changing-column-type": Rule(
        "locking",
        "changes a column type in a way that rewrites the table under an ACCESS EXCLUSIVE lock",
        "add a new column, write both, backfill, switch reads, drop the old one; widening "
        "VARCHAR(n) to a larger n or TEXT needs no rewrite",
    ),
    "constraint-missing-not-valid": Rule(
        "locking",
        "adds a foreign key or CHECK constraint that is validated at once, blocking writes "
        "while every row is checked",
        "add it NOT VALID (op.execute('ALTER TABLE ... ADD CONSTRAINT ... NOT VALID'), or "
        "postgresql_not_valid=True), then VALIDATE CONSTRAINT in a later revision",
    ),
    "disallowed-unique-constraint": Rule(
        "locking",
        "adds a UNIQUE or PRIMARY KEY constraint, building its index while writes wait",
        "CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... USING INDEX",
    ),
    "removing-enum-value": Rule(
        "locking",
        "recreates an enum without some of its values: rows holding them make the migration "
        "fail, and running code that writes them breaks",
        "stop writing the value and migrate its rows first; keeping the value is cheaper",
    ),
    "reordering-enum-values": Rule(
        "locking",
        "recreates an enum with its values in another order: every column using it is "
        "rewritten, and comparisons (<, ORDER BY) change meaning",
        "add new values with ALTER TYPE ... ADD VALUE ... BEFORE/AFTER instead",
    ),
    "renaming-enum-value": Rule(
        "locking",
        "renames an enum value: running code that writes the old value breaks",
        "add the new value, migrate rows and code, and stop using the old one",
    ),
    "renaming-column": Rule(
        "locking",
        "renames a column: running code that uses the old name breaks",
        "add the new column, write both, backfill, switch reads, drop the old one (or a "
        "view with the old name)",
    ),
    "renaming-table": Rule(
        "locking",
        "renames a table: running code that uses the old name breaks",
        "create the new table (or a view with the old name) and move over in steps",
    ),
    "require-lock-timeout": Rule(
        "safety",
        "takes an ACCESS EXCLUSIVE lock with no lock_timeout or statement_timeout: waiting "
        "behind one long query, it blocks every query on the table",
        "op.execute(\"SET lock_timeout = '5s'\") at the start of upgrade(), or once in env.py "
        "for every revision",
    ),
    "revision-not-rendered": Rule(
        "safety",
        "upgrade() cannot run offline (it reads the database, or fails), so it was not linted",
        "review it by hand; or guard database reads with if not context.is_offline_mode()",
    ),
}


@dataclass(frozen=True)
class LintFinding:
    """One risky statement. ``key`` (rule, revision, target) stays the same from run to run,
    so an ignore rule can name it."""

    rule: str
    revision: str
    file: str
    line: int | None
    target: str | None
    message: str

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.revision}:{self.target or ''}"

    @property
    def category(self) -> str:
        return RULES[self.rule].category

    @property
    def instead(self) -> str:
        return RULES[self.rule].instead

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def detail(self) -> str:
        return f"{self.location}: {self.message} [{self.rule}]"

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "key": self.key,
            "category": self.category,
            "revision": self.revision,
            "file": self.file,
            "line": self.line,
            "target": self.target,
            "message": self.message,
            "instead": self.instead,
        }

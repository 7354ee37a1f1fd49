"""What each revision's ``upgrade()`` does, recorded offline: the SQL ``alembic upgrade --sql``
would render, statement by statement, with the line of the revision file that emitted it and
the facts of the Alembic operation behind it (types the SQL alone does not tell).

Nothing touches a database: the revisions run against an offline MigrationContext, as in
``--sql`` mode, with the PostgreSQL dialect. The supervisor judges the records.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alembic.config import Config
from alembic.operations import Operations, ops
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.sqltypes import to_instance

from .classify import one_line

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
TIMEOUT_SETTINGS = ("lock_timeout", "statement_timeout")


def _type(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return str(to_instance(value).compile(dialect=_DIALECT))
    except Exception:  # a type this dialect cannot compile: unknown, so never "safe"
        return None


def _facts(operation: Any) -> dict[str, Any]:
    """The operation's name and the targets and types the rules need."""
    facts: dict[str, Any] = {"op": type(operation).__name__}
    for name in ("table_name", "column_name", "schema"):
        value = getattr(operation, name, None)
        if isinstance(value, str):
            facts[name] = value
    if isinstance(operation, ops.AlterColumnOp):
        facts["existing_type"] = _type(operation.existing_type)
        facts["modify_type"] = _type(operation.modify_type)
    return facts


class Recorder:
    """Collects the statements of one revision as the offline context emits them."""

    def __init__(self, script: Script) -> None:
        path = str(script.path)
        self.paths = {path, os.path.realpath(path)}
        self.operations: list[Any] = []
        self.statements: list[dict[str, Any]] = []

    def line(self) -> int | None:
        """The line of the revision file on the current call stack."""
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename in self.paths:
                return frame.f_lineno
            frame = frame.f_back  # type: ignore[assignment]
        return None

    def output(self, text: str) -> None:
        sql = text.strip().rstrip(";").strip()
        if not sql or sql.upper() in ("BEGIN", "COMMIT"):
            return
        statement: dict[str, Any] = {"line": self.line(), "sql": sql}
        if self.operations:
            statement.update(_facts(self.operations[-1]))
        self.statements.append(statement)


@contextmanager
def _watching(recorder: Recorder) -> Iterator[None]:
    """Operations.invoke noted while the revision runs (batch operations go through it too)."""
    original = Operations.invoke

    def invoke(self: Operations, operation: Any) -> Any:
        recorder.operations.append(operation)
        try:
            return original(self, operation)
        finally:
            recorder.operations.pop()

    Operations.invoke = invoke  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        Operations.invoke = original  # type: ignore[method-assign]


def record(script: Script, config: Config, directory: ScriptDirectory) -> dict[str, Any]:
    """One revision's statements, or why its upgrade() cannot run offline. ``op`` and
    ``context`` are offline ones, as in ``alembic upgrade --sql``."""
    recorder = Recorder(script)
    context = MigrationContext.configure(
        dialect_name="postgresql",
        opts={"as_sql": True, "output_buffer": io.StringIO(), "literal_binds": True},
    )
    context.impl.static_output = recorder.output  # type: ignore[method-assign]
    operations = Operations(context)
    error = None
    operations._install_proxy()
    try:
        with EnvironmentContext(config, directory, as_sql=True) as environment:
            environment._migration_context = context
            with _watching(recorder):
                script.module.upgrade()
    except Exception as exc:  # e.g. upgrade() reads the database, which offline mode cannot
        error = f"{type(exc).__name__}: {one_line(exc)}"
    finally:
        operations._remove_proxy()
    return {
        "revision": script.revision,
        "file": os.path.basename(str(script.path)),
        "statements": recorder.statements,
        "error": error,
    }


def timeouts_in(env_py: str) -> bool:
    """Whether env.py sets a lock or statement timeout for every revision it runs."""
    try:
        with open(env_py, encoding="utf-8", errors="replace") as source:
            text = source.read()
    except OSError:
        return False
    return any(setting in text for setting in TIMEOUT_SETTINGS)

"""The autogenerate pass: what ``alembic check`` sees, described one difference at a time.

The upgrade operations are kept in memory, so each difference is described and the fixing
migration rendered, and nothing is ever written into ``versions/``. The project's env.py
``context.configure(...)`` options (include_object, compare_type, comparators,
process_revision_directives…) all apply.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from alembic.autogenerate import RevisionContext, render, render_python_code
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from alembic.runtime.environment import EnvironmentContext
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import Column, ForeignKeyConstraint, Index, Table, UniqueConstraint

from .project import Project

if TYPE_CHECKING:  # only in annotations: the worker also runs on Python 3.8
    Described = dict[str, str | None]

MODELS_ONLY = "in the models, not in the migrations"
MIGRATIONS_ONLY = "in the migrations, not in the models"
_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
COMMAND_ARGS = {
    "message": None,
    "autogenerate": True,
    "sql": False,
    "head": "head",
    "splice": False,
    "branch_label": None,
    "version_path": None,
    "rev_id": None,
    "depends_on": None,
}


def _difference(
    kind: str,
    schema: str | None,
    table: str | None,
    column: str | None,
    detail: str,
    *,
    obj: str | None = None,
) -> Described:
    return {
        "kind": kind,
        "schema": schema if schema != "public" else None,
        "table": table,
        "column": column,
        "object": obj,
        "detail": detail,
        "source": "autogenerate",
    }


def _type(value: Any) -> str:
    try:
        return str(value.compile(dialect=_DIALECT))
    except Exception:  # a type the PostgreSQL dialect cannot compile: show what we have
        return repr(value)


def _qualified(schema: str | None, table: str | None) -> str:
    return f"{schema}.{table}" if schema else str(table)


def _column(column: Column[Any]) -> str:
    return f"{_type(column.type)} {'NULL' if column.nullable else 'NOT NULL'}"


def _columns(names: Iterable[Any]) -> str:
    return ", ".join(str(getattr(c, "name", c)) for c in names)


def _default(value: Any) -> str:
    if value is None:
        return "none"
    text = getattr(value, "arg", value)
    return str(getattr(text, "text", text))


def _table_diff(kind: str, table: Table) -> Described:
    side = MODELS_ONLY if kind == "add_table" else MIGRATIONS_ONLY
    name = _qualified(table.schema, table.name)
    return _difference(kind, table.schema, table.name, None, f"table {name}: {side}")


def _index(kind: str, index: Index) -> Described:
    side = MODELS_ONLY if kind.startswith("add") else MIGRATIONS_ONLY
    table = index.table
    table_name = _qualified(table.schema, table.name) if table is not None else None
    unique = "unique index" if index.unique else "index"
    detail = f"{unique} {index.name} on {table_name} ({_columns(index.expressions)}): {side}"
    schema, bare = (table.schema, table.name) if table is not None else (None, None)
    return _difference(kind, schema, bare, None, detail, obj=index.name)


def _constraint(kind: str, constraint: Any) -> Described:
    side = MODELS_ONLY if kind.startswith("add") else MIGRATIONS_ONLY
    table = constraint.table
    table_name = _qualified(table.schema, table.name)
    name = constraint.name or "(unnamed)"
    if isinstance(constraint, ForeignKeyConstraint):
        referred = constraint.referred_table
        referred_columns = _columns(element.column for element in constraint.elements)
        target = f"{_qualified(referred.schema, referred.name)} ({referred_columns})"
        detail = (
            f"foreign key {name} on {table_name} ({_columns(constraint.columns)}) -> "
            f"{target}: {side}"
        )
    elif isinstance(constraint, UniqueConstraint):
        detail = (
            f"unique constraint {name} on {table_name} ({_columns(constraint.columns)}): {side}"
        )
    else:
        detail = f"{constraint.__class__.__name__} {name} on {table_name}: {side}"
    return _difference(kind, table.schema, table.name, None, detail, obj=constraint.name)


def _modify(diff: Sequence[Any]) -> Described:
    kind, schema, table, column = diff[0], diff[1], diff[2], diff[3]
    old, new = diff[-2], diff[-1]
    name = _qualified(schema, table)
    where = f"column {name}.{column}"
    if kind == "modify_type":
        detail = f"{where} type: migrations {_type(old)}, models {_type(new)}"
    elif kind == "modify_nullable":
        detail = (
            f"{where} nullable: migrations {'NULL' if old else 'NOT NULL'}, "
            f"models {'NULL' if new else 'NOT NULL'}"
        )
    elif kind == "modify_default":
        detail = f"{where} server default: migrations {_default(old)}, models {_default(new)}"
    elif kind == "modify_comment":
        detail = f"{where} comment: migrations {old!r}, models {new!r}"
    else:
        detail = f"{where}: {kind} {old!r} -> {new!r}"
    return _difference(kind, schema, table, str(column), detail)


def describe(diff: Any) -> Described:
    """One autogenerate diff tuple as a difference with a readable detail."""
    if isinstance(diff, list):  # modify_* diffs come grouped per column; each is reported
        return _modify(diff[0])
    kind = diff[0]
    if kind in ("add_table", "remove_table"):
        return _table_diff(kind, diff[1])
    if kind in ("add_column", "remove_column"):
        name = _qualified(diff[1], diff[2])
        column = diff[3]
        side = MODELS_ONLY if kind == "add_column" else MIGRATIONS_ONLY
        detail = f"column {name}.{column.name} {_column(column)}: {side}"
        return _difference(kind, diff[1], diff[2], column.name, detail)
    if kind in ("add_index", "remove_index"):
        return _index(kind, diff[1])
    if kind in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        return _constraint(kind, diff[1])
    if kind in ("add_table_comment", "remove_table_comment"):
        name = _qualified(diff[1].schema, diff[1].name)
        return _difference(
            kind, diff[1].schema, diff[1].name, None, f"table {name} comment differs"
        )
    return _difference(str(kind), None, None, None, f"{kind}: {diff[1:]!r}")


def _flatten(diffs: Iterable[Any]) -> list[Any]:
    """One entry per difference: grouped modify_* lists are split into single-item lists."""
    flat: list[Any] = []
    for diff in diffs:
        if isinstance(diff, list):
            flat.extend([item] for item in diff)
        else:
            flat.append(diff)
    return flat


def run_autogenerate(project: Project, config: Any) -> tuple[list[ops.UpgradeOps], Any]:
    """Run env.py in autogenerate mode; keep the operations it produces, and the migration
    context env.py configured (its render options shape the suggested migration)."""
    revision_context = RevisionContext(config, project.script, COMMAND_ARGS)
    configured: list[Any] = []

    def retrieve_migrations(rev: Any, context: Any) -> list[Any]:
        configured.append(context)
        revision_context.run_autogenerate(rev, context)
        return []

    with EnvironmentContext(
        config,
        project.script,
        fn=retrieve_migrations,
        as_sql=False,
        template_args=revision_context.template_args,
        revision_context=revision_context,
    ):
        project.script.run_env()
    # env.py's own process_revision_directives may have removed an empty script: no drift.
    upgrade_ops = [
        upgrade_ops
        for script in revision_context.generated_revisions
        for upgrade_ops in script.upgrade_ops_list
    ]
    return upgrade_ops, (configured[-1] if configured else None)


def _tidy(code: str) -> str:
    """Autogenerate renders a function body whose first line is not indented: even it out."""
    first, _, rest = code.strip("\n").partition("\n")
    return "\n".join([first.strip(), textwrap.dedent(rest)]).strip()


def _render(upgrade_ops: ops.UpgradeOps, context: Any) -> str:
    """As ``alembic revision --autogenerate`` renders it: with the options env.py passed to
    ``configure()`` (render_as_batch, user_module_prefix, render_item, module prefixes)."""
    if context is None:  # env.py never configured a context: Alembic's defaults
        return str(render_python_code(upgrade_ops))
    return render._render_cmd_body(upgrade_ops, AutogenContext(context, autogenerate=False))


def summarise(upgrade_ops_list: list[ops.UpgradeOps], context: Any) -> tuple[list[Described], str]:
    """Every difference, described, and the migration that would fix them."""
    differences = [
        describe(diff)
        for upgrade_ops in upgrade_ops_list
        for diff in _flatten(upgrade_ops.as_diffs())
    ]
    rendered = "\n".join(
        _tidy(_render(upgrade_ops, context))
        for upgrade_ops in upgrade_ops_list
        if not upgrade_ops.is_empty()
    )
    return differences, rendered

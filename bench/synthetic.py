"""Synthetic Alembic projects of any size, whose head matches their models exactly.

    python bench/synthetic.py DIR --tables 200 --migrations 300

Each table has typed columns (integer, varchar, numeric, text), a foreign key to the table
before it (with an index), a named unique constraint, a column of the one shared enum, JSONB,
UUID and timezone-aware timestamps with server defaults. The migrations build the tables
incrementally: each table is created in one step and gets its last column and an index in a
later one; the steps are spread evenly over the migrations (a migration with nothing left to
do is empty). Every column is written by one function for both the models and the migrations,
so a correct drift gate finds no drift. env.py commits each migration on its own
(``transaction_per_migration=True``: a few thousand tables in one transaction exceed the
server's lock table) and supports ``alembic upgrade --sql`` (offline mode).
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

ENUM_VALUES = ("draft", "active", "retired")
ENUM_TYPE = f"postgresql.ENUM({', '.join(map(repr, ENUM_VALUES))}, name='bench_status'"
CREATE_ENUM = f"CREATE TYPE bench_status AS ENUM ({', '.join(map(repr, ENUM_VALUES))})"

ALEMBIC_INI = """\
[alembic]
script_location = %(here)s/migrations
prepend_sys_path = .
sqlalchemy.url =
"""

ENV_PY = """\
import os

from alembic import context
from sqlalchemy import create_engine, pool

import bench_models

URL = os.environ.get("DATABASE_URL") or context.config.get_main_option("sqlalchemy.url")
OPTIONS = {"target_metadata": bench_models.metadata, "transaction_per_migration": True}

if context.is_offline_mode():
    context.configure(url=URL, literal_binds=True, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(URL, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
"""

REVISION = '''\
"""step {number} of the synthetic schema

Revision ID: {revision}
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{body}


def downgrade() -> None:
    pass
'''


def columns(index: int, *, with_note: bool, in_models: bool) -> list[str]:
    """The source of table ``index``'s columns and constraints, as models and migrations
    write them (``sa`` and ``postgresql`` in scope). The migrations create the enum type in
    their first step; ``create_all`` creates it for the models."""
    table = f"t{index:05d}"
    parts = [
        "sa.Column('id', sa.Integer(), primary_key=True)",
        "sa.Column('name', sa.String(length=100), nullable=False)",
        "sa.Column('code', sa.String(length=32), nullable=False)",
        f"sa.Column('status', {ENUM_TYPE}{'' if in_models else ', create_type=False'}), "
        "nullable=False, server_default='draft')",
        "sa.Column('payload', postgresql.JSONB(), nullable=False, "
        "server_default=sa.text(\"'{}'::jsonb\"))",
        "sa.Column('external_id', sa.Uuid(), nullable=False, "
        "server_default=sa.text('gen_random_uuid()'))",
        "sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False, "
        "server_default=sa.text('0'))",
        "sa.Column('created_at', sa.DateTime(timezone=True), nullable=False, "
        "server_default=sa.text('now()'))",
    ]
    if index:
        parent = f"t{index - 1:05d}"
        parts.append(
            f"sa.Column('parent_id', sa.Integer(), sa.ForeignKey('{parent}.id', "
            f"name='fk_{table}_parent', ondelete='CASCADE'), nullable=True)"
        )
    if with_note:
        parts.append("sa.Column('note', sa.Text(), nullable=True)")
    parts.append(f"sa.UniqueConstraint('code', name='uq_{table}_code')")
    return parts


def indexes(index: int) -> list[tuple[str, str]]:
    """(name, column) of table ``index``'s indexes; all but the first come with its note."""
    table = f"t{index:05d}"
    found = [(f"ix_{table}_name", "name")]
    if index:
        found.insert(0, (f"ix_{table}_parent_id", "parent_id"))
    return found


def models_source(tables: int) -> str:
    lines = [
        "import sqlalchemy as sa",
        "from sqlalchemy.dialects import postgresql",
        "",
        "metadata = sa.MetaData()",
        "",
    ]
    for index in range(tables):
        table = f"t{index:05d}"
        body = ",\n".join(f"    {part}" for part in columns(index, with_note=True, in_models=True))
        lines.append(f"{table} = sa.Table(\n    '{table}',\n    metadata,\n{body},\n)")
        for name, column in indexes(index):
            lines.append(f"sa.Index('{name}', {table}.c.{column})")
        lines.append("")
    return "\n".join(lines)


def steps(tables: int) -> list[list[str]]:
    """Per table: create it (with its first index), then later its note and other index."""
    created: list[list[str]] = []
    completed: list[list[str]] = []
    for index in range(tables):
        table = f"t{index:05d}"
        parts = ",\n".join(
            f"    {part}" for part in columns(index, with_note=False, in_models=False)
        )
        first, *rest = indexes(index)
        created.append(
            [
                f"op.create_table(\n    '{table}',\n{parts},\n)",
                f"op.create_index('{first[0]}', '{table}', ['{first[1]}'])",
            ]
        )
        completed.append(
            [f"op.add_column('{table}', sa.Column('note', sa.Text(), nullable=True))"]
            + [f"op.create_index('{name}', '{table}', ['{column}'])" for name, column in rest]
        )
    # Interleaved so that each table is completed a few migrations after it was created.
    lag = max(1, tables // 4)
    ordered = []
    for index in range(tables + lag):
        if index < tables:
            ordered.append(created[index])
        if index >= lag:
            ordered.append(completed[index - lag])
    return ordered


def generate(root: Path, tables: int, migrations: int) -> Path:
    """Write the project into ``root`` (created; must not hold another project)."""
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text(ALEMBIC_INI)
    (root / "migrations" / "env.py").write_text(ENV_PY)
    (root / "migrations" / "script.py.mako").write_text("")
    (root / "bench_models.py").write_text(models_source(tables))
    work = steps(tables)
    work[0].insert(0, f'op.execute("{CREATE_ENUM}")')
    down = None
    for number in range(migrations):
        start, stop = len(work) * number // migrations, len(work) * (number + 1) // migrations
        body = [statement for step in work[start:stop] for statement in step] or ["pass"]
        revision = f"{number + 1:04d}"
        (versions / f"{revision}_step.py").write_text(
            REVISION.format(
                number=number + 1,
                revision=revision,
                down=down,
                body=textwrap.indent("\n".join(body), "    "),
            )
        )
        down = revision
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--tables", type=int, default=26)
    parser.add_argument("--migrations", type=int, default=9)
    args = parser.parse_args()
    generate(args.directory, args.tables, args.migrations)
    print(f"{args.directory}: {args.tables} tables, {args.migrations} migrations")


if __name__ == "__main__":
    main()

"""The suggested migration is what ``alembic revision --autogenerate`` would write: the
render options env.py passes to ``configure()`` apply (batch mode, module prefixes)."""

from __future__ import annotations

import json
from pathlib import Path

from projects import MODELS, add_migration, patch
from servers import PostgresServer, drift_check

ENV_PY = Path("examples/bookshop/migrations/env.py")
CONFIGURE = """        compare_type=True,
        compare_server_default=True,
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online"""


def _drifted(project: Path) -> None:
    add_migration(
        project,
        "0007",
        "0006",
        'op.create_index("ix_extra_title", "books", ["title"])\n'
        'op.add_column("books", sa.Column("legacy", sa.String(10)))',
    )


def test_plain_rendering(pg_server: PostgresServer, project: Path) -> None:
    _drifted(project)
    run = drift_check("check", "--format", "json", env=pg_server.env(), cwd=project)
    assert run.code == 1, run.output
    fix = json.loads(run.stdout)["suggested_migration"]
    assert "op.drop_index(op.f('ix_extra_title'), table_name='books')" in fix
    assert "op.drop_column('books', 'legacy')" in fix


def test_render_as_batch_is_honoured(pg_server: PostgresServer, project: Path) -> None:
    _drifted(project)
    patch(project, ENV_PY, CONFIGURE, CONFIGURE.replace(
        "compare_server_default=True,\n", "compare_server_default=True,\n        render_as_batch=True,\n"
    ))  # fmt: skip
    run = drift_check("check", "--format", "json", env=pg_server.env(), cwd=project)
    assert run.code == 1, run.output
    fix = json.loads(run.stdout)["suggested_migration"]
    assert "with op.batch_alter_table('books', schema=None) as batch_op:" in fix, fix
    assert "batch_op.drop_column('legacy')" in fix, fix


def test_module_prefixes_are_honoured(pg_server: PostgresServer, project: Path) -> None:
    patch(
        project,
        MODELS,
        "    bio: str | None = Field(default=None, sa_column=Column(Text, nullable=True))\n",
        "    bio: str | None = Field(default=None, sa_column=Column(Text, nullable=True))\n"
        "    nickname: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))\n",
    )
    patch(project, ENV_PY, CONFIGURE, CONFIGURE.replace(
        "compare_server_default=True,\n",
        "compare_server_default=True,\n        sqlalchemy_module_prefix='sqla.',\n",
    ))  # fmt: skip
    run = drift_check("check", "--format", "json", env=pg_server.env(), cwd=project)
    assert run.code == 1, run.output
    fix = json.loads(run.stdout)["suggested_migration"]
    assert "sqla.Column('nickname', sqla.String(length=64)" in fix, fix

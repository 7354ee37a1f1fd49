"""Helpers that turn a copy of the reference app (or a minimal project) into a test case."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

MODELS = Path("examples/bookshop/models.py")
VERSIONS = Path("examples/bookshop/migrations/versions")


def patch(project: Path, relative: Path | str, old: str, new: str) -> None:
    """Replace ``old`` (which must occur exactly once) in a project file."""
    path = project / relative
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {relative}"
    path.write_text(text.replace(old, new))


def add_migration(
    project: Path,
    revision: str,
    down_revision: str | None,
    upgrade: str,
    *,
    versions: Path = VERSIONS,
) -> Path:
    """Write a revision file whose upgrade() body is ``upgrade``."""
    body = textwrap.indent(textwrap.dedent(upgrade).strip(), "    ")
    path = project / versions / f"{revision}_test_change.py"
    path.write_text(
        f'"""test change\n\nRevision ID: {revision}\n"""\n'
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f"revision = {revision!r}\ndown_revision = {down_revision!r}\n"
        "branch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade() -> None:\n{body}\n\n\n"
        "def downgrade() -> None:\n    pass\n"
    )
    return path


MINI_MODELS = """
import sqlalchemy as sa

metadata = sa.MetaData()
notes = sa.Table(
    "notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("body", sa.String(200), nullable=False),
)
"""

MINI_MIGRATION = '''
"""notes

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("body", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notes")
'''

MINI_INI = """
[alembic]
script_location = %(here)s/migrations
prepend_sys_path = .
sqlalchemy.url = {url}
"""

#: env.py bodies, each reading its database URL a different way.
ENV_PY = {
    "ini-url": """
        from alembic import context
        from sqlalchemy import engine_from_config, pool
        import mini_models

        config = context.config
        engine = engine_from_config(
            config.get_section(config.config_ini_section), prefix="sqlalchemy.", poolclass=pool.NullPool
        )
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=mini_models.metadata)
            with context.begin_transaction():
                context.run_migrations()
    """,
    "shared-connection": """
        from alembic import context
        import mini_models

        connection = context.config.attributes["connection"]
        context.configure(connection=connection, target_metadata=mini_models.metadata)
        with context.begin_transaction():
            context.run_migrations()
    """,
    "env-var": """
        import os
        from alembic import context
        from sqlalchemy import create_engine, pool
        import mini_models

        engine = create_engine(os.environ["DATABASE_URL"], poolclass=pool.NullPool)
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=mini_models.metadata)
            with context.begin_transaction():
                context.run_migrations()
    """,
    "postgres-parts": """
        import os
        from urllib.parse import quote
        from alembic import context
        from sqlalchemy import create_engine, pool
        import mini_models

        url = "postgresql+psycopg2://{}:{}@{}:{}/{}".format(
            os.environ["POSTGRES_USER"],
            quote(os.environ["POSTGRES_PASSWORD"], safe=""),
            os.environ["POSTGRES_HOST"],
            os.environ["POSTGRES_PORT"],
            os.environ["POSTGRES_DB"],
        )
        engine = create_engine(url, poolclass=pool.NullPool)
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=mini_models.metadata)
            with context.begin_transaction():
                context.run_migrations()
    """,
}


def mini_project(root: Path, env_style: str, *, ini_url: str = "") -> Path:
    """A one-table plain-SQLAlchemy project whose env.py reads its URL in ``env_style``."""
    (root / "migrations" / "versions").mkdir(parents=True)
    (root / "mini_models.py").write_text(MINI_MODELS)
    (root / "alembic.ini").write_text(MINI_INI.format(url=ini_url))
    (root / "migrations" / "env.py").write_text(textwrap.dedent(ENV_PY[env_style]))
    (root / "migrations" / "versions" / "0001_notes.py").write_text(MINI_MIGRATION.lstrip())
    return root


def report(stdout: str) -> dict[str, object]:
    """The JSON report printed by ``--format json``."""
    data = json.loads(stdout)
    assert isinstance(data, dict)
    return data

"""The models' database is built while the migrations run; a model that needs what only the
migrations create (an extension's type) makes that early build fail, and it is then undone
and done again after the migrations: the verdict is the one a build after them gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from projects import add_migration, mini_project, patch, report
from servers import PostgresServer, drift_check

VERSIONS = Path("migrations/versions")
CITEXT_TABLE = """
op.execute("CREATE EXTENSION IF NOT EXISTS citext")
op.create_table(
    "handles",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("handle", postgresql.CITEXT(), nullable=False),
)
"""
CITEXT_MODEL = """
from sqlalchemy.dialects import postgresql

handles = sa.Table(
    "handles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("handle", postgresql.CITEXT(), nullable=False),
)
"""


@pytest.fixture
def citext_project(pg_server: PostgresServer, tmp_path: Path) -> Path:
    available = {str(r[0]) for r in pg_server.query("SELECT name FROM pg_available_extensions")}
    if "citext" not in available:
        pytest.skip("the server does not offer citext")
    project = mini_project(tmp_path, "shared-connection")
    migration = add_migration(project, "0002", "0001", CITEXT_TABLE, versions=VERSIONS)
    patch(
        project,
        migration.relative_to(project),
        "from alembic import op\n",
        "from alembic import op\nfrom sqlalchemy.dialects import postgresql\n",
    )
    models = project / "mini_models.py"
    models.write_text(models.read_text() + CITEXT_MODEL)
    return project


def test_a_model_needing_a_migrations_extension_is_built_after_them(
    pg_server: PostgresServer, citext_project: Path
) -> None:
    run = drift_check("check", "--format", "json", env=pg_server.env(), cwd=citext_project)
    assert run.code == 0, run.output
    data = report(run.stdout)
    assert data["differences"] == []
    assert [i["object"] for i in data["information"]] == ["citext"]  # type: ignore[index, union-attr]


def test_the_rebuilt_models_database_still_shows_drift(
    pg_server: PostgresServer, citext_project: Path
) -> None:
    patch(citext_project, "mini_models.py", "postgresql.CITEXT(), nullable=False", "sa.Text()")
    run = drift_check("check", "--format", "json", env=pg_server.env(), cwd=citext_project)
    assert run.code == 1, run.output
    details = [d["detail"] for d in report(run.stdout)["differences"]]  # type: ignore[union-attr]
    assert any("handles.handle" in detail for detail in details), details


@pytest.mark.parametrize("driver", ["psycopg2", "psycopg", "asyncpg"])
def test_both_passes_under_each_driver(
    pg_server: PostgresServer, tmp_path: Path, driver: str
) -> None:
    """The models' database is reached in autocommit: no driver may refuse that after the
    safety guard's query on a new connection (psycopg 3 did, inside its transaction)."""
    project = mini_project(tmp_path, "shared-connection")
    run = drift_check("check", env=pg_server.env(DRIFT_DRIVER=driver), cwd=project)
    assert run.code == 0, run.output
    assert f"({driver})" in run.stdout and "catalog" in run.stdout

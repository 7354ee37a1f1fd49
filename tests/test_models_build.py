"""The models' database is built while the migrations run; a model that needs what only the
migrations create (an extension's type) makes that early build fail, and it is then undone
and done again after the migrations: the verdict is the one a build after them gives. With
the cache, the build is kept by the digest of the DDL the models send."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from projects import add_migration, mini_project, patch, report
from servers import PostgresServer, drift_check

from drift_job.worker.models_key import ddl_digest

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


PREFIX = "modelsbuild"


@pytest.fixture
def cached(pg_server: PostgresServer, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a cached run; the module's templates are swept afterwards."""
    env = pg_server.env(DRIFT_CACHE="1", DRIFT_DB_PREFIX=PREFIX)
    yield env
    swept = drift_check("sweep", "--cache", env=env, cwd=tmp_path)
    assert swept.code == 0, swept.output


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


def test_a_build_that_needs_the_migrations_extension_is_never_kept(
    cached: dict[str, str], citext_project: Path
) -> None:
    """The early build failed, so the database was built after the extensions: not what the
    digest describes, so it is not kept, and every run builds it the usual way."""
    for _ in range(2):
        run = drift_check("check", "--format", "json", env=cached, cwd=citext_project)
        assert run.code == 0, run.output
        data = report(run.stdout)
        assert data["cache"]["models"] == {"from": None, "stored": None}  # type: ignore[index]
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


@pytest.mark.parametrize("driver", ["psycopg", "asyncpg"])
def test_the_models_database_is_cloned_under_each_driver(
    cached: dict[str, str], tmp_path: Path, driver: str
) -> None:
    """The digest is rendered by the dialect the models' database is built with."""
    project = mini_project(tmp_path, "shared-connection")
    env = {**cached, "DRIFT_DRIVER": driver}
    runs = [drift_check("check", "--format", "json", env=env, cwd=project) for _ in range(2)]
    assert [run.code for run in runs] == [0, 0], runs[-1].output
    stored, cloned = (report(run.stdout)["cache"]["models"] for run in runs)  # type: ignore[index]
    assert stored["stored"] and cloned["from"] == stored["stored"]  # type: ignore[index]


DIGEST_SCRIPT = """
import json, sys
import sqlalchemy as sa
from drift_job.worker.models_key import ddl_digest
metadata = sa.MetaData()
table = sa.Table("t", metadata, sa.Column("id", sa.Integer, primary_key=True),
                 *[sa.Column(f"c{i}", sa.Integer, index=True) for i in range(12)])
engine = sa.create_engine(sys.argv[1])
with engine.connect():
    print(ddl_digest(engine.dialect, [metadata]))
"""


def _models(default: str = "0", check: str = "id > 0", schema: str | None = None) -> sa.MetaData:
    metadata = sa.MetaData()
    table = sa.Table(
        "t",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("n", sa.Integer, server_default=default, index=True),
        sa.Column("m", sa.Integer, index=True),
        schema=schema,
    )
    sa.event.listen(table, "after_create", sa.DDL(f"ALTER TABLE t ADD CHECK ({check})"))
    return metadata


def test_the_ddl_digest_sees_every_statement_and_no_set_order(pg_server: PostgresServer) -> None:
    url = pg_server.sqlalchemy_url("postgres")
    engine = sa.create_engine(url)
    with engine.connect():
        dialect = engine.dialect
    engine.dispose()
    digests = [
        ddl_digest(dialect, [models])
        for models in (
            _models(),
            _models(),
            _models(default="1"),
            _models(check="id > 1"),
            _models(schema="other"),
        )
    ]
    assert digests[0] == digests[1]
    assert len(set(digests)) == 4, "a server default, a listener's DDL and a schema all count"
    rendered = url.render_as_string(hide_password=False)
    seen = {
        subprocess.run(
            [sys.executable, "-c", DIGEST_SCRIPT, rendered],
            env={"PYTHONHASHSEED": str(seed), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2, 3)
    }
    assert len(seen) == 1, "a table's indexes come from a set: their order must not count"
    assert len(seen.pop().strip()) == 64

"""Every fault named for what it is: the guard's host, port and dialect checks, settings that
fail at import, broken migration graphs, migrations that change the role or the server, and
what a run says about the server it used. Each case is a small project on a real server."""

from __future__ import annotations

import json
import os
import secrets
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from projects import add_migration, mini_project
from servers import PostgresServer, drift_check

SETTINGS_ENV_PY = """
    import os
    from urllib.parse import quote
    from alembic import context
    from sqlalchemy import create_engine, pool
    import mini_models

    # A settings object read at import time, as in tiangolo's template and Mealie.
    server = os.environ.get("POSTGRES_SERVER", "localhost")
    url = "postgresql+psycopg2://{}:{}@{}:{}/{}".format(
        os.environ["POSTGRES_USER"], quote(os.environ.get("POSTGRES_PASSWORD", ""), safe=""), server,
        os.environ["POSTGRES_PORT"], os.environ["POSTGRES_DB"],
    )
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=mini_models.metadata)
        with context.begin_transaction():
            context.run_migrations()
"""

SQLITE_FALLBACK_ENV_PY = """
    import os
    from alembic import context
    from sqlalchemy import create_engine, pool
    import mini_models

    engine = create_engine(os.environ.get("APP_DATABASE_URL", "sqlite:///app.db"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=mini_models.metadata)
        with context.begin_transaction():
            context.run_migrations()
"""


def _env_py(project: Path, body: str) -> None:
    (project / "migrations" / "env.py").write_text(textwrap.dedent(body))


def test_guard_refuses_another_host_naming_the_variable(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    project = mini_project(tmp_path, "shared-connection")
    _env_py(project, SETTINGS_ENV_PY)
    run = drift_check(
        "check", env=pg_server.env(POSTGRES_SERVER="127.0.0.9"), cwd=project, timeout=60
    )
    assert run.code == 2, run.output
    line = run.stderr.strip().splitlines()[-1]
    assert "safety guard" in line and "host 127.0.0.9" in line, line
    assert "POSTGRES_SERVER" in line, line
    assert "DRIFT_SET_ENV='POSTGRES_SERVER={host}'" in line, line


def test_guard_accepts_localhost_for_127_0_0_1(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = mini_project(tmp_path, "shared-connection")
    _env_py(project, SETTINGS_ENV_PY)
    run = drift_check("check", env=pg_server.env(POSTGRES_SERVER="localhost"), cwd=project)
    assert run.code == 0, run.output


def test_guard_refuses_a_sqlite_fallback(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = mini_project(tmp_path, "shared-connection")
    _env_py(project, SQLITE_FALLBACK_ENV_PY)
    run = drift_check("check", env=pg_server.env(), cwd=project)
    assert run.code == 2, run.output
    line = run.stderr.strip().splitlines()[-1]
    assert "a sqlite database" in line and "PostgreSQL only" in line, line
    assert not (project / "app.db").exists()


def test_settings_validation_error_at_import_is_configuration(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    project = mini_project(tmp_path, "shared-connection")
    models = project / "mini_models.py"
    models.write_text(
        "import os\nfrom pydantic import BaseModel\n\n"
        "class Settings(BaseModel):\n    SECRET_KEY: str\n    FIRST_SUPERUSER: str\n\n"
        "settings = Settings(**{k: v for k, v in os.environ.items() if k == 'FIRST_SUPERUSER'})\n"
        + models.read_text()
    )
    run = drift_check("check", env=pg_server.env(FIRST_SUPERUSER="admin"), cwd=project)
    assert run.code == 2, run.output
    line = run.stderr.strip().splitlines()[-1]
    assert "settings (Settings) failed to load: SECRET_KEY: Field required" in line, line


def test_missing_parent_revision_names_file_and_id(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    project = mini_project(tmp_path, "shared-connection")
    add_migration(project, "0002", "zz_missing", "pass", versions=Path("migrations/versions"))
    run = drift_check("check", env=pg_server.env(), cwd=project)
    assert run.code == 2, run.output
    line = run.stderr.strip().splitlines()[-1]
    assert "0002_test_change.py has down_revision 'zz_missing'" in line, line


def test_duplicate_revision_ids_name_both_files(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = mini_project(tmp_path, "shared-connection")
    add_migration(project, "0001", None, "pass", versions=Path("migrations/versions"))
    run = drift_check("check", env=pg_server.env(), cwd=project)
    assert run.code == 2, run.output
    line = run.stderr.strip().splitlines()[-1]
    assert "0001_notes.py and 0001_test_change.py" in line, line


def test_package_script_location_that_cannot_be_imported(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    project = mini_project(tmp_path, "shared-connection")
    ini = project / "alembic.ini"
    ini.write_text(ini.read_text().replace("%(here)s/migrations", "myapp:migrations"))
    run = drift_check("check", env=pg_server.env(), cwd=project)
    assert run.code == 2, run.output
    line = run.stderr.strip().splitlines()[-1]
    assert "script_location = myapp:migrations could not be imported" in line, line
    assert "pip install -e ." in line and "prepend_sys_path" in line and "PYTHONPATH" in line


@pytest.fixture
def own_role(pg_server: PostgresServer) -> Iterator[tuple[str, str]]:
    """A CREATEDB-only role of this test's own (the migrations may change it)."""
    role, password = f"role_{secrets.token_hex(4)}", secrets.token_hex(12)
    pg_server.query(f"CREATE ROLE {role} LOGIN CREATEDB PASSWORD '{password}'")
    yield role, password
    pg_server.query(f"DROP ROLE IF EXISTS {role}")


def test_a_migration_that_changes_the_password_is_a_migration_failure(
    pg_server: PostgresServer, tmp_path: Path, own_role: tuple[str, str]
) -> None:
    role, password = own_role
    project = mini_project(tmp_path, "shared-connection")
    add_migration(
        project,
        "0002",
        "0001",
        f"op.execute(\"ALTER ROLE {role} PASSWORD 'changed'\")",
        versions=Path("migrations/versions"),
    )
    env = pg_server.env(POSTGRES_USER=role, POSTGRES_PASSWORD=password)
    run = drift_check("check", env=env, cwd=project)
    assert run.code == 4, run.output
    line = run.stderr.strip().splitlines()[-1]
    assert f"{role} can no longer log in" in line and "0002_test_change.py" in line, line
    assert pg_server.temporary_databases() == []  # dropped on the connection held for the run


def test_a_database_created_by_a_migration_is_reported_and_left(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    extra = f"made_by_migration_{secrets.token_hex(4)}"
    project = mini_project(tmp_path, "shared-connection")
    add_migration(
        project,
        "0002",
        "0001",
        f'with op.get_context().autocommit_block():\n    op.execute("CREATE DATABASE {extra}")',
        versions=Path("migrations/versions"),
    )
    try:
        run = drift_check("check", "--format", "json", env=pg_server.env(), cwd=project)
        assert run.code == 0, run.output
        assert json.loads(run.stdout)["created_databases"] == [extra]
        assert extra in {str(r[0]) for r in pg_server.query("SELECT datname FROM pg_database")}
        pg_server.query(f"DROP DATABASE {extra}")
        text = drift_check("check", env=pg_server.env(), cwd=project)
        assert text.code == 0, text.output
        assert f"the migrations created database(s) {extra}" in text.stdout, text.stdout
    finally:
        pg_server.query(f"DROP DATABASE IF EXISTS {extra}")


def test_superuser_is_warned_about(
    pg_server: PostgresServer, tmp_path: Path, own_role: tuple[str, str]
) -> None:
    project = mini_project(tmp_path, "shared-connection")
    run = drift_check("check", env=pg_server.env(), cwd=project)
    assert run.code == 0, run.output
    assert "warning: role postgres is a superuser" in run.stdout
    role, password = own_role
    quiet = drift_check(
        "check", env=pg_server.env(POSTGRES_USER=role, POSTGRES_PASSWORD=password), cwd=project
    )
    assert quiet.code == 0, quiet.output
    assert "is a superuser" not in quiet.output


def test_keep_database_prints_a_connection_string_without_the_password(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    project = mini_project(tmp_path, "shared-connection")
    run = drift_check("check", "--keep-database", env=pg_server.env(), cwd=project)
    try:
        assert run.code == 0, run.output
        kept = [line for line in run.stdout.splitlines() if line.startswith("  kept ")]
        assert len(kept) == 1, run.stdout
        name = pg_server.temporary_databases()[0]
        assert f"psql 'postgresql://postgres@127.0.0.1:{pg_server.port}/{name}'" in kept[0]
        assert pg_server.password not in run.output
    finally:
        for name in pg_server.temporary_databases():
            pg_server.query(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_a_migration_that_drops_the_maintenance_database_is_named(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    maintenance = f"maint_{secrets.token_hex(4)}"
    pg_server.query(f"CREATE DATABASE {maintenance}")
    project = mini_project(tmp_path, "shared-connection")
    add_migration(
        project,
        "0002",
        "0001",
        "with op.get_context().autocommit_block():\n"
        f'    op.execute("DROP DATABASE {maintenance} WITH (FORCE)")',
        versions=Path("migrations/versions"),
    )
    try:
        run = drift_check("check", env=pg_server.env(DRIFT_MAINTENANCE_DB=maintenance), cwd=project)
        assert run.code == 4, run.output
        line = run.stderr.strip().splitlines()[-1]
        assert f"a migration dropped the maintenance database {maintenance}" in line, line
        assert "0002_test_change.py" in line, line
        assert pg_server.temporary_databases() == []  # dropped through template1
    finally:
        pg_server.query(f"DROP DATABASE IF EXISTS {maintenance}")


def test_guard_names_only_a_variable_called_like_a_host(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    """Mealie's case: the settings default to host 'postgres', and DB_ENGINE=postgres (or
    POSTGRES_USER=postgres) must not be offered as the variable to set."""
    project = mini_project(tmp_path, "shared-connection")
    _env_py(project, SETTINGS_ENV_PY.replace('"localhost"', '"postgres"'))
    run = drift_check("check", env=pg_server.env(DB_ENGINE="postgres"), cwd=project, timeout=60)
    assert run.code == 2, run.output
    line = run.stderr.strip().splitlines()[-1]
    assert "host postgres" in line, line
    assert "DB_ENGINE" not in line and "POSTGRES_USER=" not in line, line
    assert "POSTGRES_SERVER={host}" in line, line


def test_settings_missing_while_revisions_load_is_one_line(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    """Mealie's case: a revision file imports the app, whose settings need a value."""
    project = mini_project(tmp_path, "shared-connection")
    (project / "app_settings.py").write_text(
        "from pydantic import BaseModel\n\nclass AppSettings(BaseModel):\n    PRODUCTION: bool\n\n"
        "settings = AppSettings()\n"
    )
    revision = add_migration(project, "0002", "0001", "pass", versions=Path("migrations/versions"))
    revision.write_text("import app_settings  # noqa\n" + revision.read_text())
    run = drift_check("check", env=pg_server.env(), cwd=project)
    assert run.code == 2, run.output
    lines = run.stderr.strip().splitlines()
    assert (
        "0002_test_change.py failed to load: the application's settings (AppSettings)" in lines[-1]
    )
    assert "PRODUCTION: Field required" in lines[-1], lines[-1]


def test_the_driver_is_one_the_project_has(pg_server: PostgresServer, tmp_path: Path) -> None:
    """The fastapi template: psycopg 3 only, the URL built inside the app's settings."""
    project = mini_project(tmp_path, "shared-connection")
    run = drift_check("check", env=pg_server.env(), cwd=project)
    assert run.code == 0
    assert "(psycopg2)" in run.stdout  # psycopg2 is installed here, so it is the default


def test_without_a_postgres_database_the_maintenance_database_is_template1(
    tmp_path: Path,
) -> None:
    """As createdb does: a server whose `postgres` database was dropped still works when no
    DRIFT_MAINTENANCE_DB is named; a named one that is missing is an error."""
    from drift_job.server import ThrowawayServer, find_binaries

    server = ThrowawayServer(find_binaries({"PATH": ""}), tcp=True, password="maint-test").start()
    try:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "PG", "DRIFT_"))
        }
        env.update(
            POSTGRES_HOST="127.0.0.1",
            POSTGRES_PORT=str(server.port),
            POSTGRES_USER="postgres",
            POSTGRES_PASSWORD="maint-test",
        )
        conn = psycopg2.connect(
            host="127.0.0.1",
            port=server.port,
            user="postgres",
            password="maint-test",
            dbname="template1",
        )
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("DROP DATABASE postgres")
        conn.close()
        project = mini_project(tmp_path, "shared-connection")
        run = drift_check("check", env=env, cwd=project)
        assert run.code == 0, run.output
        named = drift_check("check", env={**env, "DRIFT_MAINTENANCE_DB": "postgres"}, cwd=project)
        assert named.code == 2, named.output
        assert 'database "postgres" does not exist' in named.stderr
    finally:
        server.stop()

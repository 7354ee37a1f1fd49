"""Real projects' env.py patterns: every way env.py finds its database, async drivers, filters,
import-time settings, side effects and read-only checkouts. Each case is a small project."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from projects import mini_project, patch
from servers import PostgresServer, drift_check

DEV_URL = "postgresql+psycopg2://developer@localhost/devdb"

ASYNC_ENV_PY = """
    import asyncio
    from alembic import context
    from sqlalchemy import pool
    from sqlalchemy.ext.asyncio import async_engine_from_config
    import mini_models

    config = context.config


    def do_run_migrations(connection):
        context.configure(connection=connection, target_metadata=mini_models.metadata)
        with context.begin_transaction():
            context.run_migrations()


    async def run_async_migrations():
        connectable = async_engine_from_config(
            config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
        )
        async with connectable.connect() as connection:
            await connection.run_sync(do_run_migrations)
        await connectable.dispose()


    asyncio.run(run_async_migrations())
"""

ASYNC_ENV_VAR_PY = """
    import asyncio
    import os
    from alembic import context
    from sqlalchemy.ext.asyncio import create_async_engine
    import mini_models


    def do_run_migrations(connection):
        context.configure(connection=connection, target_metadata=mini_models.metadata)
        with context.begin_transaction():
            context.run_migrations()


    async def main():
        engine = create_async_engine(os.environ["DATABASE_URL"])
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
        await engine.dispose()


    asyncio.run(main())
"""

SETTINGS_MODULE = """
    import functools
    import os
    from dataclasses import dataclass
    from urllib.parse import quote


    @dataclass(frozen=True)
    class AppSettings:
        server: str
        port: str
        user: str
        password: str
        db: str

        @property
        def database_uri(self) -> str:
            return (
                f"postgresql+psycopg2://{self.user}:{quote(self.password, safe='')}"
                f"@{self.server}:{self.port}/{self.db}"
            )


    @functools.lru_cache
    def get_settings() -> AppSettings:
        return AppSettings(
            os.environ["APP_DB_SERVER"],
            os.environ["APP_DB_PORT"],
            os.environ["APP_DB_USER"],
            os.environ["APP_DB_PASSWORD"],
            os.environ["APP_DB_NAME"],
        )


    settings = get_settings()  # read once, at first import
"""

SETTINGS_ENV_PY = """
    from alembic import context
    from sqlalchemy import create_engine, pool
    import mini_models
    from app_settings import settings

    engine = create_engine(settings.database_uri, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=mini_models.metadata)
        with context.begin_transaction():
            context.run_migrations()
"""

FILTERING_ENV_PY = """
    from alembic import context
    import mini_models


    def include_object(obj, name, type_, reflected, compare_to):
        return not (type_ == "table" and name == "legacy_audit_log")


    context.configure(
        connection=context.config.attributes["connection"],
        target_metadata=mini_models.metadata,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
"""


def _env_py(project: Path, body: str) -> None:
    (project / "migrations" / "env.py").write_text(textwrap.dedent(body))


def _second_migration(project: Path, body: str, imports: str = "") -> None:
    (project / "migrations" / "versions" / "0002_more.py").write_text(
        f'"""more\n\nRevision ID: 0002\n"""\n{imports}import sqlalchemy as sa\nfrom alembic import op\n\n'
        'revision = "0002"\ndown_revision = "0001"\nbranch_labels = None\ndepends_on = None\n\n\n'
        f"def upgrade() -> None:\n    {body}\n\n\ndef downgrade() -> None:\n    pass\n"
    )


@pytest.mark.parametrize(
    ("driver", "ini_driver"),
    [("asyncpg", "postgresql+asyncpg"), ("psycopg async", "postgresql+psycopg")],
)
def test_async_env_py_keeps_the_projects_driver(
    any_pg_server: PostgresServer, tmp_path: Path, driver: str, ini_driver: str
) -> None:
    project = mini_project(tmp_path, "ini-url", ini_url=f"{ini_driver}://developer@localhost/devdb")
    _env_py(project, ASYNC_ENV_PY)
    run = drift_check("check", env=any_pg_server.env(), cwd=project)
    assert run.code == 0, run.output
    expected = "asyncpg" if driver == "asyncpg" else "psycopg"
    assert f"({expected})" in run.stdout
    patch(project, "mini_models.py", "sa.String(200)", "sa.String(250)")
    run = drift_check("check", env=any_pg_server.env(), cwd=project)
    assert run.code == 1, run.output


def test_psycopg3_sync_project(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = mini_project(
        tmp_path, "ini-url", ini_url="postgresql+psycopg://developer@localhost/devdb"
    )
    run = drift_check("check", env=pg_server.env(), cwd=project)
    assert run.code == 0, run.output
    assert "(psycopg)" in run.stdout


def test_async_env_var_url_with_any_name_and_the_guard(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    project = mini_project(tmp_path, "ini-url")
    _env_py(project, ASYNC_ENV_VAR_PY)
    decoy = f"postgresql+asyncpg://postgres:x@127.0.0.1:{pg_server.port}/postgres"
    env = pg_server.env(DATABASE_URL=decoy)
    guarded = drift_check("check", env=env, cwd=project)
    assert guarded.code == 2, guarded.output
    assert "safety guard" in guarded.stderr
    assert "DRIFT_URL_ENV=DATABASE_URL" in guarded.stderr
    env["DRIFT_SET_ENV"] = "DATABASE_URL={url}"
    run = drift_check("check", env=env, cwd=project)
    assert run.code == 0, run.output
    assert "(asyncpg)" in run.stdout


def test_url_in_a_differently_named_variable(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = mini_project(tmp_path, "env-var")
    patch(
        project,
        "migrations/env.py",
        'os.environ["DATABASE_URL"]',
        'os.environ["DATABASE_CONNECTION_STRING"]',
    )
    env = pg_server.env(DATABASE_CONNECTION_STRING=DEV_URL)
    assert (
        drift_check("check", "--url-env", "DATABASE_CONNECTION_STRING", env=env, cwd=project).code
        == 0
    )
    assert (
        drift_check(
            "check", "--set-env", "DATABASE_CONNECTION_STRING={url}", env=env, cwd=project
        ).code
        == 0
    )


def test_settings_object_cached_at_import_even_from_a_migration(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    project = mini_project(tmp_path, "ini-url")
    (project / "app_settings.py").write_text(textwrap.dedent(SETTINGS_MODULE))
    _env_py(project, SETTINGS_ENV_PY)
    # A migration that imports the project's own package: imported while the graph is loaded.
    _second_migration(
        project,
        "op.add_column('notes', sa.Column('n', sa.Integer))\n    assert settings.db",
        "from app_settings import settings\n",
    )
    patch(
        project,
        "mini_models.py",
        '    sa.Column("body", sa.String(200), nullable=False),\n',
        '    sa.Column("body", sa.String(200), nullable=False),\n    sa.Column("n", sa.Integer),\n',
    )
    env = pg_server.env(
        APP_DB_SERVER="localhost",
        APP_DB_PORT="5432",
        APP_DB_USER="dev",
        APP_DB_PASSWORD="dev",
        APP_DB_NAME="devdb",
    )
    env["DRIFT_SET_ENV"] = (
        "APP_DB_SERVER={host}; APP_DB_PORT={port}; APP_DB_USER={user}; APP_DB_PASSWORD={password}; APP_DB_NAME={database}"
    )
    run = drift_check("check", env=env, cwd=project)
    assert run.code == 0, run.output
    assert pg_server.password not in run.output


def test_include_object_is_honoured_for_objects_only_in_migrations(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    project = mini_project(tmp_path, "shared-connection")
    _second_migration(project, 'op.execute("CREATE TABLE legacy_audit_log (id int)")')
    run = drift_check("check", "--format", "json", env=pg_server.env(), cwd=project)
    assert run.code == 1, run.output  # reported by default ...
    assert '"table": "legacy_audit_log"' in run.stdout
    _env_py(project, FILTERING_ENV_PY)
    run = drift_check("check", env=pg_server.env(), cwd=project)
    assert run.code == 0, run.output  # ... and accepted through env.py's include_object


def test_models_that_write_to_home_when_home_is_not_writable(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    """A container's HOME is often missing or read-only; models that cache files there must
    still import. (A read-only project mount is exercised by the container image tests.)"""
    project = mini_project(tmp_path, "shared-connection")
    patch(
        project,
        "mini_models.py",
        "import sqlalchemy as sa\n",
        "import os\nimport pathlib\nimport sqlalchemy as sa\n\n"
        "pathlib.Path(os.environ['HOME'], '.mini-cache').write_text('cached')\n",
    )
    env = pg_server.env(HOME="/nonexistent/home")
    run = drift_check("check", env=env, cwd=project)
    assert run.code == 0, run.output

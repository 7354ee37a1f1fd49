"""Alembic environment for the bookshop application.

Online mode follows Alembic's "sharing a connection with a series of migration
commands and environments" recipe: a caller that already holds a connection (a test
harness, or a tool such as drift-check) passes it in ``config.attributes["connection"]``
and the migrations run on it. Otherwise an engine is built from ``sqlalchemy.url``,
falling back to the ``DATABASE_URL`` environment variable when that option is empty.
"""

import os
from logging.config import fileConfig

from alembic import context
from bookshop import models  # noqa: F401  (registers every table on SQLModel.metadata)
from sqlalchemy import engine_from_config, pool
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

config = context.config

if config.config_file_name is not None:
    fileConfig(config.config_file_name)

target_metadata = SQLModel.metadata


def get_url() -> str:
    """The database URL: ``sqlalchemy.url`` if set, else ``$DATABASE_URL``."""
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL", "")
    if not url:
        raise RuntimeError(
            "No database URL configured: set sqlalchemy.url in alembic.ini "
            "or the DATABASE_URL environment variable."
        )
    # Some hosting platforms still hand out the legacy "postgres://" scheme,
    # which SQLAlchemy 1.4+ no longer accepts.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    return url


def run_migrations_offline() -> None:
    """Run migrations in 'offline' mode, emitting SQL to the script output."""
    context.configure(
        url=get_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        compare_type=True,
        compare_server_default=True,
    )

    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # Compare column types and server defaults too, not only tables, columns,
        # indexes and constraints. Every server default in bookshop.models is written
        # the way PostgreSQL reports it back, so the comparison stays exact.
        compare_type=True,
        compare_server_default=True,
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations in 'online' mode, on a shared connection or a fresh engine."""
    connectable = config.attributes.get("connection")

    if isinstance(connectable, Connection):
        do_run_migrations(connectable)
        return
    if isinstance(connectable, Engine):  # test harnesses such as pytest-alembic pass an engine
        with connectable.connect() as connection:
            do_run_migrations(connection)
        return

    section = config.get_section(config.config_ini_section, {})
    section["sqlalchemy.url"] = get_url()
    engine = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            do_run_migrations(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

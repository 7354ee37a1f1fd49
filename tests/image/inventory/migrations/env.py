"""Alembic environment: connects with sqlalchemy.url, compares with the inventory models."""

from alembic import context
from inventory import models  # noqa: F401  (registers the tables)
from sqlalchemy import engine_from_config, pool
from sqlmodel import SQLModel

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()

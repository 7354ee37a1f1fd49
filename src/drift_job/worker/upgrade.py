"""``alembic upgrade head`` through Alembic's API, on a connection shared with env.py.

The connection goes into ``config.attributes["connection"]`` (Alembic's cookbook pattern),
and ``sqlalchemy.url`` names the temporary database, so env.py reaches it whichever way it
reads its database. Each applied revision is reported, so a worker that dies mid-upgrade is
known to have died after a given revision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from alembic import command, util
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from sqlalchemy import create_engine
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from .project import Project


@contextmanager
def shared_connection(
    project: Project, url: URL, sync_url: URL, *, autogenerate: bool
) -> Iterator[Config]:
    """A Config whose ``attributes["connection"]`` is an open connection to the temporary DB."""
    config = project.new_config(autogenerate=autogenerate)
    config.set_main_option(
        "sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%")
    )
    engine = create_engine(sync_url, poolclass=NullPool)
    try:
        # Not engine.begin(): a connection already in a transaction would refuse the
        # migrations' own autocommit_block() (CREATE INDEX CONCURRENTLY, ALTER TYPE).
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            yield config
            transaction = connection.get_transaction()
            if transaction is not None:  # env.py that began none leaves one open
                transaction.commit()
    finally:
        engine.dispose()


def watch_configure(
    applied: Callable[[str], None],
    options: dict[str, Any],
    configuring: Callable[[dict[str, Any]], None] = lambda options: None,
    on_configure: Callable[[dict[str, Any]], None] = lambda options: None,
) -> None:
    """Add our callback to whatever ``on_version_apply`` env.py passes to ``configure()``,
    and keep what env.py configured (its metadata and filters serve the catalog pass);
    ``configuring`` sees the options first, ``on_configure`` is told once it is configured,
    before any migration runs."""
    original = EnvironmentContext.configure

    def configure(self: EnvironmentContext, *args: Any, **kwargs: Any) -> None:
        options.clear()
        options.update(kwargs)
        configuring(kwargs)

        def on_apply(*, ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
            revision = getattr(step, "up_revision_id", None)
            if revision and getattr(step, "is_upgrade", True):
                applied(str(revision))

        callbacks = util.to_tuple(kwargs.get("on_version_apply"), default=())
        kwargs["on_version_apply"] = (*callbacks, on_apply)
        original(self, *args, **kwargs)
        on_configure(options)

    EnvironmentContext.configure = configure  # type: ignore[method-assign]


def upgrade(project: Project, url: URL, sync_url: URL) -> None:
    with shared_connection(project, url, sync_url, autogenerate=False) as config:
        command.upgrade(config, project.upgrade_target)

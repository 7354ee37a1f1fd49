"""The server a run uses: the configured one, or a throwaway one started for the run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from drift_job.database import ServerAddress
from drift_job.errors import ConfigError
from drift_job.server import ThrowawayServer, find_binaries, reap_orphans
from drift_job.settings import Settings

if TYPE_CHECKING:
    from drift_job.supervisor.run import Supervisor


def configured_address(settings: Settings) -> ServerAddress:
    """The server named by the settings (``POSTGRES_HOST`` must be set)."""
    if settings.host is None:
        raise ConfigError("POSTGRES_HOST: not set (this command needs a configured server)")
    return ServerAddress(
        settings.host,
        settings.port,
        settings.user,
        settings.password,
        settings.sslmode,
        settings.maintenance_db,
        maintenance_fallback=not settings.maintenance_db_explicit,
    )


@contextmanager
def server_for(settings: Settings, supervisor: Supervisor) -> Iterator[ServerAddress]:
    """The configured server, or a throwaway one started (and deleted) for this run."""
    if not settings.embedded:
        yield configured_address(settings)
        return
    with supervisor.timed("server") as note:
        reap_orphans(note.append)  # throwaway servers of runs killed by SIGKILL or OOM
        binaries = find_binaries()
        server = ThrowawayServer(binaries).start()
        note.append(f"throwaway PostgreSQL from the {binaries.origin} ({binaries.bindir})")
    try:
        yield ServerAddress(server.host, server.port, server.superuser, None, None, "postgres")
    finally:
        server.stop()

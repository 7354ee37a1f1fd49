"""Leftovers of killed runs: which of our databases a sweep may drop, and dropping them.

A database is a leftover only if it is ours (name pattern AND marker comment), old enough, and
its run is gone. A run is alive while the server shows a session named after it (every run
holds one for its whole life, see :func:`liveness_session`; SIGKILL closes it with the process)
or any session connected to the database itself (a worker still migrating). The sweep acts
only on databases the current role may drop; another role's are left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg2
from psycopg2.extensions import connection as PgConnection

from drift_job import database
from drift_job.database import TOOL_NAME, ServerAddress
from drift_job.errors import InfrastructureError

#: Server-side TCP keepalives for the liveness session: if the run's host vanishes without
#: closing the connection, the server notices within about a minute and the run counts as gone.
LIVENESS_SETTINGS = (
    "SET tcp_keepalives_idle = 30",
    "SET tcp_keepalives_interval = 10",
    "SET tcp_keepalives_count = 3",
)
DATABASES_SQL = """
SELECT d.datname, shobj_description(d.oid, 'pg_database'), pg_get_userbyid(d.datdba),
       pg_has_role(current_user, d.datdba, 'USAGE')
       OR coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false)
FROM pg_database d WHERE d.datname LIKE %s ORDER BY d.datname
"""
# Sessions of every role: datname and application_name are visible to any role, but
# backend_type is not (NULL for other roles' sessions), so background processes such as
# autovacuum workers are told apart by having no user.
SESSIONS_SQL = """
SELECT datname, application_name FROM pg_stat_activity
WHERE pid <> pg_backend_pid() AND usesysid IS NOT NULL
  AND backend_type IS DISTINCT FROM 'autovacuum worker'
"""


def liveness_name(run_id: str) -> str:
    """The application_name of a run's liveness session (and of its other admin sessions)."""
    return f"{TOOL_NAME} {run_id}"


def liveness_session(address: ServerAddress, run_id: str, timeout: float) -> PgConnection:
    """A maintenance-database session named after the run, to hold open from before CREATE
    DATABASE until after the final DROP: while it is open, a sweep anywhere (even with
    ``--older-than 0``) leaves the run's databases alone. ``timeout`` bounds the retries."""
    conn = database.maintenance_connection(
        address, timeout=timeout, application_name=liveness_name(run_id)
    )
    keep_session_alive(conn)
    return conn


def keep_session_alive(conn: PgConnection) -> None:
    """Settings for a session that stays idle for a whole run: server-side keepalives, and
    no idle timeout that would end it (and with it the proof that the run is alive)."""
    with conn.cursor() as cur:
        for statement in LIVENESS_SETTINGS:
            cur.execute(statement)
        if conn.server_version >= 140000:
            cur.execute("SET idle_session_timeout = 0")


@dataclass(frozen=True)
class Leftover:
    """One of our databases that is old enough to be a leftover."""

    name: str
    created: datetime
    age_seconds: float
    owner: str
    run_id: str

    @property
    def age(self) -> str:
        """The age for messages: seconds, minutes or hours."""
        if self.age_seconds < 120:
            return f"{self.age_seconds:.0f} s"
        if self.age_seconds < 7200:
            return f"{self.age_seconds / 60:.0f} min"
        return f"{self.age_seconds / 3600:.1f} h"


@dataclass
class Survey:
    """Our old databases on a server, by what a sweep may do with them."""

    droppable: list[Leftover] = field(default_factory=list)
    #: (leftover, why it counts as alive)
    live: list[tuple[Leftover, str]] = field(default_factory=list)
    #: Owned by a role the current role cannot act for: DROP would be refused.
    foreign: list[Leftover] = field(default_factory=list)


def survey(conn: PgConnection, prefix: str, older_than: float) -> Survey:
    """Sort our databases older than ``older_than`` seconds into droppable, live and foreign.

    The databases are read before the sessions: a run whose database shows up already holds
    its liveness session (opened before CREATE DATABASE), so it cannot be missed.
    """
    pattern = database.name_pattern(prefix)
    now = datetime.now(UTC)
    with conn.cursor() as cur:
        cur.execute(DATABASES_SQL, (prefix.replace("_", r"\_") + r"\_%",))
        rows = cur.fetchall()
        cur.execute(SESSIONS_SQL)
        sessions = cur.fetchall()
    run_sessions = {application_name for _, application_name in sessions}
    connected: dict[str, int] = {}
    for datname, _ in sessions:
        connected[datname] = connected.get(datname, 0) + 1
    result = Survey()
    for name, comment, owner, may_drop in rows:
        marker = database.read_marker(comment)
        if marker is None or not pattern.match(name):
            continue
        age = (now - marker.created).total_seconds()
        if age < older_than:
            continue
        leftover = Leftover(name, marker.created, age, str(owner), marker.run_id)
        if marker.run_id and liveness_name(marker.run_id) in run_sessions:
            result.live.append((leftover, "its run is still alive"))
        elif connected.get(name):
            reason = f"its run is still alive ({connected[name]} session(s) connected to it)"
            result.live.append((leftover, reason))
        elif not may_drop:
            result.foreign.append(leftover)
        else:
            result.droppable.append(leftover)
    return result


def find_leftovers(conn: PgConnection, prefix: str, older_than: float) -> list[Leftover]:
    """Exactly the databases a sweep would drop: ours, old, droppable, and of a dead run."""
    return survey(conn, prefix, older_than).droppable


@dataclass
class SweepOutcome:
    """What one sweep did (with ``dry_run``: ``dropped`` holds what it would drop)."""

    dropped: list[Leftover] = field(default_factory=list)
    live: list[Leftover] = field(default_factory=list)
    foreign: list[Leftover] = field(default_factory=list)
    failed: list[Leftover] = field(default_factory=list)
    #: Orphaned throwaway servers reaped (see :func:`drift_job.server.reap_orphans`).
    servers: int = 0
    #: False when no server is configured: only throwaway servers were looked at.
    databases_swept: bool = True
    #: The migration cache's templates dropped by ``sweep --cache`` (None: not asked).
    templates: list[str] | None = None


def _one_line(exc: psycopg2.Error) -> str:
    """The server's message and detail on one line."""
    diag = exc.diag
    text = diag.message_primary or str(exc).strip() or exc.__class__.__name__
    if diag.message_detail:
        text += f" ({diag.message_detail})"
    return " ".join(text.split())


def sweep(
    conn: PgConnection,
    prefix: str,
    older_than: float,
    *,
    dry_run: bool,
    log: Callable[[str], None],
    report_foreign: bool = False,
) -> SweepOutcome:
    """Drop the leftovers of killed runs, one log line for each database considered.

    Live runs' databases are skipped. Another role's leftovers are named (once) only with
    ``report_foreign``: the sweep at the start of every check leaves them unmentioned, so a
    check does not repeat the same complaint on every run. A drop the server refuses is
    logged and counted in ``failed``; a lost connection raises InfrastructureError.
    """
    found = survey(conn, prefix, older_than)
    outcome = SweepOutcome(
        live=[leftover for leftover, _ in found.live], foreign=list(found.foreign)
    )
    for leftover, reason in found.live:
        log(f"skipped {leftover.name}: {reason}")
    if report_foreign:
        for leftover in found.foreign:
            log(f"left alone: {leftover.name} is owned by role {leftover.owner}")
    for leftover in found.droppable:
        if dry_run:
            log(f"would drop leftover database {leftover.name} (age {leftover.age})")
            outcome.dropped.append(leftover)
            continue
        try:
            database.drop_database(conn, leftover.name)
        except psycopg2.Error as exc:
            if conn.closed:
                raise InfrastructureError(
                    f"lost the connection while dropping leftover database {leftover.name}: "
                    f"{_one_line(exc)}"
                ) from None
            log(f"cannot drop leftover database {leftover.name}: {_one_line(exc)}")
            outcome.failed.append(leftover)
            continue
        log(f"dropped leftover database {leftover.name} (age {leftover.age})")
        outcome.dropped.append(leftover)
    return outcome

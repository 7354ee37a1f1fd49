"""The run's temporary databases on the server — the one the migrations build and, for the
catalog pass, the one built from the models: the connection held for the whole run, CREATE,
DROP (also when a migration broke the way back in), and what else appeared meanwhile."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import psycopg2
from psycopg2.extensions import connection as PgConnection

from drift_job import database, leftovers
from drift_job.database import ServerAddress
from drift_job.errors import DriftCheckError, InfrastructureError, MigrationError
from drift_job.settings import Settings
from drift_job.supervisor.control import Background

CLEANUP_WAIT = 30.0
EMERGENCY_CONNECT_TIMEOUT = 3.0
#: Why cleanup could not connect, when the migrations caused it (None otherwise).
Blame = Callable[[DriftCheckError], "str | None"]


class TemporaryDatabase:
    """One run's databases. Each name is announced before its CREATE is sent, so cleanup
    always knows what may exist."""

    def __init__(
        self, settings: Settings, address: ServerAddress, run_id: str, log: Callable[[str], None]
    ) -> None:
        self.settings = settings
        self.address = address
        self.run_id = run_id
        self.log = log
        self.names: list[str] = []
        self.kept: set[str] = set()
        self.admin: PgConnection | None = None
        #: Set when cleanup ends our sessions: a CREATE it interrupted must not be retried
        #: (a retry would create the database after cleanup dropped what existed).
        self.abandoned = False
        #: Held while a name is announced or the run abandoned, so neither misses the other.
        self._announcing = threading.Lock()

    def abandon(self) -> None:
        """Cleanup has begun: no CREATE starts after this (one already sent is ended)."""
        with self._announcing:
            self.abandoned = True

    def keep(self, name: str) -> None:
        """Leave ``name`` in place at cleanup (``--keep-database``)."""
        self.kept.add(name)

    @property
    def dropping(self) -> list[str]:
        return [name for name in self.names if name not in self.kept]

    @property
    def name(self) -> str | None:
        """The database the migrations build (the one reports name)."""
        return self.names[0] if self.names else None

    @property
    def application_name(self) -> str:
        return leftovers.liveness_name(self.run_id)

    def prepare(self) -> PgConnection:
        """Connect, check the role, sweep old leftovers. The connection is then held for the
        whole run: its application_name proves the run alive to any ``sweep``."""
        settings, address = self.settings, self.address
        conn = self._connect()
        superuser = database.check_can_create(conn)
        if superuser and not settings.embedded:
            self.log(
                f"warning: role {address.user} is a superuser; a role with only CREATEDB is "
                "enough and safer (CREATE ROLE drift_check LOGIN CREATEDB PASSWORD '…')"
            )
        leftovers.sweep(conn, settings.prefix, settings.orphan_ttl, dry_run=False, log=self.log)
        return conn

    def _connect(self) -> PgConnection:
        return leftovers.liveness_session(self.address, self.run_id, self.settings.connect_timeout)

    def create(
        self,
        names: list[str],
        blame: Blame,
        *,
        again: bool = True,
        template: str | None = None,
        strategy: str | None = None,
    ) -> set[str]:
        """CREATE (and mark) the databases, as copies of ``template`` if given; returns every
        database on the server then. If the held connection broke (a migration dropped the
        maintenance database, or ended our sessions), a fresh one tells why; ``blame`` names
        a migration that caused it."""
        if self.admin is None:
            raise RuntimeError("drift-check: CREATE before the connection was prepared")
        try:
            for name in names:
                with self._announcing:
                    if self.abandoned:
                        raise InfrastructureError(
                            "could not create a temporary database: interrupted"
                        )
                    if name not in self.names:  # announced before CREATE: cleanup drops it
                        self.names.append(name)
                database.create_database(
                    self.admin, name, self.run_id, template=template, strategy=strategy
                )
            return database.database_names(self.admin)
        except psycopg2.Error as exc:
            if not again or self.abandoned:
                raise InfrastructureError(
                    f"could not create a temporary database: {database.first_line(exc)}"
                ) from exc
        self.admin.close()
        try:
            self.admin = self._connect()
        except DriftCheckError as exc:
            cause = blame(exc)
            if cause is None:
                raise
            raise MigrationError(cause) from exc
        if self.abandoned:  # cleanup began while we reconnected
            self.admin.close()
            raise InfrastructureError("could not create a temporary database: interrupted")
        return self.create(names, blame, again=False, template=template, strategy=strategy)

    def created_since(self, before: set[str]) -> list[str]:
        """Databases that appeared during the run (the migrations': reported, never dropped).
        If the held connection broke meanwhile, cleanup finds out why."""
        try:
            if self.admin is None:
                return []
            return sorted(database.database_names(self.admin) - before - set(self.names))
        except psycopg2.Error:
            return []

    def drop(self, blame: Blame) -> None:
        """On the held connection (it still works if a migration changed the role's
        password); on a fresh one if that connection broke. Every DROP DATABASE waits for a
        checkpoint and concurrent ones share it, so the others are dropped meanwhile on
        connections of their own (one that fails is dropped on the held one after)."""
        admin = self.admin
        try:
            if admin is None or admin.closed:
                raise psycopg2.InterfaceError("the held connection is gone")
            names = self.dropping
            beside = [(name, Background(partial(self._drop_beside, name))) for name in names[1:]]
            for name in names[:1]:
                database.drop_database(admin, name)
            for name, dropping in beside:
                try:
                    dropping.result()
                except (psycopg2.Error, DriftCheckError):
                    database.drop_database(admin, name)
        except psycopg2.Error:
            self.emergency_drop(blame, stopping=False)

    def _drop_beside(self, name: str) -> None:
        with database.admin_connection(
            self.address,
            timeout=min(EMERGENCY_CONNECT_TIMEOUT, self.settings.connect_timeout),
            application_name=self.application_name,
        ) as conn:
            database.drop_database(conn, name)

    def emergency_drop(self, blame: Blame, *, stopping: bool) -> None:
        """A fresh connection: end our other sessions (a CREATE or DROP in flight), then drop.
        If a migration dropped the maintenance database, the drop goes through template1 and
        the run fails as a migration failure (exit 4) naming the likely revision."""
        self.abandon()  # before our sessions are ended: no CREATE is started or retried
        if not self.dropping:
            return
        wait = (
            EMERGENCY_CONNECT_TIMEOUT
            if stopping
            else min(CLEANUP_WAIT, self.settings.connect_timeout)
        )
        names = ", ".join(self.dropping)
        try:
            self._drop_through(self.address, wait)
        except DriftCheckError as exc:
            cause = blame(exc)
            if cause is None:
                raise InfrastructureError(
                    f"could not drop temporary database {names} ({exc}); "
                    "it is marked as ours: `drift-check sweep` will remove it"
                ) from exc
            try:
                self._drop_through(replace(self.address, maintenance_db="template1"), wait)
            except DriftCheckError:
                cause += f"; temporary database {names} is left for `drift-check sweep`"
            raise MigrationError(cause) from exc

    def _drop_through(self, address: ServerAddress, wait: float) -> None:
        with database.admin_connection(
            address, timeout=wait, application_name="drift-check cleanup"
        ) as conn:
            try:
                database.terminate_run_sessions(conn, self.application_name)
                for name in self.dropping:
                    database.drop_database(conn, name)
            except psycopg2.Error as exc:  # said as the cleanup's failure, never as a crash
                raise InfrastructureError(database.first_line(exc)) from exc

    def close(self) -> None:
        if self.admin is not None and not self.admin.closed:
            self.admin.close()

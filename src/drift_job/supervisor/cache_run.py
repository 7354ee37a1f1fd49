"""One run's use of the migration cache: find where the current chain was migrated before,
create the temporary database from it (a template clone, or a dump restored), tell the
worker where the upgrade starts, and afterwards store the newly migrated database.

The cache only ever saves replaying revisions: the temporary database is still this run's
own (created, marked and dropped like any other), the project's code connects only to it,
and every revision after the cached one is applied by Alembic as in a run without a cache.
A cache that cannot be used or stored is said so and the run goes on without it.

On a server, the models' database (the catalog pass) is kept as a template too, keyed by the
DDL the models send (the worker renders it, listeners included, see worker.models_key): a
run whose models send the same DDL clones it instead of building it again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg2

from drift_job import database
from drift_job.cache_key import (
    Chain,
    Position,
    build_chain,
    models_key,
    models_template_name,
    template_name,
)
from drift_job.database import ServerAddress, first_line
from drift_job.errors import ConfigError, DriftCheckError
from drift_job.settings import Settings
from drift_job.supervisor import cache_server
from drift_job.supervisor.cache_dump import DumpCache, find_tools
from drift_job.supervisor.cache_server import Template
from drift_job.supervisor.temporary import Blame, TemporaryDatabase


class MigrationCache:
    """The cache for one run (does nothing unless DRIFT_CACHE or DRIFT_CACHE_DIR is set)."""

    def __init__(
        self,
        settings: Settings,
        temporary: TemporaryDatabase,
        address: ServerAddress,
        log: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.temporary = temporary
        self.address = address
        self.log = log
        #: Templates outlive the run only on a server that outlives it.
        self.on_server = settings.cache and not settings.embedded
        self.chain: Chain | None = None
        self.dumps: DumpCache | None = None
        self.start: Position | None = None
        self.template: Template | None = None
        self.restored: str | None = None
        self.stored: list[str] = []
        self.role = ""
        #: The models' template this run cloned, and the one it stored.
        self.models_from: str | None = None
        self.models_stored: str | None = None

    @property
    def enabled(self) -> bool:
        """Asked for, and not beside the round trip, which must replay every revision."""
        asked = self.settings.cache or self.settings.cache_dir is not None
        return asked and not self.settings.roundtrip

    def plan(self, described: dict[str, Any] | None) -> str:
        """Work out the keys and find the newest cached database on the chain."""
        conn = self.temporary.admin
        if conn is None or described is None:
            raise RuntimeError("drift-check: the cache was planned out of order")
        if self.settings.cache and self.settings.embedded:
            self.log("cache: DRIFT_CACHE keeps templates on a configured server only")
        with conn.cursor() as cur:
            cur.execute("SELECT current_user")
            row = cur.fetchone()
        self.role = role = str(row[0]) if row else ""
        self.chain = build_chain(self.settings, described, conn.server_version, role)
        if self.settings.cache_dir is not None:
            tools = find_tools(conn.server_version // 10000)
            self.dumps = DumpCache(
                self.settings.cache_dir, tools, self.settings.cache_keep, self.settings.timeout
            )
        if self.on_server:
            try:
                found = cache_server.find(conn, self.settings.prefix, self.chain)
            except psycopg2.Error as exc:
                self.log(f"cache: could not look for templates ({first_line(exc)})")
                found = None
            if found is not None:
                self.start, self.template = found
                return f"template {self.template.name} holds revision {self.start.revision}"
        if self.dumps is not None:
            dumped = self.dumps.find(self.chain)
            if dumped is not None:
                self.start, path = dumped
                self.restored = str(path)
                return f"dump {path.name} holds revision {self.start.revision}"
        return "nothing cached for this chain yet"

    def create(self, name: str, blame: Blame) -> set[str]:
        """The temporary database: cloned from the template, or created and restored from a
        dump, or (no cache, or it could not be used) created empty."""
        temporary = self.temporary
        if self.template is not None:
            template, self.template = self.template, None
            try:
                before = self._clone(name, template, blame)
                self.template = template
                return before
            except (psycopg2.Error, DriftCheckError) as exc:
                if isinstance(exc, ConfigError):
                    raise
                self.log(f"cache: could not clone {template.name} ({first_line(exc)})")
                self.start = None
                temporary.drop(blame)  # whatever the clone left; created anew below
        before = temporary.create([name], blame)
        if self.restored is not None and self.dumps is not None:
            problem = self.dumps.restore(Path(self.restored), self.address, name)
            if problem is not None:  # dropped, so this run stores one that loads
                self.log(f"cache: could not restore {self.restored} ({problem}); migrating anew")
                Path(self.restored).unlink(missing_ok=True)
                self.start, self.restored = None, None
        return before

    def _clone(self, name: str, template: Template, blame: Blame) -> set[str]:
        """CREATE ``name`` as a copy of ``template`` (locked shared by the find), then let go
        of the lock and record the use; returns every database on the server then."""
        temporary = self.temporary
        strategy = cache_server.clone_strategy(_admin(temporary))
        before = temporary.create([name], blame, template=template.name, strategy=strategy)
        cache_server.unlock(_admin(temporary), template.name, shared=True)
        cache_server.touch(_admin(temporary), template)
        return before

    @property
    def keeps_models(self) -> bool:
        """Whether the models' database is asked for by its DDL, to be cloned or kept."""
        return self.enabled and self.on_server

    def create_models(self, name: str, ddl_digest: str | None, blame: Blame) -> bool:
        """The models' database: a clone of the template its DDL was built into before
        (True), else created empty for the worker to build (False)."""
        temporary = self.temporary
        conn = _admin(temporary)
        template = None
        if ddl_digest is not None:
            key = models_key(ddl_digest, conn.server_version, self.role)
            try:
                template = cache_server.find_models(conn, self.settings.prefix, key)
            except psycopg2.Error as exc:
                self.log(f"cache: could not look for the models' template ({first_line(exc)})")
        if template is not None:
            try:
                self._clone(name, template, blame)
                self.models_from = template.name
                return True
            except (psycopg2.Error, DriftCheckError) as exc:
                if isinstance(exc, ConfigError):
                    raise
                self.log(f"cache: could not clone {template.name} ({first_line(exc)})")
                with contextlib.suppress(psycopg2.Error):  # whatever the clone left
                    cache_server.unlock(_admin(temporary), template.name, shared=True)
                    database.drop_database(_admin(temporary), name)
        temporary.create([name], blame)
        return False

    def store_models(self, name: str, ddl_digest: str) -> str:
        """Keep the models' database just built (the worker has closed its connection)."""
        if self.chain is None:
            return ""
        key = models_key(ddl_digest, _admin(self.temporary).server_version, self.role)
        target = models_template_name(self.settings.prefix, key)
        marker = cache_server.template_marker(key, self.chain.project, "", cache_server.MODELS)
        note = self._keep_as_template(name, target, marker, self.chain.project, cache_server.MODELS)
        if note.startswith("stored"):
            self.models_stored = target
        return note

    def go(self) -> dict[str, Any]:
        """What the worker is told: where the upgrade starts, and whether to pause after it."""
        return {"start": self.start.revision if self.start else None, "snapshot": self.snapshot}

    @property
    def snapshot(self) -> bool:
        return self._template_wanted() or self._dump_wanted()

    def _template_wanted(self) -> bool:
        head = self.chain.head if self.chain else None
        return self.on_server and head is not None and head.startable and self.start != head

    def _dump_wanted(self) -> bool:
        head = self.chain.head if self.chain else None
        if self.dumps is None or self.chain is None or head is None or not head.startable:
            return False
        found = self.dumps.find(self.chain)
        return found is None or found[0] != head

    def store(self, name: str, models_changed: bool) -> str:
        """Keep the freshly migrated database (the worker has closed its connection)."""
        if models_changed:  # a run starting from the copy would compare other models
            return (
                "not stored: running the migrations changed env.py's models (a revision "
                "imports or defines models when it runs), which a run from a copy would skip"
            )
        lost = cache_server.database_level_changes(_admin(self.temporary), name)
        if lost is not None:  # a copy would not be what the migrations built
            return f"not stored: {lost}, which a copy would not keep"
        notes = []
        if self._template_wanted():
            notes.append(self._store_template(name))
        if self._dump_wanted() and self.dumps is not None and self.chain is not None:
            try:
                path = self.dumps.store(self.chain, self.address, name)
                self.stored.append(str(path))
                notes.append(f"stored {path.name}")
            except (DriftCheckError, OSError) as exc:
                notes.append(f"could not store a dump ({first_line(exc)})")
        return "; ".join(notes)

    def _store_template(self, name: str) -> str:
        chain = self.chain
        if chain is None or chain.head is None:
            return ""
        head = chain.head
        target = template_name(self.settings.prefix, head.key)
        marker = cache_server.template_marker(head.key, chain.project, head.revision)
        note = self._keep_as_template(name, target, marker, chain.project, cache_server.MIGRATIONS)
        if note.startswith("stored"):
            self.stored.append(target)
        return note

    def _keep_as_template(
        self, name: str, target: str, marker: str, project: str, kind: str
    ) -> str:
        """Copy ``name`` into the sealed template ``target`` (unless another run has), then
        keep the ``project``'s DRIFT_CACHE_KEEP most recent templates of ``kind``."""
        temporary, prefix = self.temporary, self.settings.prefix
        conn = _admin(temporary)
        if not cache_server.lock(conn, target, shared=False, wait=True):
            return f"not stored: {target} is being built by another run"
        try:
            exists = any(t.name == target for t in cache_server.templates(conn, prefix, kind))
            if exists or target in _names(conn):
                return f"not stored: {target} exists"
            temporary.names.append(target)  # announced: dropped unless sealed
            try:
                strategy = cache_server.clone_strategy(conn)
                cache_server.copy_database(conn, target, name, strategy)
                cache_server.seal(conn, target, marker)
            except psycopg2.Error as exc:  # gone again while the lock is ours
                with contextlib.suppress(psycopg2.Error):
                    database.drop_database(conn, target)
                    temporary.names.remove(target)
                return f"not stored ({first_line(exc)})"
            temporary.keep(target)
        finally:
            cache_server.unlock(conn, target, shared=False)
        keep = self.settings.cache_keep
        dropped = cache_server.prune(conn, prefix, project, keep, self.log, kind=kind)
        pruned = f"; dropped {', '.join(dropped)} (DRIFT_CACHE_KEEP)" if dropped else ""
        return f"stored {target}{pruned}"

    def summary(self, applied: list[str]) -> dict[str, Any] | None:
        """The report's ``cache`` field."""
        if not self.enabled:
            return None
        source = None
        if self.template is not None:
            source = self.template.name
        elif self.restored is not None:
            source = self.restored
        return {
            "hit": self.start is not None,
            "from": source,
            "revision": self.start.revision if self.start else None,
            "applied": list(applied),
            "stored": list(self.stored),
            "models": {"from": self.models_from, "stored": self.models_stored}
            if self.keeps_models
            else None,
        }


def _admin(temporary: TemporaryDatabase) -> Any:
    if temporary.admin is None:
        raise RuntimeError("drift-check: the cache needs the held connection")
    return temporary.admin


def _names(conn: Any) -> set[str]:
    with conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database")
        return {str(row[0]) for row in cur.fetchall()}

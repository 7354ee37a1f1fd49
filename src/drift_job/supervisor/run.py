"""One check, supervised: the worker imports the project and runs env.py; this side owns the
server, the temporary database, signals, the deadline, cleanup and the verdict.

A verdict exists only when the worker completes the protocol (``result``); a worker that
ends any other way fails the check (exit 4 while migrations ran, else 2). Blocking calls to
the server run off the supervising thread, so SIGTERM, SIGINT and the deadline are acted on
at once: the worker is killed, its sessions ended, and the temporary database dropped.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

from psycopg2.extensions import connection as PgConnection

from drift_job import database
from drift_job.acceptance import enforce_strict_ignores
from drift_job.database import ServerAddress
from drift_job.errors import DriftCheckError
from drift_job.report import CheckResult
from drift_job.roundtrip import job_options
from drift_job.settings import Settings
from drift_job.supervisor.cache_run import MigrationCache
from drift_job.supervisor.control import POLL, Background, Control
from drift_job.supervisor.outcome import blame, worker_died, worker_error
from drift_job.supervisor.servers import server_for
from drift_job.supervisor.temporary import TemporaryDatabase
from drift_job.supervisor.verdict import read_verdict
from drift_job.supervisor.worker import (
    GARBAGE,
    ProjectOutput,
    WorkerGone,
    WorkerProcess,
    job_message,
)
from drift_job.worker import protocol

T = TypeVar("T")
#: Receives (stage, seconds, note) as each stage finishes.
Progress = Callable[[str, float, str], None]


#: Messages that may come before the worker has read the job (and its token). Neither can
#: make a verdict: an error only fails the run.
UNSIGNED = (protocol.HELLO, protocol.ERROR, GARBAGE)


def _present(value: T | None) -> T:
    """A part of the run that the current stage needs (a bug if it is missing)."""
    if value is None:
        raise RuntimeError("drift-check: a run stage started out of order")
    return value


class Supervisor:
    """Runs one check; :meth:`run` always returns a result and always cleans up."""

    def __init__(
        self,
        settings: Settings,
        progress: Progress,
        log: Callable[[str], None],
        keep_database: bool,
        output: ProjectOutput,
    ) -> None:
        self.settings = settings
        self.progress = progress
        self.log = log
        self.keep_database = keep_database
        self.output = output
        self.control = Control(settings.timeout)
        self.run_id = uuid.uuid4().hex[:12]
        #: Every message after the job must carry it: a line the project's code writes into
        #: the events pipe by accident (it shares the worker's process) is no message of ours.
        self.token = secrets.token_hex(16)
        self.timings: dict[str, float] = {}
        self.stage = "settings"
        self.applied: list[str] = []
        self.revisions: dict[str, Any] = {}
        self.hello: dict[str, Any] | None = None  # the worker's interpreter, once it is up
        self.worker: WorkerProcess | None = None
        self.temporary: TemporaryDatabase | None = None
        self.address: ServerAddress | None = None
        self.pending: Background[Any] | None = None
        self.cleanup_error: DriftCheckError | None = None
        self.preparing: Background[PgConnection] | None = None
        self.cache: MigrationCache | None = None
        #: The models' database, created when the worker asks for it (with the cache).
        self.models_wanted: str | None = None
        #: The stage the run was in when cleanup began (where an error happened).
        self.stage_before_cleanup: str | None = None

    @contextmanager
    def timed(self, name: str) -> Iterator[list[str]]:
        self.stage = name
        note: list[str] = []
        started = time.monotonic()
        yield note
        self._finished(name, time.monotonic() - started, " ".join(note))

    def _finished(self, name: str, seconds: float, note: str) -> None:
        self.timings[name] = self.timings.get(name, 0.0) + seconds
        self.progress(name, seconds, note)

    def _wait(self, task: Background[T]) -> T:
        """Wait for a blocking call while watching signals, the deadline and the worker."""
        self.pending = task
        while not task.done:
            self.control.raise_if_stopping(self.stage)
            if self.worker is not None:
                self.worker.poll(POLL)
            else:
                time.sleep(POLL)
        self.pending = None
        return task.result()

    def _await(self, kind: str) -> dict[str, Any]:
        """Handle the worker's events until one of ``kind`` arrives."""
        worker = _present(self.worker)
        while True:
            self.control.raise_if_stopping(self.stage)
            try:
                message = worker.receive(POLL)
            except WorkerGone:
                raise worker_died(self, worker.how_it_ended()) from None
            if message is None:
                continue
            if message["type"] not in UNSIGNED and message.get("token") != self.token:
                message = {
                    "type": GARBAGE,
                    "detail": f"a {message['type']} without this run's token",
                }
            if message["type"] == kind and self._in_order(kind):
                return message
            self._event(message)

    def _in_order(self, kind: str) -> bool:
        """A result counts only once the comparison has finished."""
        return kind != protocol.RESULT or "compare" in self.timings

    def _event(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == protocol.HELLO:
            self.hello = message
        elif kind == protocol.STAGE and message.get("event") == "start":
            self.stage = str(message["name"])
        elif kind == protocol.STAGE:
            self._finished(str(message["name"]), float(message["seconds"]), str(message["note"]))
        elif kind == protocol.APPLIED:
            self.applied.append(str(message["revision"]))
        elif kind == protocol.MODELS_WANTED:
            self._create_models(message.get("ddl"))
        elif kind == protocol.MODELS_BUILT:
            self._store_models(str(message["ddl"]))
        elif kind == protocol.ERROR:
            raise worker_error(self, message)
        elif kind == GARBAGE:
            raise worker_died(self, f"wrote something that is not a message ({message['detail']})")
        elif kind == protocol.RESULT:  # a result where none was expected: still no verdict
            raise worker_died(self, "sent its result out of order")

    def run(self, result: CheckResult) -> None:
        """Fill ``result``: the verdict, or the error that stopped the run. Never raises for
        the failures it knows."""
        error: DriftCheckError | None = None
        try:
            self._run(result)
        except DriftCheckError as exc:
            error = exc
        failed_stage = (self.stage_before_cleanup or self.stage) if error else "cleanup"
        if self.cleanup_error is not None:
            if error is None:
                error = self.cleanup_error  # a verdict whose database stayed behind: exit 3
            else:
                error = type(error)(f"{error}; {self.cleanup_error}")
        result.temporary_database = self.temporary.name if self.temporary else None
        result.timings = self.timings
        result.env_py = self.revisions.get("env_py")
        if error is not None:
            result.failed_stage = failed_stage
            result.status, result.exit_code = "error", error.exit_code
            result.message, result.error = str(error), error
            return
        if self.keep_database and result.temporary_database:
            result.message += f"; kept temporary database {result.temporary_database}"
        enforce_strict_ignores(result, strict=self.settings.strict_ignores)

    def _run(self, result: CheckResult) -> None:
        settings = self.settings
        with ExitStack() as stack:
            stack.enter_context(self.control.signals())
            with self.timed("settings") as note:
                self.worker = WorkerProcess(
                    settings.python, settings.project_dir, self.output, settings.env_file_values
                )
                stack.callback(self.worker.kill)
                note.append(str(settings.alembic_config or settings.toml_file))
            address = self.address = stack.enter_context(server_for(settings, self))
            temporary = self.temporary = TemporaryDatabase(settings, address, self.run_id, self.log)
            stack.callback(self._cleanup)  # before the server stops
            result.server = address.label
            cache = self.cache = MigrationCache(settings, temporary, address, self.log)
            name = database.new_database_name(settings.prefix)
            # The catalog pass compares with a database built from the models themselves.
            models = (
                database.new_database_name(settings.prefix) if settings.compare == "both" else None
            )
            if models is not None and cache.keeps_models:  # created when the worker asks
                self.models_wanted, models = models, None
            job = job_message(settings, address, name, self.token, self.run_id)
            self.worker.send(
                protocol.JOB,
                **job,
                models_database=models or self.models_wanted,
                models_cache=self.models_wanted is not None,
                roundtrip=job_options(settings),
                cache=cache.enabled,
            )
            preparing = self.preparing = Background(temporary.prepare)
            # Nothing is created before the worker has read the project: bad input (a broken
            # alembic.ini, env.py or revision) never sends a CREATE DATABASE.
            self.revisions = self._await(protocol.REVISIONS)
            result.alembic_head = self.revisions["head"]
            self.stage = "database"
            temporary.admin = self._wait(preparing)
            before = self._create_databases(cache, name, models)
            self.worker.send(protocol.GO, **cache.go())
            if models is not None:  # the worker builds it while the migrations run
                self.worker.send(protocol.MODELS)
            self._store_in_cache(cache, name)
            outcome = self._await(protocol.RESULT)
            result.cache = cache.summary(self.applied)
            result.created_databases = temporary.created_since(before)
            read_verdict(result, outcome, self.settings, self.revisions.get("version_dirs", []))

    def _create_databases(self, cache: MigrationCache, name: str, models: str | None) -> set[str]:
        """The database the migrations run in, from the cache if it holds part of the chain
        (see cache_run); then the models' one, before the migrations (they may drop ours)."""
        temporary, label = _present(self.temporary), _present(self.address).label
        if cache.enabled:
            with self.timed("cache") as note:
                note.append(self._wait(Background(lambda: cache.plan(self.revisions["cache"]))))
        with self.timed("database") as note:
            before = self._wait(Background(lambda: cache.create(name, self._blame)))
            note.append(f"created {name} on {label}")
        if models is not None:
            self._wait(Background(lambda: temporary.create([models], self._blame)))
        return before

    def _create_models(self, ddl_digest: Any) -> None:
        """The worker asked for the models' database: cloned from the cache if its DDL was
        built before, else empty."""
        name, cache = self.models_wanted, _present(self.cache)
        if name is None or name in _present(self.temporary).names:
            raise worker_died(self, "asked for a models' database it was not given")
        digest = str(ddl_digest) if ddl_digest is not None else None
        cloned = self._wait(Background(lambda: cache.create_models(name, digest, self._blame)))
        _present(self.worker).send(protocol.MODELS, cloned=cloned)

    def _store_models(self, ddl_digest: str) -> None:
        """The worker built the models' database and let go of it: keep a copy."""
        name, cache = self.models_wanted, _present(self.cache)
        if name is None or name not in _present(self.temporary).names:
            raise worker_died(self, "offered a models' database it was not given")
        started = time.monotonic()  # beside the worker's stage, which goes on meanwhile
        note = self._wait(Background(lambda: cache.store_models(name, ddl_digest)))
        self._finished("cache", time.monotonic() - started, note)
        _present(self.worker).send(protocol.MODELS_KEPT)

    def _store_in_cache(self, cache: MigrationCache, name: str) -> None:
        """The worker waits after the upgrade while the migrated database is kept."""
        if not cache.snapshot:
            return
        migrated = self._await(protocol.MIGRATED)
        models_changed = bool(migrated.get("models_changed"))
        with self.timed("cache") as note:
            note.append(self._wait(Background(lambda: cache.store(name, models_changed))))
        _present(self.worker).send(protocol.RESUME)

    def _blame(self, error: DriftCheckError) -> str | None:
        """Why the server could not be reached, when a migration of this run caused it."""
        return blame(self, error)

    def _cleanup(self) -> None:
        """Whatever happened: the worker killed first, then the database dropped — off this
        thread, so a signal or the deadline during a blocked DROP still ends the run fast."""
        self.stage_before_cleanup = self.stage
        if self.worker is not None:
            self.worker.kill()
        temporary = self.temporary
        prepared = self.preparing.finished_value() if self.preparing else None
        if temporary is None:
            return
        if prepared is not None and prepared is not temporary.admin:  # ended before using it
            prepared.close()
        if temporary.name is None:
            temporary.close()
            return
        # A call to the server still blocked in its thread holds the connection.
        blocked = self.pending is not None and not self.pending.done
        if self.keep_database and not blocked:  # the migrated one stays, for debugging
            temporary.keep(temporary.name)
        self.stage = "cleanup"
        try:
            with self.timed("cleanup") as note:
                if blocked or self.control.stopping():
                    temporary.emergency_drop(self._blame, stopping=True)
                else:
                    try:
                        self._wait(Background(lambda: temporary.drop(self._blame)))
                    except DriftCheckError as stopped:  # a signal or the deadline meanwhile
                        temporary.emergency_drop(self._blame, stopping=True)
                        self.cleanup_error = stopped
                note.append(f"dropped {' and '.join(temporary.dropping)}")
        except DriftCheckError as exc:
            self.cleanup_error = exc
        finally:
            temporary.close()

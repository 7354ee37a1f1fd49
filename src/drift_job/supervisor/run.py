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
from dataclasses import replace
from typing import Any, TypeVar

import psycopg2
from psycopg2.extensions import connection as PgConnection

from drift_job import database, leftovers
from drift_job.comparison import Difference
from drift_job.database import ServerAddress
from drift_job.errors import DriftCheckError, InfrastructureError, MigrationError
from drift_job.report import CheckResult
from drift_job.settings import Settings
from drift_job.supervisor.control import POLL, Background, Control
from drift_job.supervisor.outcome import blame, worker_died, worker_error
from drift_job.supervisor.servers import server_for
from drift_job.supervisor.worker import GARBAGE, ProjectOutput, WorkerGone, WorkerProcess
from drift_job.worker import protocol

T = TypeVar("T")
#: Receives (stage, seconds, note) as each stage finishes.
Progress = Callable[[str, float, str], None]
EMERGENCY_CONNECT_TIMEOUT = 3.0
CLEANUP_WAIT = 30.0


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
        self.database: str | None = None  # announced before CREATE is sent
        self.applied: list[str] = []
        self.revisions: dict[str, Any] = {}
        self.hello: dict[str, Any] | None = None  # the worker's interpreter, once it is up
        self.worker: WorkerProcess | None = None
        self.admin: PgConnection | None = None
        self.address: ServerAddress | None = None
        self.pending: Background[Any] | None = None
        self.cleanup_error: DriftCheckError | None = None
        self.preparing: Background[PgConnection] | None = None

    @property
    def application_name(self) -> str:
        return leftovers.liveness_name(self.run_id)

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
        elif kind == protocol.ERROR:
            raise worker_error(self, message)
        elif kind == GARBAGE:
            raise worker_died(self, f"wrote something that is not a message ({message['detail']})")
        elif kind == protocol.RESULT:  # a result where none was expected: still no verdict
            raise worker_died(self, "sent its result out of order")

    def _job(self, address: ServerAddress, name: str) -> dict[str, Any]:
        settings = self.settings
        return {
            "token": self.token,
            "run_id": self.run_id,
            "database": name,
            "project_dir": str(settings.project_dir),
            "project": {
                "ini_path": str(settings.alembic_config) if settings.alembic_config else None,
                "toml_file": str(settings.toml_file) if settings.toml_file else None,
                "ini_section": settings.ini_section,
                "x_args": list(settings.x_args),
            },
            "server": {
                "host": address.host,
                "port": address.port,
                "user": address.user,
                "password": address.password,
                "sslmode": address.sslmode,
            },
            "driver": settings.driver,
            "url_env": settings.url_env,
            "set_env": [list(pair) for pair in settings.set_env],
            "memory_limit": settings.worker_memory,
        }

    def _prepare(self, address: ServerAddress) -> PgConnection:
        """The connection held for the whole run: it proves the run alive to ``sweep``."""
        settings = self.settings
        conn = database.maintenance_connection(
            address, timeout=settings.connect_timeout, application_name=self.application_name
        )
        leftovers.keep_session_alive(conn)  # its application_name proves the run alive
        superuser = database.check_can_create(conn)
        if superuser and not settings.embedded:
            self.log(
                f"warning: role {address.user} is a superuser; a role with only CREATEDB is "
                "enough and safer (CREATE ROLE drift_check LOGIN CREATEDB PASSWORD '…')"
            )
        leftovers.sweep(conn, settings.prefix, settings.orphan_ttl, dry_run=False, log=self.log)
        return conn

    def _create(self, name: str) -> set[str]:
        admin = _present(self.admin)
        self.database = name
        database.create_database(admin, name, self.run_id)
        return database.database_names(admin)

    def run(self, result: CheckResult) -> None:
        """Fill ``result``: the verdict, or the error that stopped the run. Never raises for
        the failures it knows."""
        error: DriftCheckError | None = None
        try:
            self._run(result)
        except DriftCheckError as exc:
            error = exc
        if self.cleanup_error is not None:
            if error is None:
                error = self.cleanup_error  # a verdict whose database stayed behind: exit 3
            else:
                error = type(error)(f"{error}; {self.cleanup_error}")
        result.temporary_database = self.database
        result.timings = self.timings
        if error is not None:
            result.status, result.exit_code = "error", error.exit_code
            result.message, result.error = str(error), error
            return
        if self.keep_database and self.database and self.address is not None:
            result.message += f"; kept temporary database {self.database}"

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
            stack.callback(self._cleanup)  # before the server stops
            result.server = address.label
            name = database.new_database_name(settings.prefix)
            self.worker.send(protocol.JOB, **self._job(address, name))
            preparing = self.preparing = Background(lambda: self._prepare(address))
            self.revisions = self._await(protocol.REVISIONS)
            result.alembic_head = self.revisions["head"]
            self.stage = "database"
            self.admin = self._wait(preparing)
            with self.timed("database") as note:
                before = self._wait(Background(lambda: self._create(name)))
                note.append(f"created {name} on {address.label}")
            self.worker.send(protocol.GO)
            outcome = self._await(protocol.RESULT)
            result.created_databases = self._created_by_migrations(before)
            result.differences = [Difference(**d) for d in outcome["differences"]]
            result.suggested_migration = str(outcome["suggested_migration"])
            count = len(result.differences)
            if count:
                result.status, result.exit_code = "drift", 1
                result.message = f"{count} difference(s) between models and migrations"
            else:
                result.status, result.exit_code = "clean", 0
                result.message = "no drift"

    def _created_by_migrations(self, before: set[str]) -> list[str]:
        """Databases that appeared during the run (not ours: reported, never dropped). If the
        held connection broke meanwhile, cleanup finds out why."""
        try:
            return sorted(database.database_names(_present(self.admin)) - before)
        except psycopg2.Error:
            return []

    def _cleanup(self) -> None:
        """Whatever happened: the worker killed first, then the database dropped — off this
        thread, so a signal or the deadline during a blocked DROP still ends the run fast."""
        if self.worker is not None:
            self.worker.kill()
        prepared = self.preparing.finished_value() if self.preparing else None
        if prepared is not None and prepared is not self.admin:  # the run ended before using it
            prepared.close()
        name = self.database
        if name is None or self.address is None:
            return
        if self.keep_database and self.pending is None:
            self._close_admin()
            return
        self.stage = "cleanup"
        try:
            with self.timed("cleanup") as note:
                if self.pending is not None or self.control.stopping():
                    self._emergency_drop(name)
                else:
                    try:
                        self._wait(Background(lambda: self._drop(name)))
                    except DriftCheckError as stopped:  # a signal or the deadline meanwhile
                        self._emergency_drop(name)
                        self.cleanup_error = stopped
                note.append(f"dropped {name}")
        except DriftCheckError as exc:
            self.cleanup_error = exc
        finally:
            self._close_admin()

    def _close_admin(self) -> None:
        if self.admin is not None and not self.admin.closed:
            self.admin.close()

    def _drop(self, name: str) -> None:
        """On the connection held for the run (it still works if a migration changed the
        role's password); a fresh one if that connection broke."""
        admin = self.admin
        if admin is None or admin.closed:
            self._emergency_drop(name)
            return
        try:
            database.drop_database(admin, name)
        except Exception:  # the held connection broke: a fresh one
            self._emergency_drop(name)

    def _emergency_drop(self, name: str) -> None:
        """A fresh connection: end our other sessions (a CREATE in flight), then drop. If a
        migration dropped the maintenance database, the drop goes through template1 and the
        run fails as a migration failure (exit 4) naming the likely revision."""
        address = _present(self.address)
        wait = min(CLEANUP_WAIT, self.settings.connect_timeout)
        if self.control.stopping():
            wait = EMERGENCY_CONNECT_TIMEOUT
        try:
            self._drop_through(address, name, wait)
        except DriftCheckError as exc:
            cause = blame(self, exc)
            if cause is None:
                raise InfrastructureError(
                    f"could not drop temporary database {name} ({exc}); "
                    "it is marked as ours: `drift-check sweep` will remove it"
                ) from exc
            try:
                self._drop_through(replace(address, maintenance_db="template1"), name, wait)
            except DriftCheckError:
                cause += f"; temporary database {name} is left for `drift-check sweep`"
            raise MigrationError(cause) from exc

    def _drop_through(self, address: ServerAddress, name: str, wait: float) -> None:
        with database.admin_connection(
            address, timeout=wait, application_name="drift-check cleanup"
        ) as conn:
            database.terminate_run_sessions(conn, self.application_name)
            database.drop_database(conn, name)

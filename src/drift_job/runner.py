"""The library API: ``run_check(settings) -> CheckResult``, and the ``sweep`` and connection checks.

The project's code (env.py, models, migrations) runs in a worker thread while the calling
thread supervises: on SIGTERM/SIGINT or when ``DRIFT_TIMEOUT`` expires it ends our sessions on
the server and drops the temporary database *while the worker may still be blocked in a long
statement* — the server cancels that statement — so the process can exit within seconds.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import FrameType

from drift_job import database, leftovers
from drift_job.comparison import Comparison, compare
from drift_job.database import ServerAddress
from drift_job.errors import (
    ConfigError,
    DriftCheckError,
    ExitCode,
    InfrastructureError,
    Interrupted,
)
from drift_job.migrations import (
    SafetyGuard,
    Target,
    choose_driver,
    environment_for,
    run_environment,
    upgrade_to_head,
)
from drift_job.project import AlembicProject, load_revisions, open_project
from drift_job.report import CheckResult
from drift_job.server import ThrowawayServer, find_binaries, reap_orphans
from drift_job.settings import Settings

#: Receives (stage, seconds, note) as each stage finishes.
Progress = Callable[[str, float, str], None]
EMERGENCY_CONNECT_TIMEOUT = 3.0
CLEANUP_WAIT = 30.0
WORKER_THREAD = "drift-check-worker"
SIGNAL_EXIT = {
    signal.SIGINT: ExitCode.INTERRUPTED_SIGINT,
    signal.SIGTERM: ExitCode.INTERRUPTED_SIGTERM,
}


def _quiet(stage: str, seconds: float, note: str) -> None:
    """The default progress sink: say nothing."""


@dataclass
class _RunState:
    """What the supervising thread must know to clean up behind the worker."""

    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    database: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    comparison: Comparison | None = None
    error: BaseException | None = None
    abandoned: bool = False
    signal_number: int | None = None

    @property
    def application_name(self) -> str:
        return f"drift-check {self.run_id}"


@contextmanager
def _signals_to(state: _RunState) -> Iterator[None]:
    """Record SIGTERM/SIGINT instead of dying, so cleanup always runs (also as PID 1)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def record(signum: int, frame: FrameType | None) -> None:
        state.signal_number = signum

    previous = {sig: signal.signal(sig, record) for sig in SIGNAL_EXIT}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_interrupted(state: _RunState) -> None:
    if state.signal_number is not None:
        sig = signal.Signals(state.signal_number)
        raise Interrupted(sig.name, SIGNAL_EXIT[sig])


class _Timer:
    def __init__(self, timings: dict[str, float], progress: Progress, state: _RunState) -> None:
        self._timings = timings
        self._progress = progress
        self._state = state

    @contextmanager
    def stage(self, name: str) -> Iterator[list[str]]:
        """Time a stage; the body may append a note that is shown with it."""
        note: list[str] = []
        started = time.monotonic()
        yield note
        seconds = time.monotonic() - started
        self._timings[name] = self._timings.get(name, 0.0) + seconds
        if not self._state.abandoned:
            self._progress(name, seconds, " ".join(note))


@contextmanager
def _inside(project_dir: Path) -> Iterator[None]:
    """Run in the project directory with it importable, as ``alembic`` run from there would."""
    previous_cwd = Path.cwd()
    entry = str(project_dir)
    os.chdir(project_dir)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        os.chdir(previous_cwd)
        if entry in sys.path:
            sys.path.remove(entry)


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
    )


@contextmanager
def server_for(settings: Settings, timer: _Timer) -> Iterator[ServerAddress]:
    """The configured server, or a throwaway one started (and deleted) for this run."""
    if not settings.embedded:
        yield configured_address(settings)
        return
    with timer.stage("server") as note:
        reap_orphans(note.append)  # throwaway servers of runs killed by SIGKILL or OOM
        binaries = find_binaries()
        server = ThrowawayServer(binaries).start()
        note.append(f"throwaway PostgreSQL from the {binaries.origin} ({binaries.bindir})")
    try:
        yield ServerAddress(server.host, server.port, server.superuser, None, None, "postgres")
    finally:
        server.stop()


def _drop(address: ServerAddress, name: str, wait: float) -> None:
    """Drop our database, waiting (bounded) for a server that is restarting."""
    try:
        with database.admin_connection(
            address, timeout=wait, application_name="drift-check cleanup"
        ) as conn:
            database.drop_database(conn, name)
    except DriftCheckError as exc:
        raise InfrastructureError(
            f"could not drop temporary database {name} ({exc}); "
            "it is marked as ours: `drift-check sweep` will remove it"
        ) from exc


@dataclass
class _Job:
    """One check on one server: the worker's steps and the supervisor's emergency exit."""

    settings: Settings
    project: AlembicProject
    target: Target
    state: _RunState
    timer: _Timer
    keep_database: bool
    log: Callable[[str], None]

    @property
    def address(self) -> ServerAddress:
        return self.target.address

    def work(self) -> None:
        """Create, migrate, compare, drop: everything that touches the server and the project."""
        liveness = ExitStack()  # liveness: a sweep leaves our database alone while it is open
        try:
            liveness.enter_context(
                leftovers.hold_liveness(
                    self.address, self.state.run_id, self.settings.connect_timeout
                )
            )
            try:
                self._create()
                self._migrate_and_compare()
            finally:
                # Also after a failure between CREATE and COMMENT: whatever was announced goes.
                name = self.state.database
                if name and not self.keep_database and not self.state.abandoned:
                    with self.timer.stage("cleanup") as note:
                        wait = min(CLEANUP_WAIT, self.settings.connect_timeout)
                        _drop(self.address, name, wait)
                        note.append(f"dropped {name}")
        except BaseException as error:  # handed to the supervising thread
            self.state.error = error
        finally:
            liveness.close()  # liveness: released after the drop
            self.state.done.set()

    def _create(self) -> None:
        settings, state = self.settings, self.state
        with self.timer.stage("database") as note:
            with database.admin_connection(
                self.address,
                timeout=settings.connect_timeout,
                application_name=state.application_name,
            ) as conn:
                database.check_can_create(conn)
                leftovers.sweep(
                    conn, settings.prefix, settings.orphan_ttl, dry_run=False, log=self.log
                )
                name = database.create_database(
                    conn,
                    self.target.database,
                    settings.prefix,
                    state.run_id,
                    announce=lambda n: setattr(state, "database", n),
                )
            if name != self.target.database:  # the first name was taken: point env.py anew
                self.target = replace(self.target, database=name)
                os.environ.update(environment_for(settings, self.target))
            note.append(f"created {name} on {self.address.label}")

    def _migrate_and_compare(self) -> None:
        target, project = self.target, self.project
        with SafetyGuard(target.database) as guard:
            with self.timer.stage("migrate") as note:
                upgrade_to_head(project, target, guard)
                head = project.head or "base (no migrations)"
                note.append(f"upgraded to {head} ({target.driver})")
            with self.timer.stage("compare") as note:
                self.state.comparison = compare(project, target, guard)
                note.append(f"{len(self.state.comparison.differences)} difference(s)")

    def supervise(self) -> Comparison:
        """Run :meth:`work` in a thread; on a signal or the deadline, clean up behind it."""
        state = self.state
        worker = threading.Thread(target=self.work, name=WORKER_THREAD, daemon=True)
        deadline = time.monotonic() + self.settings.timeout
        worker.start()
        while not state.done.wait(0.05):
            if state.signal_number is not None or time.monotonic() > deadline:
                break
        if state.done.is_set():
            if state.error is not None:
                raise state.error
            if state.comparison is None:
                raise InfrastructureError("the check ended without a result")
            return state.comparison
        try:
            self._emergency_cleanup()
        except DriftCheckError as exc:
            raise InfrastructureError(
                f"could not drop temporary database {state.database} ({exc}); "
                "`drift-check sweep` will remove it"
            ) from exc
        _check_interrupted(state)
        raise InfrastructureError(
            f"timed out after {self.settings.timeout:g} s (DRIFT_TIMEOUT); cleaned up"
        )

    def _emergency_cleanup(self) -> None:
        """End the worker's sessions and drop its database while the worker may still be busy."""
        state = self.state
        state.abandoned = True
        if state.database is None:
            return
        with database.admin_connection(
            self.address, timeout=EMERGENCY_CONNECT_TIMEOUT, application_name="drift-check cleanup"
        ) as conn:
            database.terminate_run_sessions(conn, state.application_name)
            database.drop_database(conn, state.database)


def run_check(
    settings: Settings,
    *,
    progress: Progress = _quiet,
    log: Callable[[str], None] = lambda message: None,
    keep_database: bool = False,
) -> CheckResult:
    """Run the whole check and return its result; never raises for the failures it knows.

    Signals are handled only when called from the main thread. The returned result's
    ``exit_code`` follows the documented contract.
    """
    state = _RunState()
    timings: dict[str, float] = {}
    timer = _Timer(timings, progress, state)
    result = CheckResult(status="error", exit_code=ExitCode.BAD_INPUT, message="", timings=timings)
    try:
        with ExitStack() as stack:
            stack.enter_context(_signals_to(state))
            stack.enter_context(_inside(settings.project_dir))
            with timer.stage("settings") as note:
                project = open_project(settings)
                note.append(f"{project.ini_path}")
            address = stack.enter_context(server_for(settings, timer))
            result.server = address.label
            _check_interrupted(state)
            driver = choose_driver(settings, project, os.environ)
            name = database.new_database_name(settings.prefix)
            target = Target(address, name, driver)
            # From here on the project's code may be imported: its environment must be ready.
            stack.enter_context(run_environment(settings, target))
            with timer.stage("revisions") as note:
                load_revisions(project)
                result.alembic_head = project.head
                note.append(f"head {project.head or '(no migrations)'}")
            _check_interrupted(state)
            job = _Job(settings, project, target, state, timer, keep_database, log)
            comparison = job.supervise()
    except DriftCheckError as error:
        result.temporary_database = state.database
        result.exit_code = error.exit_code
        result.message = str(error)
        result.error = error
        return result
    result.temporary_database = state.database
    result.differences = comparison.differences
    result.suggested_migration = comparison.suggested_migration
    if comparison.differences:
        count = len(comparison.differences)
        result.status, result.exit_code = "drift", ExitCode.DRIFT
        result.message = f"{count} difference(s) between models and migrations"
    else:
        result.status, result.exit_code = "clean", ExitCode.CLEAN
        result.message = "no drift"
    if keep_database:
        result.message += f"; kept temporary database {state.database}"
    return result


def check_connection(settings: Settings) -> str:
    """Connect to the maintenance database and confirm CREATEDB, creating nothing."""
    address = configured_address(settings)
    with database.admin_connection(
        address, timeout=settings.connect_timeout, application_name="drift-check config"
    ) as conn:
        database.check_can_create(conn)
        version = conn.server_version
    major, minor = divmod(version, 10000)
    return f"connected to {address.label} (PostgreSQL {major}.{minor}); role may create databases"


def run_sweep(
    settings: Settings, older_than: float, *, dry_run: bool, log: Callable[[str], None]
) -> leftovers.SweepOutcome:
    """Reap orphaned throwaway servers, then sweep the configured server (if there is one)."""
    servers = reap_orphans(log, dry_run=dry_run)
    if settings.embedded:
        return leftovers.SweepOutcome(servers=servers, databases_swept=False)
    address = configured_address(settings)
    with database.admin_connection(
        address, timeout=settings.connect_timeout, application_name="drift-check sweep"
    ) as conn:
        outcome = leftovers.sweep(
            conn, settings.prefix, older_than, dry_run=dry_run, log=log, report_foreign=True
        )
    outcome.servers = servers
    return outcome

"""The library API: ``run_check(settings) -> CheckResult``, and ``sweep`` and connection checks.

Like Alembic's ``command`` module, a thin facade: the run itself is supervised by
:mod:`drift_job.supervisor`, and the project's code runs in a worker process.
"""

from __future__ import annotations

from collections.abc import Callable

from drift_job import database, leftovers
from drift_job.errors import ExitCode
from drift_job.report import CheckResult
from drift_job.server import reap_orphans
from drift_job.settings import Settings
from drift_job.supervisor.cache_server import sweep_templates
from drift_job.supervisor.redaction import Redactor
from drift_job.supervisor.run import Progress, Supervisor
from drift_job.supervisor.servers import configured_address
from drift_job.supervisor.worker import ProjectOutput

__all__ = ["CheckResult", "check_connection", "run_check", "run_sweep"]


def _quiet(stage: str, seconds: float, note: str) -> None:
    """The default progress sink: say nothing."""


def run_check(
    settings: Settings,
    *,
    progress: Progress = _quiet,
    log: Callable[[str], None] = lambda message: None,
    keep_database: bool = False,
    project_output: Callable[[str], None] | None = None,
) -> CheckResult:
    """Run the whole check and return its result; never raises for the failures it knows.

    ``project_output`` receives each line the project's code prints, as it prints it (the
    last lines are kept in ``result.project_output`` either way). Signals are handled only
    when called from the main thread; ``exit_code`` follows the documented contract.
    """
    redact = Redactor(settings.secrets())
    output = ProjectOutput(
        (lambda line: project_output(redact(line))) if project_output is not None else None
    )
    result = CheckResult(status="error", exit_code=ExitCode.BAD_INPUT, message="")
    Supervisor(settings, progress, log, keep_database, output).run(result)
    result.message = redact(result.message)
    result.project_output = [redact(line) for line in output.lines]
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
    settings: Settings,
    older_than: float,
    *,
    dry_run: bool,
    log: Callable[[str], None],
    cache: bool = False,
) -> leftovers.SweepOutcome:
    """Reap orphaned throwaway servers, then sweep the configured server (if there is one);
    with ``cache``, the migration cache's templates too."""
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
        if cache:
            outcome.templates, _ = sweep_templates(conn, settings.prefix, dry_run=dry_run, log=log)
    outcome.servers = servers
    return outcome

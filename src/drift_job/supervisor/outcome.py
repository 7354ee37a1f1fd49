"""What a failed run means: the worker's classified errors and early deaths, mapped onto the
exit-code contract with a one-line message that says where the run was."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drift_job.errors import (
    ConfigError,
    DriftCheckError,
    InfrastructureError,
    MigrationError,
    SafetyGuardError,
)

if TYPE_CHECKING:
    from drift_job.supervisor.run import Supervisor

ERROR_CLASSES: dict[str, type[DriftCheckError]] = {
    "config": ConfigError,
    "login": ConfigError,
    "guard": SafetyGuardError,
    "migration": MigrationError,
    "infrastructure": InfrastructureError,
}
ROLE_CHANGES = re.compile(r"\b(ALTER|DROP)\s+(ROLE|USER)\b|\bPASSWORD\b", re.I)
DATABASE_DROPS = re.compile(r"\bDROP\s+DATABASE\b", re.I)


def _where(supervisor: Supervisor) -> str:
    stage = supervisor.stage
    if stage == "migrate" and supervisor.applied:
        return f"during migrate (after revision {supervisor.applied[-1]})"
    return f"during {stage}"


def worker_died(supervisor: Supervisor, how: str) -> DriftCheckError:
    """The worker ended without completing the protocol: never a verdict."""
    worker = supervisor.worker
    if supervisor.hello is None and worker is not None:  # no project code ran
        status = worker.process.returncode
        return ConfigError(
            f"the Python at {worker.python} did not start drift-check's worker (exit status "
            f"{status}); DRIFT_PYTHON must be a working Python interpreter"
        )
    error = MigrationError if supervisor.stage in ("migrate", "roundtrip") else ConfigError
    return error(
        f"the process running the project's code {how} {_where(supervisor)}, "
        "before it reported a result; no verdict"
    )


def _revision_files(supervisor: Supervisor, pattern: re.Pattern[str]) -> list[str]:
    """The applied revisions whose source matches ``pattern`` (to name a likely culprit)."""
    files: dict[str, str] = supervisor.revisions.get("files", {})
    dirs = [Path(d) for d in supervisor.revisions.get("version_dirs", [])]
    found = []
    for revision in supervisor.applied:
        name = files.get(revision)
        for directory in dirs:
            path = directory / name if name else None
            if path and path.is_file() and pattern.search(path.read_text(errors="replace")):
                found.append(name or revision)
    return found


def _culprits(supervisor: Supervisor, pattern: re.Pattern[str]) -> str:
    files = _revision_files(supervisor, pattern)
    return f" (see {', '.join(files)})" if files else ""


def worker_error(supervisor: Supervisor, message: dict[str, Any]) -> DriftCheckError:
    """The worker's classified failure; a login that stopped working after migrations ran
    was caused by them (exit 4), not by the settings."""
    category = str(message.get("category"))
    text = str(message.get("message"))
    if category == "login" and supervisor.applied:
        role = supervisor.address.user if supervisor.address else "the role"
        return MigrationError(
            f"after the migrations ran, {role} can no longer log in: a migration changed or "
            f"dropped the role{_culprits(supervisor, ROLE_CHANGES)}: {text}"
        )
    if category == "login":
        text += (
            "; if env.py reads the password from its own variable, pass it with "
            "DRIFT_SET_ENV='NAME={password}'"
        )
    error = ERROR_CLASSES.get(category, ConfigError)(text)
    error.worker_traceback = str(message.get("traceback") or "")  # type: ignore[attr-defined]
    return error


def blame(supervisor: Supervisor, error: DriftCheckError) -> str | None:
    """Why cleanup could not connect, when the migrations caused it: they dropped the
    maintenance database, or changed the role's password. None for any other reason."""
    text = str(error)
    address = supervisor.address
    maintenance = address.maintenance_db if address else "postgres"
    if not supervisor.applied:
        return None
    if f'database "{maintenance}" does not exist' in text:
        culprit = _culprits(supervisor, DATABASE_DROPS)
        return f"a migration dropped the maintenance database {maintenance}{culprit}"
    if "password authentication failed" in text:
        role = address.user if address else "the role"
        return f"a migration changed the password of {role}{_culprits(supervisor, ROLE_CHANGES)}"
    return None

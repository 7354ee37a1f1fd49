"""Whatever the project's code raised, mapped onto a category the supervisor turns into an
exit code: a configuration problem (2), a migration that failed (4), or the server going
away (3). Each comes with a one-line message that names the file or setting at fault.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import exc

from .lock_table import is_lock_table_full, lock_table_message
from .patterns import LOGIN_FAILURE

DISCONNECT_HINTS = (
    "server closed the connection",
    "terminating connection",
    "connection refused",
    "could not connect",
    "connection is closed",
    "connection was closed",
    "connection already closed",
    "ssl syscall error",
    "consuming input failed",
    "the database system is shutting down",
    "the database system is starting up",
    "connection not open",
)


class Failure(Exception):
    """A classified failure: ``category`` is one of protocol.CATEGORIES."""

    def __init__(self, category: str, message: str) -> None:
        super().__init__(message)
        self.category = category
        self.message = message


def exception_chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and the exceptions it was raised from or during, innermost last."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def origin_in(exc: BaseException, directories: list[Path]) -> Path | None:
    """The innermost traceback frame's file that lies in one of ``directories``."""
    resolved = [d.resolve() for d in directories]

    def inside(path: Path) -> bool:
        if not path.is_absolute():
            return False
        real = path.resolve()
        return any(real == d or d in real.parents for d in resolved)

    origin = None
    tb = exc.__traceback__
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename)
        if inside(path):
            origin = path
        tb = tb.tb_next
    if origin is None and isinstance(exc, SyntaxError) and exc.filename:
        origin = Path(exc.filename) if inside(Path(exc.filename)) else None
    return origin


def one_line(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"SystemExit: sys.exit({error.code!r}) was called"
    text = str(error).strip().splitlines()
    return f"{error.__class__.__name__}: {text[0]}" if text else error.__class__.__name__


def is_disconnect(error: BaseException) -> bool:
    """Whether the server went away (transient: exit 3)."""
    for item in exception_chain(error):
        if getattr(item, "connection_invalidated", False):
            return True
        if any(hint in str(item).lower() for hint in DISCONNECT_HINTS):
            return True
        if item.__class__.__name__ in {"ConnectionDoesNotExistError", "CannotConnectNowError"}:
            return True
    return False


def settings_validation(error: BaseException) -> str | None:
    """A pydantic settings object that failed to load: which fields, and why."""
    for item in exception_chain(error):
        if item.__class__.__name__ != "ValidationError":
            continue
        if not item.__class__.__module__.startswith("pydantic"):
            continue
        errors: Any = getattr(item, "errors", None)
        try:
            details = errors() if callable(errors) else []
        except Exception:  # an old pydantic with another shape: use its text
            details = []
        fields = [
            f"{'.'.join(str(p) for p in d.get('loc', ()))}: {d.get('msg', '')}"
            for d in details
            if isinstance(d, Mapping)
        ]
        title = getattr(item, "title", None) or "settings"
        listed = "; ".join(fields[:5]) or one_line(item)
        return (
            f"the application's settings ({title}) failed to load: {listed}; set the "
            "missing values in the environment or the env file, or for the project's code "
            "only with DRIFT_SET_ENV"
        )
    return None


def missing_module(error: BaseException) -> str | None:
    """A package the project needs that this interpreter does not have."""
    for item in exception_chain(error):
        if isinstance(item, ModuleNotFoundError):
            return (
                f"{one_line(item)}; the Python running the project's code ({sys.executable}) "
                "lacks a package the project needs: install the project's dependencies there, "
                "or point DRIFT_PYTHON (--python) at the project's virtualenv (for the "
                "project's own package: DRIFT_PROJECT_DIR or prepend_sys_path)"
            )
    return None


def classify(
    error: BaseException,
    *,
    stage: str,
    env_py: Path,
    version_dirs: list[Path],
    guard_message: str | None,
) -> Failure:
    """Map an exception from env.py, the models or a migration onto a category."""
    if guard_message is not None:
        return Failure("guard", guard_message)
    for item in exception_chain(error):
        if isinstance(item, Failure):
            return item
    settings_problem = settings_validation(error) or missing_module(error)
    if settings_problem is not None:
        return Failure("config", settings_problem)
    if any(LOGIN_FAILURE.search(str(item)) for item in exception_chain(error)):
        return Failure(
            "login", f"env.py could not log in to the temporary database: {one_line(error)}"
        )
    if stage == "migrate" and is_lock_table_full(exception_chain(error)):
        return Failure("migration", lock_table_message(stage))
    if is_disconnect(error):
        return Failure(
            "infrastructure", f"the database server went away during {stage}: {one_line(error)}"
        )
    origin = next(
        (o for o in (origin_in(e, version_dirs) for e in exception_chain(error)) if o), None
    )
    if origin is not None:
        return Failure("migration", f"migration {origin.name} failed: {one_line(error)}")
    if stage in ("migrate", "roundtrip") and any(
        isinstance(item, exc.DBAPIError) for item in exception_chain(error)
    ):
        return Failure("migration", f"migrations failed: {one_line(error)}")
    if isinstance(error, MemoryError):
        category = "migration" if stage == "migrate" else "config"
        return Failure(
            category,
            f"the project's code ran out of memory during {stage} (DRIFT_WORKER_MEMORY limits it)",
        )
    return Failure("config", f"env.py ({env_py}) failed during {stage}: {one_line(error)}")

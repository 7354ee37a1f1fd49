"""drift-check: fail the build when SQLAlchemy/SQLModel models and Alembic migrations disagree.

The library API is :func:`drift_job.runner.run_check`; the ``drift-check`` command is a thin
layer over it (:mod:`drift_job.cli`).
"""

from functools import cache

__all__ = ["__version__"]


@cache
def _installed_version() -> str:
    # importlib.metadata scans every installed distribution (tens of milliseconds), so the
    # version is looked up only when something asks for it, never by --help.
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("alembic-drift-check")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"


def __getattr__(name: str) -> str:
    if name == "__version__":
        return _installed_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""drift-check: fail the build when SQLAlchemy/SQLModel models and Alembic migrations disagree.

The library API is :func:`drift_job.runner.run_check`; the ``drift-check`` command is a thin
layer over it (:mod:`drift_job.cli`).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("alembic-drift-check")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

"""Exit codes and the exceptions that carry them.

Every failure the tool knows about is a :class:`DriftCheckError` whose class fixes the exit
code, so the CLI maps exceptions to the documented contract in one place.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The exit-code contract, documented in README and ``--help``."""

    CLEAN = 0
    DRIFT = 1
    BAD_INPUT = 2
    INFRASTRUCTURE = 3
    MIGRATIONS_FAILED = 4
    INTERRUPTED_SIGINT = 130
    INTERRUPTED_SIGTERM = 143


class DriftCheckError(Exception):
    """A failure with a one-line message meant for the user."""

    exit_code: ExitCode = ExitCode.BAD_INPUT


class ConfigError(DriftCheckError):
    """Bad settings, files or project layout (exit 2)."""

    exit_code = ExitCode.BAD_INPUT


class SafetyGuardError(ConfigError):
    """The project's env.py tried to reach a database other than the temporary one (exit 2)."""


class InfrastructureError(DriftCheckError):
    """The server is unreachable, went away or timed out (exit 3)."""

    exit_code = ExitCode.INFRASTRUCTURE


class MigrationError(DriftCheckError):
    """A migration failed to load or apply (exit 4)."""

    exit_code = ExitCode.MIGRATIONS_FAILED


class Interrupted(DriftCheckError):
    """SIGINT or SIGTERM arrived; the run was cancelled after cleanup."""

    def __init__(self, signal_name: str, exit_code: ExitCode) -> None:
        super().__init__(f"interrupted by {signal_name}; the temporary database was dropped")
        self.exit_code = exit_code

"""What may stop a run early: SIGTERM/SIGINT and the deadline; and blocking work kept off
the supervising thread, so a signal is acted on within a fraction of a second."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Generic, TypeVar

from drift_job.errors import ExitCode, InfrastructureError, Interrupted

T = TypeVar("T")
SIGNAL_EXIT = {
    signal.SIGINT: ExitCode.INTERRUPTED_SIGINT,
    signal.SIGTERM: ExitCode.INTERRUPTED_SIGTERM,
}
POLL = 0.05
BACKGROUND_THREAD = "drift-check-admin"


class Control:
    """Signals recorded instead of dying (so cleanup always runs, also as PID 1), and the
    run's deadline."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.signal_number: int | None = None

    @contextmanager
    def signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def record(signum: int, frame: FrameType | None) -> None:
            self.signal_number = signum

        previous = {sig: signal.signal(sig, record) for sig in SIGNAL_EXIT}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stopping(self) -> bool:
        return self.signal_number is not None or time.monotonic() > self.deadline

    def raise_if_stopping(self, stage: str) -> None:
        if self.signal_number is not None:
            sig = signal.Signals(self.signal_number)
            raise Interrupted(sig.name, SIGNAL_EXIT[sig])
        if time.monotonic() > self.deadline:
            raise InfrastructureError(
                f"timed out after {self.timeout:g} s (DRIFT_TIMEOUT) during {stage}"
            )

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


class Background(Generic[T]):
    """One blocking call (a connection, CREATE DATABASE) in a daemon thread."""

    def __init__(self, call: Callable[[], T]) -> None:
        self._call = call
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=BACKGROUND_THREAD, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._call()
        except BaseException as error:  # handed to the supervising thread
            self._error = error

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def finished_value(self) -> T | None:
        """The value, if the call has already returned one (for cleanup: never waits)."""
        return self._value if self.done and self._error is None else None

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

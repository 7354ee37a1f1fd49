"""Start the worker process and talk to it; judge how it ended when it ends early.

The worker runs ``python -c BOOTSTRAP`` with the worker package's directory, so it can run
under another interpreter (the project's virtualenv) that has none of our dependencies. Its
stdout and stderr are the project's output: kept, shown on failure or with ``--verbose``,
and never mixed into the report on our stdout.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from drift_job.database import ServerAddress
from drift_job.settings import Settings
from drift_job.worker import protocol

WORKER_DIR = Path(__file__).resolve().parent.parent / "worker"
BOOTSTRAP = """\
import importlib.util, sys
path = sys.argv[1]
spec = importlib.util.spec_from_file_location(
    "drift_check_worker", path + "/__init__.py", submodule_search_locations=[path])
package = importlib.util.module_from_spec(spec)
sys.modules["drift_check_worker"] = package
spec.loader.exec_module(package)
from drift_check_worker.main import main
main(sys.argv[2:])
"""
#: Never handed to the project's code unless it needs them (see worker.environment).
WITHHELD_VARIABLES = ("POSTGRES_PASSWORD", "PGPASSWORD")
OUTPUT_LINES_KEPT = 200
GARBAGE = "not-a-message"  # queued in place of a line that is not a protocol message
EXIT_WAIT = 5.0


def job_message(
    settings: Settings, address: ServerAddress, database: str, token: str, run_id: str
) -> dict[str, Any]:
    """What the worker needs to check the project (sent over the command pipe, never in the
    arguments: it holds the password)."""
    return {
        "token": token,
        "run_id": run_id,
        "database": database,
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
        "review": {
            "base_revision": settings.base_revision,
            "base_ref": settings.base_ref,
            "heads": settings.heads,
            "lint": settings.lint != "off",
        },
    }


class WorkerGone(Exception):
    """The events pipe closed before the worker reported a result or an error."""


class ProjectOutput:
    """What the project's code printed: the last lines are kept; shown live if verbose."""

    def __init__(self, show: Callable[[str], None] | None) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=OUTPUT_LINES_KEPT)
        self._show = show
        self._pending = protocol.LineBuffer()

    def feed(self, data: bytes) -> None:
        for raw in self._pending.feed(data):
            self._add(raw)

    def close(self) -> None:
        rest = self._pending.rest()
        if rest:
            self._add(rest)

    def _add(self, raw: bytes) -> None:
        line = raw.decode("utf-8", errors="replace").rstrip("\r")
        self.lines.append(line)
        if self._show is not None:
            self._show(line)


def worker_environment(environ: Mapping[str, str], env_file: Mapping[str, str]) -> dict[str, str]:
    """Our environment, with the env file's values below it (as python-dotenv loads a file
    without overriding), minus the password variables (the job adds them back if needed)."""
    merged = {**env_file, **environ}
    return {k: v for k, v in merged.items() if k not in WITHHELD_VARIABLES}


class WorkerProcess:
    """One worker: start it, send commands, read its events and its output."""

    def __init__(
        self,
        python: str | None,
        project_dir: Path,
        output: ProjectOutput,
        env_file: Mapping[str, str],
    ) -> None:
        events_read, events_write = os.pipe()
        commands_read, commands_write = os.pipe()
        self.output = output
        self.python = python or sys.executable
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our bootstrap, list arguments
                [
                    self.python,
                    "-c",
                    BOOTSTRAP,
                    str(WORKER_DIR),
                    str(events_write),
                    str(commands_read),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(events_write, commands_read),
                cwd=project_dir,
                env=worker_environment(os.environ, env_file),
                start_new_session=True,  # a terminal's Ctrl-C reaches the supervisor only
            )
        finally:
            os.close(events_write)
            os.close(commands_read)
        stdout = self.process.stdout
        self._output_fd: int | None = stdout.fileno() if stdout is not None else None
        self._events_fd: int | None = events_read
        self._commands_fd: int | None = commands_write
        self._events = protocol.LineBuffer()
        self._queue: collections.deque[dict[str, Any]] = collections.deque()

    def send(self, kind: str, **fields: Any) -> None:
        """A command; a worker that is already gone is noticed by the next :meth:`receive`."""
        if self._commands_fd is None:
            return
        try:
            protocol.write_all(self._commands_fd, protocol.encode(kind, **fields))
        except (BrokenPipeError, OSError):
            self._close_commands()

    def _close_commands(self) -> None:
        if self._commands_fd is not None:
            os.close(self._commands_fd)
            self._commands_fd = None

    def receive(self, timeout: float) -> dict[str, Any] | None:
        """The next event, or None if none arrived within ``timeout`` seconds."""
        if not self._queue:
            self.poll(timeout)
        if self._queue:
            return self._queue.popleft()
        if self._events_fd is None:
            raise WorkerGone
        return None

    def poll(self, timeout: float) -> None:
        """Read what the worker wrote (events are queued, output is kept) for ``timeout``."""
        fds = [fd for fd in (self._events_fd, self._output_fd) if fd is not None]
        if not fds:
            time.sleep(timeout)
            return
        readable, _, _ = select.select(fds, [], [], timeout)
        if self._output_fd in readable:
            self._read_output()
        if self._events_fd is not None and self._events_fd in readable:
            data = os.read(self._events_fd, 1 << 16)
            if not data:
                os.close(self._events_fd)
                self._events_fd = None
                self._drain_output()
                return
            for line in self._events.feed(data):
                try:
                    self._queue.append(protocol.decode(line))
                except protocol.ProtocolError as exc:  # judged in order, like any event
                    self._queue.append({"type": GARBAGE, "detail": str(exc)})

    def _read_output(self) -> None:
        if self._output_fd is None:
            return
        data = os.read(self._output_fd, 1 << 16)
        if data:
            self.output.feed(data)
        else:
            self._output_fd = None
            self.output.close()

    def _drain_output(self) -> None:
        """After the events pipe closed: the rest of the output, for a short while."""
        while self._output_fd is not None:
            readable, _, _ = select.select([self._output_fd], [], [], 0.5)
            if not readable:
                break
            self._read_output()

    def kill(self) -> None:
        """End the worker and whatever it started in its session."""
        self._close_commands()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        if self._events_fd is not None:
            os.close(self._events_fd)
        self._events_fd = None
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._output_fd = None
        self._close_commands()

    def how_it_ended(self) -> str:
        """How the worker process ended, in words, once its events pipe has closed."""
        self._close_commands()
        try:
            code = self.process.wait(EXIT_WAIT)
        except subprocess.TimeoutExpired:
            return "closed its events pipe but is still running"
        if code < 0:
            name = signal.Signals(-code).name
            return f"was killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
        if code == 70:
            return "stopped because it lost contact with drift-check"
        return f"exited with status {code} (sys.exit or os._exit in the project's code?)"

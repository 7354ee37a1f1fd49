"""The worker process: import the project, run its env.py, report over the events pipe.

It is started by the supervisor with two pipe descriptors (events out, commands in), with
its stdout and stderr going to the supervisor as the project's output. It never decides an
exit code: it reports ``result`` or a classified ``error``, and anything else (a crash,
``os._exit``, a signal, a hang) is judged by the supervisor.
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
from contextlib import suppress
from typing import NoReturn

from . import protocol
from .main_support import Channel, Commands, Stages


def _limit_memory(limit: int | None) -> None:
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: list[str]) -> NoReturn:
    """``argv``: the events descriptor and the commands descriptor."""
    events_fd, commands_fd = int(argv[0]), int(argv[1])
    for fd in (events_fd, commands_fd):
        os.set_inheritable(fd, False)  # the project's subprocesses get neither pipe
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    channel, commands = Channel(events_fd), Commands(commands_fd)
    stages = Stages(channel)
    run = None
    try:
        # Imported here, so an interpreter without Alembic or SQLAlchemy is reported.
        from . import check  # noqa: PLC0415

        run = check.Run()
        channel.send(protocol.HELLO, pid=os.getpid(), **check.versions())
        run.job = commands.expect(protocol.JOB)
        channel.token = str(run.job.pop("token"))
        _limit_memory(run.job.get("memory_limit"))
        check.check(run, commands, stages)
    except BaseException as error:  # everything, SystemExit included, is reported
        _report(error, stages, run, channel)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with suppress(OSError, ValueError):
                stream.flush()
        for scratch in run.scratch if run is not None else ():
            shutil.rmtree(scratch, ignore_errors=True)
    os._exit(0)  # no waiting for the project's threads, no heap teardown


def _report(error: BaseException, stages: Stages, run: object, channel: Channel) -> None:
    if run is None:  # Alembic or SQLAlchemy is missing from this interpreter
        channel.send(
            protocol.ERROR,
            stage=stages.current,
            category="config",
            message=(
                f"the Python at {sys.executable} cannot import "
                f"{getattr(error, 'name', None) or 'alembic'} ({error.__class__.__name__}); "
                "DRIFT_PYTHON must be an interpreter where the project and Alembic are installed"
            ),
            traceback="",
        )
        return
    from .check import report_failure  # noqa: PLC0415 - loaded above

    with suppress(OSError):  # the pipe is gone: the supervisor judges the exit instead
        report_failure(error, stages.current, run, channel)  # type: ignore[arg-type]

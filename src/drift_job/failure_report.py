"""What the command line does when it cannot run normally: settings that fail to load (still
reported in the requested format) and a reader that closed stdout early."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from drift_job.errors import DriftCheckError
from drift_job.settings_values import split_entries
from drift_job.supervisor.redaction import Redactor

if TYPE_CHECKING:
    from drift_job.report import CheckResult


def report_failure(args: argparse.Namespace, error: DriftCheckError, redact: Redactor) -> None:
    """Settings could not be loaded: a --format json/junit/markdown report still describes
    the error, in the format and place asked for when those settings themselves are valid;
    so does every ``--report`` that can be written, and the GitHub job summary."""
    from drift_job.report import CheckResult  # noqa: PLC0415 - only on this path: a fast start
    from drift_job.report_formats import RENDERERS  # noqa: PLC0415

    result = CheckResult(status="error", exit_code=error.exit_code, message=redact(str(error)))
    _other_reports(args, result)
    fmt = getattr(args, "format", None) or os.environ.get("DRIFT_FORMAT")
    renderer = RENDERERS.get(fmt or "")
    if renderer is None:
        return
    report = renderer(result)  # built from a redacted message: never rewritten
    output = getattr(args, "output", None) or os.environ.get("DRIFT_OUTPUT")
    if not output:
        sys.stdout.write(report)
        return
    with contextlib.suppress(OSError, ValueError):  # the output path may be what was rejected
        Path(output).write_text(report, encoding="utf-8")


def _other_reports(args: argparse.Namespace, result: CheckResult) -> None:
    from drift_job.report_formats import render  # noqa: PLC0415
    from drift_job.report_outputs import append_step_summary, requested_targets  # noqa: PLC0415

    entries = getattr(args, "report", None) or split_entries(os.environ.get("DRIFT_REPORT", ""))
    for fmt, path in requested_targets(entries, Path.cwd()):
        with contextlib.suppress(OSError, ValueError):  # the path may be what was rejected
            path.write_text(render(fmt, result), encoding="utf-8")
    append_step_summary(result)


def discard_stdout() -> None:
    """The reader went away (``drift-check config | head -1``): send the rest of the output
    to /dev/null, as the Python documentation recommends for SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)

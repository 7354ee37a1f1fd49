"""What the command line does when it cannot run normally: settings that fail to load (still
reported in the requested format) and a reader that closed stdout early."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from drift_job.errors import DriftCheckError
from drift_job.supervisor.redaction import Redactor


def report_failure(args: argparse.Namespace, error: DriftCheckError, redact: Redactor) -> None:
    """Settings could not be loaded: a --format json/junit/markdown report still describes
    the error, in the format and place asked for when those settings themselves are valid."""
    from drift_job.report import (  # noqa: PLC0415 - only on this path: a fast start
        CheckResult,
        render_json,
        render_junit,
        render_markdown,
    )

    fmt = getattr(args, "format", None) or os.environ.get("DRIFT_FORMAT")
    renderers = {"json": render_json, "markdown": render_markdown, "junit": render_junit}
    renderer = renderers.get(fmt or "")
    if renderer is None:
        return
    result = CheckResult(status="error", exit_code=error.exit_code, message=redact(str(error)))
    report = renderer(result)  # built from a redacted message: never rewritten
    output = getattr(args, "output", None) or os.environ.get("DRIFT_OUTPUT")
    if not output:
        sys.stdout.write(report)
        return
    with contextlib.suppress(OSError, ValueError):  # the output path may be what was rejected
        Path(output).write_text(report, encoding="utf-8")


def discard_stdout() -> None:
    """The reader went away (``drift-check config | head -1``): send the rest of the output
    to /dev/null, as the Python documentation recommends for SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)

"""Where reports go besides stdout: every ``--report FORMAT:FILE``, and the GitHub Actions
job summary (``GITHUB_STEP_SUMMARY``), which gets the Markdown report appended."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from drift_job.report import CheckResult, write_file
from drift_job.report_formats import REPORT_FORMATS, render
from drift_job.report_markdown import render_markdown


def write_reports(targets: Iterable[tuple[str, Path]], result: CheckResult) -> None:
    for fmt, path in targets:
        write_file(path, render(fmt, result))


def append_step_summary(result: CheckResult, environ: Mapping[str, str] = os.environ) -> None:
    """In a GitHub Actions job, the Markdown report shows on the run's summary page."""
    summary = environ.get("GITHUB_STEP_SUMMARY")
    if not summary:
        return
    try:
        with open(summary, "a", encoding="utf-8") as stream:
            stream.write(render_markdown(result))
    except OSError as exc:
        print(f"drift-check: cannot append to {summary}: {exc.strerror}", file=sys.stderr)


def requested_targets(entries: Iterable[str], base_dir: Path) -> list[tuple[str, Path]]:
    """``FORMAT:FILE`` entries read without the settings (which failed to load): the valid
    ones, so that each report is written even for a configuration error."""
    targets = []
    for entry in entries:
        fmt, sep, name = entry.strip().partition(":")
        if sep and name.strip() and fmt in REPORT_FORMATS:
            targets.append((fmt, base_dir / name.strip()))
    return targets

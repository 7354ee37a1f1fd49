"""Every report format by name, for ``--format`` and ``--report FORMAT:FILE``."""

from __future__ import annotations

from collections.abc import Callable

from drift_job.report import CheckResult, render_json, render_text
from drift_job.report_github import render_github
from drift_job.report_junit import render_junit
from drift_job.report_markdown import render_markdown
from drift_job.report_sarif import render_sarif

RENDERERS: dict[str, Callable[[CheckResult], str]] = {
    "json": render_json,
    "markdown": render_markdown,
    "junit": render_junit,
    "sarif": render_sarif,
    "github": render_github,
}
#: Formats a report file may have (text too: the verdict for people, without colour).
REPORT_FORMATS = ("text", *RENDERERS)


def render(fmt: str, result: CheckResult) -> str:
    """The report in ``fmt``; ``text`` is the verdict for people (an error's line included)."""
    renderer = RENDERERS.get(fmt)
    return renderer(result) if renderer is not None else render_text(result)

"""Reports: the result, human text, JSON, and the one-line summary for Kubernetes (the other
formats are in ``report_*`` modules; :mod:`drift_job.report_formats` lists them all).

Reports are built from the result's values as they are: none holds the password (free-text
messages were redacted when they entered the result), and no report is rewritten afterwards.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import drift_job
from drift_job import lint_report, roundtrip_report
from drift_job.checks import CheckOutcome
from drift_job.comparison import NORMALISER_VERSION, Difference, Information
from drift_job.ignore_rules import Accepted
from drift_job.roundtrip import RoundTrip
from drift_job.source_paths import shown_path

TERMINATION_LOG = Path("/dev/termination-log")
SUMMARY_LIMIT = 4096
#: The JSON report's shape (``drift_job/schemas/report.schema.json``): bumped on any change
#: that could break a reader.
SCHEMA_VERSION = 1
FIX_STEPS = (
    "alembic revision --autogenerate -m 'describe the change'",
    "review the generated file in your versions/ directory (autogenerate is not always right)",
    "alembic upgrade head; then alembic downgrade -1 and alembic upgrade head again",
    "commit the new migration file together with the model change",
)


@dataclass
class CheckResult:
    """The outcome of one run; the library API returns it and every report renders it."""

    status: str
    exit_code: int
    message: str
    differences: list[Difference] = field(default_factory=list)
    suggested_migration: str = ""
    temporary_database: str | None = None
    alembic_head: str | None = None
    server: str | None = None
    #: Objects the models cannot express that only the migrations create (not drift unless
    #: ``--strict``, which also lists them among the differences).
    information: list[Information] = field(default_factory=list)
    #: Databases the migrations created on the server during the run (left alone by us).
    created_databases: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    tool_version: str = field(default_factory=lambda: drift_job.__version__)
    #: How the migration cache served the run (None without one): see cache_run.summary.
    cache: dict[str, Any] | None = None
    #: The last lines the project's code printed (redacted free text); never serialised.
    project_output: list[str] = field(default_factory=list, repr=False, compare=False)
    #: The exception behind an error result, for ``--debug``; never serialised.
    error: BaseException | None = field(default=None, repr=False, compare=False)
    #: The downgrade round trip (``--roundtrip``), None when it did not run.
    roundtrip: RoundTrip | None = None
    #: The data-safety lint of the new revisions, when asked for (``--lint``).
    lint: lint_report.LintReport | None = None
    #: Differences that ignore rules accept: reported, not drift.
    ignored: list[Accepted] = field(default_factory=list)
    #: Ignore rules that expired or matched nothing.
    ignore_warnings: list[str] = field(default_factory=list)
    #: Checks beyond the built-in ones (each a test case in JUnit, results in SARIF).
    checks: list[CheckOutcome] = field(default_factory=list)
    #: The stage an error result stopped in (``settings``, ``migrate``, ``catalog``…).
    failed_stage: str | None = None
    #: The project's env.py: where a finding without a place of its own is shown.
    env_py: str | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "normaliser_version": NORMALISER_VERSION,
            "status": self.status,
            "exit_code": self.exit_code,
            "message": self.message,
            "differences": [
                *({**_portable(d.as_dict()), "ignored": None} for d in self.differences),
                *(_portable(accepted.as_dict()) for accepted in self.ignored),
            ],
            "suggested_migration": self.suggested_migration,
            "temporary_database": self.temporary_database,
            "alembic_head": self.alembic_head,
            "server": self.server,
            "information": [_portable(i.as_dict()) for i in self.information],
            "ignore_warnings": self.ignore_warnings,
            "checks": [check.as_dict() for check in self.checks],
            "failed_stage": self.failed_stage,
            "created_databases": self.created_databases,
            "timings": {stage: round(seconds, 3) for stage, seconds in self.timings.items()},
            "tool_version": self.tool_version,
            "roundtrip": self.roundtrip.as_dict() if self.roundtrip else None,
            "lint": self.lint.as_dict() if self.lint else None,
            "cache": self.cache,
        }


def _portable(item: dict[str, Any]) -> dict[str, Any]:
    """A report's file paths relative to the repository, so reports compare across machines."""
    return {**item, "file": shown_path(item["file"])} if item.get("file") else item


def use_color(stream: IO[str]) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def render_text(result: CheckResult, *, color: bool = False) -> str:
    """The verdict for people: differences, the fixing operations, and what to do."""
    lines: list[str] = []
    head = f" (head {result.alembic_head})" if result.alembic_head else ""
    if result.status == "clean":
        lines.append(_paint(f"no drift: the models match the migrations{head}", "32", color))
    elif result.status == "drift" and not result.differences:  # the round trip failed alone
        lines.append(_paint(f"the models match the migrations{head}, but:", "1;31", color))
    elif result.status == "drift":
        count = len(result.differences)
        noun = "difference" if count == 1 else "differences"
        lines.append(
            _paint(
                f"SCHEMA DRIFT DETECTED: {count} {noun} between the models and the migrations",
                "1;31",
                color,
            )
        )
        lines += [f"  - {d.detail}{_found_by(d)}" for d in result.differences]
        if result.suggested_migration:
            lines.append("")
            lines.append("Alembic operations that would fix it (review them before use):")
            lines += [f"    {line}" for line in result.suggested_migration.splitlines()]
        lines.append("")
        lines.append("To fix it:")
        lines += [f"  {number}. {step}" for number, step in enumerate(fix_steps(result), 1)]
    elif result.status == "unsafe":
        lines.append(_paint(f"UNSAFE MIGRATIONS: {result.message}", "1;31", color))
    else:
        lines.append(_paint(f"error (exit {result.exit_code}): {result.message}", "1;31", color))
    lines += _information_lines(result)
    lines += roundtrip_report.text_lines(result)
    lines += lint_report.text_lines(result)
    lines += ignored_lines(result)
    lines += cache_lines(result.cache) if result.status != "error" else []
    if result.created_databases:
        created = ", ".join(result.created_databases)
        lines.append(
            f"note: the migrations created database(s) {created} on the server; "
            "drift-check leaves them alone"
        )
    return "\n".join(lines) + "\n"


def cache_lines(cache: dict[str, Any] | None) -> list[str]:
    """Whether the migrations were replayed or taken from the cache, in one line."""
    if cache is None:
        return []
    applied = len(cache["applied"])
    if cache["hit"]:
        line = f"cache: started from revision {cache['revision']} ({cache['from']})"
        line += f", applied {applied} revision(s)"
    else:
        line = f"cache: nothing cached for this chain, applied {applied} revision(s)"
    if cache["stored"]:
        line += f"; stored {', '.join(cache['stored'])}"
    models = cache.get("models")
    if models and models["from"]:
        line += f"; models' database cloned from {models['from']}"
    elif models and models["stored"]:
        line += f"; stored the models' database as {models['stored']}"
    return [line]


def fix_steps(result: CheckResult) -> tuple[str, ...]:
    """What to do; autogenerate cannot write what only the catalog pass found."""
    if not any(d.source == "catalog" for d in result.differences):
        return FIX_STEPS
    first = (
        "alembic revision --autogenerate -m 'describe the change', then add the operations "
        "marked as found by the catalog comparison above (autogenerate cannot see those)"
    )
    return (first, *FIX_STEPS[1:])


def _found_by(difference: Difference) -> str:
    return "  [catalog]" if difference.source == "catalog" else ""


def _information_lines(result: CheckResult) -> list[str]:
    if not result.information or result.status == "error":
        return []
    count = len(result.information)
    return [
        f"information: {count} object(s) only the migrations create, which the models cannot "
        "express (--strict makes them drift):",
        *(f"  - {item.detail}" for item in result.information),
    ]


def ignored_lines(result: CheckResult) -> list[str]:
    """One summary line for the accepted differences, then a line per rule warning."""
    lines = []
    if result.ignored:
        reasons = sorted({accepted.rule.reason for accepted in result.ignored})
        lines.append(
            f"ignored: {len(result.ignored)} accepted difference(s) not counted as drift "
            f"({'; '.join(reasons)}); the JSON report lists them"
        )
    lines += [f"warning: {warning}" for warning in result.ignore_warnings]
    return lines


def render_json(result: CheckResult) -> str:
    return json.dumps(result.as_dict(), indent=2) + "\n"


def summary_line(result: CheckResult) -> str:
    """One line of JSON, at most 4096 bytes (the Kubernetes termination-message limit)."""
    summary: dict[str, Any] = {
        "status": result.status,
        "exit_code": result.exit_code,
        "differences": len(result.differences),
        "temporary_database": result.temporary_database,
        "alembic_head": result.alembic_head,
        "message": result.message,
        "tool_version": result.tool_version,
    }
    line = json.dumps(summary, separators=(",", ":"))
    while len(line.encode()) > SUMMARY_LIMIT and summary["message"]:
        summary["message"] = summary["message"][: len(summary["message"]) // 2] + "…"
        line = json.dumps(summary, separators=(",", ":"))
    return line


def termination_paths(explicit: Path | None) -> list[Path]:
    """Where the summary goes: the configured path, else Kubernetes' default if writable."""
    if explicit is not None:
        return [explicit]
    if TERMINATION_LOG.exists() and os.access(TERMINATION_LOG, os.W_OK):
        return [TERMINATION_LOG]
    return []


def write_file(path: Path, text: str) -> None:
    """Write a report file; an unwritable path is reported on stderr, not fatal to the verdict."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"drift-check: cannot write {path}: {exc.strerror}", file=sys.stderr)

"""Reports: human text, JSON, Markdown, JUnit, and the one-line summary for Kubernetes.

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
from xml.etree import ElementTree

import drift_job
from drift_job.comparison import Difference, Information

TERMINATION_LOG = Path("/dev/termination-log")
SUMMARY_LIMIT = 4096
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
    #: The last lines the project's code printed (redacted free text); never serialised.
    project_output: list[str] = field(default_factory=list, repr=False, compare=False)
    #: The exception behind an error result, for ``--debug``; never serialised.
    error: BaseException | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "message": self.message,
            "differences": [d.as_dict() for d in self.differences],
            "suggested_migration": self.suggested_migration,
            "temporary_database": self.temporary_database,
            "alembic_head": self.alembic_head,
            "server": self.server,
            "information": [i.as_dict() for i in self.information],
            "created_databases": self.created_databases,
            "timings": {stage: round(seconds, 3) for stage, seconds in self.timings.items()},
            "tool_version": self.tool_version,
        }


def use_color(stream: IO[str]) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def render_text(result: CheckResult, *, color: bool = False) -> str:
    """The verdict for people: differences, the fixing operations, and what to do."""
    lines: list[str] = []
    if result.status == "clean":
        head = f" (head {result.alembic_head})" if result.alembic_head else ""
        lines.append(_paint(f"no drift: the models match the migrations{head}", "32", color))
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
    else:
        lines.append(_paint(f"error (exit {result.exit_code}): {result.message}", "1;31", color))
    lines += _information_lines(result)
    if result.created_databases:
        created = ", ".join(result.created_databases)
        lines.append(
            f"note: the migrations created database(s) {created} on the server; "
            "drift-check leaves them alone"
        )
    return "\n".join(lines) + "\n"


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


def render_json(result: CheckResult) -> str:
    return json.dumps(result.as_dict(), indent=2) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(result: CheckResult) -> str:
    """For pull-request comments and CI job summaries."""
    lines = ["### drift-check", ""]
    if result.status == "clean":
        head = result.alembic_head
        lines.append(f"No drift: the models match the migrations (head `{head}`).")
    elif result.status == "drift":
        count = len(result.differences)
        lines.append(f"**Schema drift**: {count} difference(s) between the models and migrations.")
        lines += ["", "| kind | table | column | detail |", "|---|---|---|---|"]
        lines += [
            f"| `{d.kind}` | `{d.table or ''}` | `{d.column or ''}` | {_cell(d.detail)} |"
            for d in result.differences
        ]
        lines += ["", "Alembic operations that would fix it:", "", "```python"]
        lines += [result.suggested_migration, "```", "", "To fix it:", ""]
        lines += [f"{number}. {step}" for number, step in enumerate(fix_steps(result), 1)]
    else:
        lines.append(f"**Error** (exit {result.exit_code}): {result.message}")
    info = _information_lines(result)
    if info:
        lines += ["", info[0], ""] + [line.strip() for line in info[1:]]
    return "\n".join(lines) + "\n"


def render_junit(result: CheckResult) -> str:
    """One test case, for CI systems that read JUnit XML."""
    suite = ElementTree.Element(
        "testsuite",
        name="drift-check",
        tests="1",
        failures="1" if result.status == "drift" else "0",
        errors="1" if result.status == "error" else "0",
        time=f"{sum(result.timings.values()):.3f}",
    )
    case = ElementTree.SubElement(
        suite, "testcase", classname="drift-check", name="models match migrations"
    )
    if result.status == "drift":
        failure = ElementTree.SubElement(case, "failure", message=result.message, type="drift")
        details = [d.detail for d in result.differences]
        failure.text = "\n".join([*details, "", result.suggested_migration])
    elif result.status == "error":
        ElementTree.SubElement(
            case, "error", message=result.message, type=f"exit {result.exit_code}"
        )
    info = _information_lines(result)
    if info:
        ElementTree.SubElement(case, "system-out").text = "\n".join(info)
    return ElementTree.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


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

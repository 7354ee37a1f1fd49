"""The Markdown report, for pull-request comments and CI job summaries.

It always fits GitHub's 65,536-character comment limit: long sections are folded into
``<details>``, and when the whole is still too long the longest sections show their first
rows and say how many more the JSON report has.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drift_job.checks import PASSED, SKIPPED
from drift_job.report import CheckResult, fix_steps, ignored_lines

LIMIT = 65_000
#: Sections with more rows than this are folded.
FOLD_ROWS = 20
#: No single cell may crowd out the rest (an index definition can be long).
CELL_LIMIT = 600


def _cell(text: str | None) -> str:
    text = (text or "").replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= CELL_LIMIT else text[: CELL_LIMIT - 1] + "…"


def _code(text: str | None) -> str:
    return f"`{_cell(text)}`" if text else ""


@dataclass
class _Section:
    title: str
    noun: str
    head: list[str] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)
    hidden: int = 0

    def render(self) -> list[str]:
        body = [*self.head, *self.rows, *self.tail]
        if self.hidden:
            body += [
                "",
                f"… and {self.hidden} more {self.noun} not shown here: the JSON report "
                "(`--report json:drift-check.json`) has every one.",
            ]
        if len(self.rows) + self.hidden <= FOLD_ROWS:
            return ["", f"**{self.title}**", "", *body]
        return ["", f"<details><summary>{self.title}</summary>", "", *body, "", "</details>"]

    def size(self) -> int:
        return sum(len(line) + 1 for line in self.render())


def _differences(result: CheckResult) -> _Section:
    section = _Section(f"{len(result.differences)} difference(s)", "difference(s)")
    section.head = ["| kind | table | column | detail |", "|---|---|---|---|"]
    section.rows = [
        f"| `{d.kind}` | {_code(d.table)} | {_code(d.column)} | {_cell(d.detail)} |"
        for d in result.differences
    ]
    return section


def _migration(result: CheckResult) -> _Section:
    section = _Section("Alembic operations that would fix it", "line(s) of the migration")
    section.head, section.tail = ["```python"], ["```"]
    section.rows = result.suggested_migration.splitlines()
    return section


def _ignored(result: CheckResult) -> _Section:
    section = _Section(f"{len(result.ignored)} accepted difference(s) (not drift)", "item(s)")
    section.head = ["| id | reason | rule |", "|---|---|---|"]
    section.rows = [
        f"| `{_cell(a.difference.identity)}` | {_cell(a.rule.reason)} | {_cell(a.rule.origin)} |"
        for a in result.ignored
    ]
    return section


def _information(result: CheckResult) -> _Section:
    title = (
        f"Information: {len(result.information)} object(s) only the migrations create, "
        "which the models cannot express (--strict makes them drift)"
    )
    return _Section(title, "item(s)", rows=[f"- {_cell(i.detail)}" for i in result.information])


def _checks(result: CheckResult) -> list[_Section]:
    sections = []
    for check in result.checks:
        if check.status in (PASSED, SKIPPED) and not check.findings:
            continue
        section = _Section(f"{check.name}: {check.status}", "finding(s)")
        section.head = [_cell(check.message)] if check.message else []
        section.rows = [f"- `{f.rule}`: {_cell(f.message)}" for f in check.findings]
        sections.append(section)
    return sections


def _verdict(result: CheckResult) -> list[str]:
    if result.status == "clean":
        return [f"No drift: the models match the migrations (head `{result.alembic_head}`)."]
    if result.status == "drift" and not result.differences:  # the round trip failed alone
        return [f"The models match the migrations (head `{result.alembic_head}`), but:"]
    if result.status == "drift":
        count = len(result.differences)
        return [f"**Schema drift**: {count} difference(s) between the models and migrations."]
    if result.status == "unsafe":
        return [f"**Unsafe migrations**: {_cell(result.message)}."]
    return [f"**Error** (exit {result.exit_code}): {_cell(result.message)}"]


def render_markdown(result: CheckResult) -> str:
    sections: list[_Section] = []
    if result.status == "drift" and result.differences:
        sections.append(_differences(result))
        if result.suggested_migration:
            sections.append(_migration(result))
    if result.ignored:
        sections.append(_ignored(result))
    if result.information and result.status != "error":
        sections.append(_information(result))
    sections += _checks(result)
    closing: list[str] = []
    if result.status == "drift" and result.differences:
        closing = ["", "To fix it:", ""]
        closing += [f"{number}. {step}" for number, step in enumerate(fix_steps(result), 1)]
    warnings = [f"- {line}" for line in ignored_lines(result) if line.startswith("warning:")]
    opening = ["### drift-check", "", *_verdict(result)]
    fixed = sum(len(line) + 1 for line in [*opening, *closing, "", *warnings])
    while fixed + sum(s.size() for s in sections) > LIMIT:
        longest = max(sections, key=_Section.size)
        if not longest.rows:
            break
        keep = len(longest.rows) // 2
        longest.hidden += len(longest.rows) - keep
        longest.rows = longest.rows[:keep]
    lines = [*opening]
    for section in sections:
        lines += section.render()
    lines += closing
    if warnings:
        lines += ["", *warnings]
    return "\n".join(lines) + "\n"

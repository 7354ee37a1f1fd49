"""The pytest plugin's check: settings from the ``drift_check_args`` ini option (or
``--drift-check-args``) parsed as ``drift-check check`` parses its command line, on top of the
environment and env file; one run per session; and each item's verdict.
"""

from __future__ import annotations

import contextlib
import io
import shlex
from dataclasses import dataclass

import pytest

from drift_job.arguments import build_parser, flags_of
from drift_job.checks import ERROR, FAILED, SKIPPED, Finding
from drift_job.errors import ConfigError, DriftCheckError
from drift_job.report import CheckResult, fix_steps
from drift_job.report_junit import (
    AUTOGENERATE,
    BUILT_IN,
    CATALOG,
    MIGRATIONS,
    SETTINGS,
    STAGE_CHECKS,
    built_in_checks,
)
from drift_job.runner import run_check
from drift_job.settings import load_settings
from drift_job.source_paths import shown_path

#: Flags that make the command line write reports; pytest's own reports carry the items.
REPORT_FLAGS = ("format", "output", "summary_file", "report")
PROJECT_OUTPUT_SHOWN = 40
#: Each item and the check (the JUnit test case) it reports.
CHECK_NAMES = {
    "settings": SETTINGS,
    "migrations": MIGRATIONS,
    "autogenerate": AUTOGENERATE,
    "catalog": CATALOG,
}


@dataclass(frozen=True)
class SessionCheck:
    """The one check of a session, and what the items need to know about how it ran."""

    result: CheckResult
    settings_failed: bool
    compare: str | None

    def verdict(self, name: str) -> tuple[str, str]:
        """``(outcome, text)`` of one item, from the same checks as the JUnit report's test
        cases. Unlike there, a check that an earlier failure kept from running fails rather
        than skips, and every item fails when the run ended in an error outside these parts
        (cleanup, ignore rules): selecting one item (``-k autogenerate``) never passes a
        check that has no verdict."""
        result = self.result
        if name == "verdict":
            return self._verdict()
        if self.settings_failed:
            if name == "settings":
                return "failed", f"drift-check: {result.message}"
            return "failed", "not run: the settings are not valid (see drift-check::settings)"
        check = {c.name: c for c in built_in_checks(result)}[CHECK_NAMES[name]]
        if check.status in (FAILED, ERROR):
            if check.findings:
                return "failed", _findings_text(result, check.findings, name)
            return "failed", _error_text(result)
        if check.status == SKIPPED:
            off = self.compare == "autogenerate" and result.status != "error"
            if off and not any(d.source == "catalog" for d in result.differences):
                return "skipped", "the catalog comparison is off (--compare autogenerate)"
            return (
                "failed",
                f"not compared, an earlier part failed ({check.message})\n{_error_text(result)}",
            )
        if result.status == "error" and STAGE_CHECKS.get(result.failed_stage or "") not in BUILT_IN:
            return (
                "failed",
                f"the check ended without a verdict after this part\n{_error_text(result)}",
            )
        return "passed", ""

    def _verdict(self) -> tuple[str, str]:
        """The run's exit code: it fails whenever ``drift-check check`` would, so what no
        part reports (the lint, the round trip, any other check) still fails the session."""
        result = self.result
        if result.exit_code == 0:
            return "passed", ""
        lines = [f"drift-check exits {int(result.exit_code)}: {result.message}"]
        for check in result.checks:
            if check.status in (FAILED, ERROR):
                lines.append(f"{check.name}: {check.status}: {check.message}")
                lines += [f"  - {f.message}" for f in check.findings]
        return "failed", "\n".join(lines)


def run_session_check(config: pytest.Config) -> SessionCheck:
    """Settings, then the check itself, in the directory pytest calls its rootdir."""
    try:
        flags, keep_database = _flags(_arguments(config))
        settings = load_settings(flags, cwd=config.rootpath)
    except DriftCheckError as error:
        failed = CheckResult(status="error", exit_code=error.exit_code, message=str(error))
        return SessionCheck(failed, settings_failed=True, compare=None)
    result = run_check(settings, keep_database=keep_database)
    return SessionCheck(result, settings_failed=False, compare=settings.compare)


def _arguments(config: pytest.Config) -> list[str]:
    given: str | None = config.getoption("drift_check_args")
    if given is not None:
        return shlex.split(given)
    return [str(argument) for argument in config.getini("drift_check_args")]


def _flags(arguments: list[str]) -> tuple[dict[str, str | None], bool]:
    """Parsed by the command line's own parser, so both accept and refuse the same."""
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said), contextlib.redirect_stdout(said):
            args = build_parser().parse_args(["check", *arguments])
    except SystemExit:
        last = said.getvalue().strip().splitlines()[-1:] or ["not valid"]
        raise ConfigError(f"drift_check_args: {last[0].removeprefix('drift-check: ')}") from None
    refused = [name for name in REPORT_FLAGS if getattr(args, name, None) is not None]
    if refused:
        names = ", ".join("--" + name.replace("_", "-") for name in refused)
        raise ConfigError(
            f"drift_check_args: {names}: not used by pytest, whose own reports "
            "(--junitxml) carry the items"
        )
    return flags_of(args), bool(args.keep_database)


def _error_text(result: CheckResult) -> str:
    lines = [f"no verdict (exit {result.exit_code}): {result.message}"]
    shown = result.project_output[-PROJECT_OUTPUT_SHOWN:]
    if shown:
        lines += ["", f"project output (last {len(shown)} lines):"]
        lines += [f"  | {line}" for line in shown]
    return "\n".join(lines)


def _findings_text(result: CheckResult, findings: list[Finding], name: str) -> str:
    noun = "difference" if len(findings) == 1 else "differences"
    lines = [f"SCHEMA DRIFT: {len(findings)} {noun} found by the {name} pass"]
    for finding in findings:
        place = f"  ({shown_path(finding.file)}:{finding.line})" if finding.file else ""
        lines.append(f"  - {finding.message}{place}")
    if name == "catalog":
        lines.append("  (those both passes find are listed under drift-check::autogenerate)")
    if result.suggested_migration:
        lines += ["", "Alembic operations that would fix it (review them before use):"]
        lines += [f"    {line}" for line in result.suggested_migration.splitlines()]
    lines += ["", "To fix it:"]
    lines += [f"  {number}. {step}" for number, step in enumerate(fix_steps(result), 1)]
    return "\n".join(lines)

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
from drift_job.comparison import Difference
from drift_job.errors import ConfigError, DriftCheckError
from drift_job.report import CheckResult, fix_steps
from drift_job.runner import run_check
from drift_job.settings import load_settings

#: Flags that make the command line write reports; pytest's own reports carry the items.
REPORT_FLAGS = ("format", "output", "summary_file")
PROJECT_OUTPUT_SHOWN = 40


@dataclass(frozen=True)
class SessionCheck:
    """The one check of a session, and what the items need to know about how it ran."""

    result: CheckResult
    settings_failed: bool
    compare: str | None

    def verdict(self, name: str) -> tuple[str, str]:
        """``(outcome, text)`` of one item. Every difference lands in a failing item, and an
        error fails every item it kept from running: no item passes without a verdict."""
        result = self.result
        if self.settings_failed:
            if name == "settings":
                return "failed", f"drift-check: {result.message}"
            return "failed", "not run: the settings are not valid (see drift-check::settings)"
        if name == "settings":
            return "passed", ""
        catalog_on = self.compare != "autogenerate"
        if name == "catalog" and not catalog_on:
            return "skipped", "the catalog comparison is off (--compare autogenerate)"
        if result.status == "error":
            return "failed", _error_text(result, name)
        if name == "migrations":
            return "passed", ""
        found = [
            d
            for d in result.differences
            if (d.source == "catalog" and catalog_on) == (name == "catalog")
        ]
        if not found:
            return "passed", ""
        return "failed", _differences_text(result, found, name)


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


def _error_text(result: CheckResult, name: str) -> str:
    head = f"no verdict (exit {result.exit_code}): {result.message}"
    if name != "migrations":
        return f"not compared: the check stopped first (see drift-check::migrations)\n{head}"
    lines = [head]
    shown = result.project_output[-PROJECT_OUTPUT_SHOWN:]
    if shown:
        lines += ["", f"project output (last {len(shown)} lines):"]
        lines += [f"  | {line}" for line in shown]
    return "\n".join(lines)


def _differences_text(result: CheckResult, found: list[Difference], name: str) -> str:
    noun = "difference" if len(found) == 1 else "differences"
    lines = [f"SCHEMA DRIFT: {len(found)} {noun} found by the {name} pass"]
    lines += [f"  - {d.detail}" for d in found]
    if name == "catalog":
        lines.append("  (those both passes find are listed under drift-check::autogenerate)")
    if result.suggested_migration:
        lines += ["", "Alembic operations that would fix it (review them before use):"]
        lines += [f"    {line}" for line in result.suggested_migration.splitlines()]
    lines += ["", "To fix it:"]
    lines += [f"  {number}. {step}" for number, step in enumerate(fix_steps(result), 1)]
    return "\n".join(lines)

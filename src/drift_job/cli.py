"""The ``drift-check`` command: argument parsing and output, over :mod:`drift_job.runner`.

The library (server, supervisor, psycopg2) is imported only by the commands that run it, so
``--help``, ``--version`` and ``config`` start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import quote

import drift_job
from drift_job.arguments import build_parser, flags_of
from drift_job.errors import DriftCheckError, ExitCode
from drift_job.failure_report import discard_stdout, report_failure
from drift_job.supervisor.control import BACKGROUND_THREAD
from drift_job.supervisor.redaction import RedactingStream, Redactor

if TYPE_CHECKING:
    from drift_job.report import CheckResult
    from drift_job.settings import Settings


def _print_stage(stream: IO[str]) -> Callable[[str, float, str], None]:
    def progress(stage: str, seconds: float, note: str) -> None:
        print(f"  {stage:<9}{seconds:7.2f} s  {note}", file=stream, flush=True)

    return progress


PROJECT_OUTPUT_SHOWN = 40


def _emit(settings: Settings, result: CheckResult) -> None:
    """The report to stdout (or --output), errors as one line on stderr, and the summaries.

    Reports are written as rendered: their values never hold the password, so nothing
    rewrites them (a short password would otherwise mangle them).
    """
    from drift_job.report import (  # noqa: PLC0415 - only when needed
        render_text,
        summary_line,
        termination_paths,
        use_color,
        write_file,
    )
    from drift_job.report_formats import RENDERERS  # noqa: PLC0415
    from drift_job.report_outputs import append_step_summary, write_reports  # noqa: PLC0415

    renderer = RENDERERS.get(settings.output_format)
    if renderer is not None:
        report = renderer(result)
    else:
        color = settings.output is None and use_color(sys.stdout)
        report = render_text(result, color=color) if result.status != "error" else ""
    if settings.output is not None:
        write_file(settings.output, report or render_text(result))
    elif report:
        sys.stdout.write(report)
    if result.status == "error":
        print(f"drift-check: {result.message}", file=sys.stderr)
    if settings.output_format != "text" or settings.output is not None:
        for warning in result.ignore_warnings:  # the text report on stdout has them already
            print(f"drift-check: warning: {warning}", file=sys.stderr)
    summary = summary_line(result) + "\n"
    for path in termination_paths(settings.termination_message_path):
        write_file(path, summary)
    if settings.summary_file is not None:
        write_file(settings.summary_file, summary)
    write_reports(settings.reports, result)
    append_step_summary(result)


def _show_project_output(result: CheckResult) -> None:
    """On failure, the end of what the project's code printed: the likely explanation."""
    lines = result.project_output[-PROJECT_OUTPUT_SHOWN:]
    if not lines:
        return
    print(f"project output (last {len(lines)} lines):", file=sys.stderr)
    for line in lines:
        print(f"  | {line}", file=sys.stderr)


def _check(args: argparse.Namespace, settings: Settings) -> int:
    progress_stream = sys.stdout if settings.output_format == "text" else sys.stderr
    print(f"drift-check {drift_job.__version__}", file=progress_stream, flush=True)
    verbose = settings.verbose
    from drift_job.runner import run_check  # noqa: PLC0415 - only when needed

    result = run_check(
        settings,
        progress=_print_stage(progress_stream),
        log=lambda message: print(f"  {message}", file=progress_stream, flush=True),
        keep_database=args.keep_database,
        project_output=(lambda line: print(f"  | {line}", file=sys.stderr)) if verbose else None,
    )
    if args.debug and result.error is not None:
        traceback.print_exception(result.error)
        print(getattr(result.error, "worker_traceback", ""), file=sys.stderr, end="")
    if result.status == "error" and not verbose:
        _show_project_output(result)
    if args.keep_database and result.temporary_database and result.status != "error":
        print(
            f"  kept     {_connection_string(settings, result.temporary_database)}",
            file=progress_stream,
        )
    _emit(settings, result)
    return int(result.exit_code)


def _connection_string(settings: Settings, name: str) -> str:
    """A ready libpq URI for a kept database, without the password."""
    if settings.host is None:
        return f"{name} (on the throwaway server, which is gone with the run)"
    user = f"{quote(settings.user, safe='')}@" if settings.user else ""
    host = f"[{settings.host}]" if ":" in settings.host else quote(settings.host, safe="")
    return f"{name}: psql 'postgresql://{user}{host}:{settings.port}/{name}'"


#: ``--older-than 0`` (also ``0s``, ``0.0h``): unlike DRIFT_ORPHAN_TTL, this may be zero.
ZERO_DURATION = re.compile(r"^\s*0+(?:\.0*)?\s*[smhd]?\s*$")


def _sweep_age(text: str) -> float:
    """``--older-than``: a duration, or 0 (every leftover of ours whose run is gone)."""
    if ZERO_DURATION.match(text):
        return 0.0
    from drift_job.settings import parse_duration  # noqa: PLC0415 - only when needed

    try:
        return parse_duration(text)
    except ValueError:
        raise DriftCheckError(
            f"--older-than: {text!r} is not a duration (e.g. 0, 90s, 15m, 6h, 1d)"
        ) from None


def _sweep(args: argparse.Namespace, settings: Settings) -> int:
    older_than = settings.orphan_ttl if args.older_than is None else _sweep_age(args.older_than)
    from drift_job.runner import run_sweep  # noqa: PLC0415 - only when needed

    outcome = run_sweep(
        settings, older_than, dry_run=args.dry_run, log=print, cache=args.sweep_cache
    )
    servers = (
        f"{outcome.servers} orphaned throwaway server(s) {'found' if args.dry_run else 'reaped'}"
    )
    if not outcome.databases_swept:
        print(f"{servers}; no database server to sweep (POSTGRES_HOST not set)")
        return ExitCode.CLEAN
    line = f"{len(outcome.dropped)} leftover database(s) {'found' if args.dry_run else 'dropped'}"
    if outcome.failed:
        line += f", {len(outcome.failed)} could not be dropped"
    if outcome.templates is not None:
        line += (
            f", {len(outcome.templates)} cache template(s) {'found' if args.dry_run else 'dropped'}"
        )
    print(f"{line}; {servers}" if outcome.servers else line)
    if outcome.failed:
        names = ", ".join(leftover.name for leftover in outcome.failed)
        print(f"drift-check: could not drop {names} (see above)", file=sys.stderr)
        return ExitCode.INFRASTRUCTURE
    return ExitCode.CLEAN


def _config(args: argparse.Namespace, settings: Settings, stdout: IO[str]) -> int:
    # Straight to the real stdout: describe() already shows the password as ***, and
    # substring redaction would mangle any other value that happens to contain it.
    for key, value in settings.describe().items():
        print(f"{key}={value}", file=stdout)
    if args.check_connection:
        from drift_job.runner import check_connection  # noqa: PLC0415 - only when needed

        print(check_connection(settings))
    return ExitCode.CLEAN


def _summarise_failure(error: DriftCheckError, redact: Redactor) -> None:
    """Settings could not be loaded: still leave the summary where Kubernetes looks for it."""
    from drift_job.report import CheckResult, summary_line, termination_paths  # noqa: PLC0415

    explicit = os.environ.get("DRIFT_TERMINATION_MESSAGE_PATH")
    result = CheckResult(status="error", exit_code=error.exit_code, message=redact(str(error)))
    for path in termination_paths(Path(explicit) if explicit else None):
        # Best effort, silently: the path may itself be the setting that was rejected.
        with contextlib.suppress(OSError):
            path.write_text(summary_line(result) + "\n", encoding="utf-8")


def run(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0912
    """Parse ``argv``, run the command, print its output; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "k8s":  # its own settings; the Kubernetes client is imported only here
        from drift_job.kubernetes_job.command import run_k8s  # noqa: PLC0415

        return run_k8s(args)
    redact = Redactor()
    streams = (sys.stdout, sys.stderr)
    sys.stderr = RedactingStream(sys.stderr, redact)  # free text only; stdout has the report
    settings: Settings | None = None
    from drift_job.settings import load_settings  # noqa: PLC0415 - after a --help

    try:
        settings = load_settings(flags_of(args))
        for secret in settings.secrets():
            redact.add(secret)
        if args.command == "check":
            return _check(args, settings)
        if args.command == "sweep":
            return _sweep(args, settings)
        return _config(args, settings, streams[0])
    except BrokenPipeError:
        discard_stdout()
        return int(ExitCode.CLEAN if args.command == "config" else ExitCode.BAD_INPUT)
    except DriftCheckError as error:
        if args.debug:
            traceback.print_exc()
        if settings is None and args.command == "check":
            report_failure(args, error, redact)
        print(f"drift-check: {error}", file=sys.stderr)
        _summarise_failure(error, redact)
        return int(error.exit_code)
    except KeyboardInterrupt:  # SIGINT after the check (its database is already dropped)
        print("drift-check: interrupted by SIGINT", file=sys.stderr)
        return int(ExitCode.INTERRUPTED_SIGINT)
    except Exception as error:  # a bug or an environment we did not foresee: still one line
        if args.debug:
            traceback.print_exc()
        first_line = (str(error).strip().splitlines() or [""])[0]
        print(
            f"drift-check: unexpected {error.__class__.__name__}: {first_line} "
            "(run with --debug for details)",
            file=sys.stderr,
        )
        return int(ExitCode.BAD_INPUT)
    finally:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            discard_stdout()
        sys.stderr.flush()
        sys.stdout, sys.stderr = streams


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point. After an interruption a call to the server may still be blocked
    in its thread, so the process ends without waiting for it; otherwise it exits normally
    (the worker, which holds the big heap, already ends without tearing it down)."""
    code = run(argv)
    if any(t.name == BACKGROUND_THREAD and t.is_alive() for t in threading.enumerate()):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a reader that went away
                stream.flush()
        os._exit(code)
    return code

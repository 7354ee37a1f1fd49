"""The ``drift-check`` command: argument parsing and output, over :mod:`drift_job.runner`."""

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
from typing import IO, NoReturn
from urllib.parse import quote

from drift_job import __version__
from drift_job.errors import DriftCheckError, ExitCode
from drift_job.failure_report import discard_stdout, report_failure
from drift_job.report import (
    CheckResult,
    render_json,
    render_junit,
    render_markdown,
    render_text,
    summary_line,
    termination_paths,
    use_color,
    write_file,
)
from drift_job.runner import check_connection, run_check, run_sweep
from drift_job.settings import Settings, load_settings, parse_duration
from drift_job.supervisor.control import BACKGROUND_THREAD
from drift_job.supervisor.redaction import RedactingStream, Redactor

EXIT_CODES_HELP = """exit codes:
  0  no drift: the models match what the migrations build
  1  drift: the models and the migrations differ (the report says how)
  2  bad input or configuration (settings, alembic.ini, env.py, models that fail to
     import, multiple heads, the safety guard refusing a connection)
  3  database unreachable or another transient infrastructure fault (retry later)
  4  migrations fail to load or apply
  130/143  interrupted by SIGINT/SIGTERM (after dropping the temporary database)
"""

#: CLI option dest → settings key (flags take precedence over every other source).
FLAG_KEYS = {
    "env_file": "DRIFT_ENV_FILE",
    "config": "ALEMBIC_CONFIG",
    "project_dir": "DRIFT_PROJECT_DIR",
    "host": "POSTGRES_HOST",
    "port": "POSTGRES_PORT",
    "user": "POSTGRES_USER",
    "maintenance_db": "DRIFT_MAINTENANCE_DB",
    "python": "DRIFT_PYTHON",
    "name": "DRIFT_ALEMBIC_NAME",
    "verbose": "DRIFT_VERBOSE",
    "sslmode": "POSTGRES_SSLMODE",
    "prefix": "DRIFT_DB_PREFIX",
    "url_env": "DRIFT_URL_ENV",
    "driver": "DRIFT_DRIVER",
    "connect_timeout": "DRIFT_CONNECT_TIMEOUT",
    "timeout": "DRIFT_TIMEOUT",
    "orphan_ttl": "DRIFT_ORPHAN_TTL",
    "format": "DRIFT_FORMAT",
    "output": "DRIFT_OUTPUT",
    "summary_file": "DRIFT_SUMMARY_FILE",
}


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line and exit 2, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.BAD_INPUT, f"drift-check: {message} (see drift-check --help)\n")


def _common(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (each overrides the environment variable named)")
    group.add_argument(
        "--env-file",
        metavar="FILE",
        help="env file to read (DRIFT_ENV_FILE; default .env.k8s.development if present)",
    )
    group.add_argument(
        "-c", "--config", metavar="FILE", help="alembic.ini of the project (ALEMBIC_CONFIG)"
    )
    group.add_argument(
        "--project-dir", metavar="DIR", help="run in this project directory (DRIFT_PROJECT_DIR)"
    )
    group.add_argument("--host", help="PostgreSQL host (POSTGRES_HOST; unset: a throwaway server)")
    group.add_argument("--port", help="PostgreSQL port (POSTGRES_PORT, default 5432)")
    group.add_argument(
        "--user", help="PostgreSQL role (POSTGRES_USER); the password only via env or file"
    )
    group.add_argument(
        "--maintenance-db",
        metavar="NAME",
        help="database to connect to for CREATE/DROP (DRIFT_MAINTENANCE_DB, postgres)",
    )
    group.add_argument(
        "--python",
        metavar="PATH",
        help="interpreter that runs the project's code, e.g. its venv's (DRIFT_PYTHON)",
    )
    group.add_argument("--sslmode", help="libpq sslmode (POSTGRES_SSLMODE)")
    group.add_argument("--prefix", help="temporary database name prefix (DRIFT_DB_PREFIX)")
    group.add_argument(
        "--connect-timeout",
        metavar="DURATION",
        help="retry the first connection this long (DRIFT_CONNECT_TIMEOUT, 30s)",
    )
    group.add_argument(
        "--debug", action="store_true", help="show tracebacks (secrets still redacted)"
    )


def _alembic_name(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-n",
        "--name",
        metavar="SECTION",
        help="section of alembic.ini to use, as alembic -n (DRIFT_ALEMBIC_NAME, alembic)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="drift-check",
        description="Fail when SQLAlchemy/SQLModel models and Alembic migrations disagree.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"drift-check {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = commands.add_parser(
        "check",
        help="migrate a temporary database and compare it with the models",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(check)
    _alembic_name(check)
    check.add_argument(
        "-x",
        dest="x",
        metavar="ARG",
        action="append",
        help="Alembic -x argument for env.py (repeatable; DRIFT_ALEMBIC_X)",
    )
    check.add_argument(
        "-v", "--verbose", action="store_const", const="1", help="more detail (DRIFT_VERBOSE)"
    )
    check.add_argument("--format", help="text (default), json, markdown or junit (DRIFT_FORMAT)")
    check.add_argument("--output", metavar="FILE", help="write the report to FILE (DRIFT_OUTPUT)")
    check.add_argument(
        "--summary-file",
        metavar="FILE",
        help="write the one-line JSON summary to FILE (DRIFT_SUMMARY_FILE)",
    )
    check.add_argument(
        "--set-env",
        metavar="NAME=TEMPLATE",
        action="append",
        help="set NAME for env.py, e.g. DATABASE_URL={url} (repeatable; DRIFT_SET_ENV)",
    )
    check.add_argument(
        "--url-env", metavar="NAME", help="env var that env.py reads its URL from (DRIFT_URL_ENV)"
    )
    check.add_argument("--driver", help="DBAPI driver for the project's URL (DRIFT_DRIVER)")
    check.add_argument(
        "--timeout", metavar="DURATION", help="overall deadline (DRIFT_TIMEOUT, 15m)"
    )
    check.add_argument(
        "--orphan-ttl",
        metavar="DURATION",
        help="sweep our leftovers older than this first (DRIFT_ORPHAN_TTL, 6h)",
    )
    check.add_argument(
        "--keep-database", action="store_true", help="keep the temporary database for debugging"
    )

    sweep = commands.add_parser(
        "sweep",
        help="drop temporary databases and stop throwaway servers left behind by killed runs",
    )
    _common(sweep)
    sweep.add_argument(
        "--older-than",
        metavar="DURATION",
        default=None,
        help="only leftovers older than this; 0 for all whose run is gone "
        "(default DRIFT_ORPHAN_TTL, 6h)",
    )
    sweep.add_argument("--dry-run", action="store_true", help="list what would be dropped")

    config = commands.add_parser("config", help="print the effective settings (password redacted)")
    _common(config)
    _alembic_name(config)
    config.add_argument(
        "--check-connection",
        action="store_true",
        help="also connect and confirm the role may create databases",
    )
    return parser


def _flags(args: argparse.Namespace) -> dict[str, str | None]:
    flags = {key: getattr(args, dest, None) for dest, key in FLAG_KEYS.items()}
    if getattr(args, "set_env", None):
        flags["DRIFT_SET_ENV"] = "\n".join(args.set_env)
    if getattr(args, "x", None):
        flags["DRIFT_ALEMBIC_X"] = "\n".join(args.x)
    return flags


def _print_stage(stream: IO[str]) -> Callable[[str, float, str], None]:
    def progress(stage: str, seconds: float, note: str) -> None:
        print(f"  {stage:<9}{seconds:7.2f} s  {note}", file=stream, flush=True)

    return progress


RENDERERS = {"json": render_json, "markdown": render_markdown, "junit": render_junit}


PROJECT_OUTPUT_SHOWN = 40


def _emit(settings: Settings, result: CheckResult) -> None:
    """The report to stdout (or --output), errors as one line on stderr, and the summaries.

    Reports are written as rendered: their values never hold the password, so nothing
    rewrites them (a short password would otherwise mangle them).
    """
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
    summary = summary_line(result) + "\n"
    for path in termination_paths(settings.termination_message_path):
        write_file(path, summary)
    if settings.summary_file is not None:
        write_file(settings.summary_file, summary)


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
    print(f"drift-check {__version__}", file=progress_stream, flush=True)
    verbose = settings.verbose
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
    try:
        return parse_duration(text)
    except ValueError:
        raise DriftCheckError(
            f"--older-than: {text!r} is not a duration (e.g. 0, 90s, 15m, 6h, 1d)"
        ) from None


def _sweep(args: argparse.Namespace, settings: Settings) -> int:
    older_than = settings.orphan_ttl if args.older_than is None else _sweep_age(args.older_than)
    outcome = run_sweep(settings, older_than, dry_run=args.dry_run, log=print)
    servers = (
        f"{outcome.servers} orphaned throwaway server(s) {'found' if args.dry_run else 'reaped'}"
    )
    if not outcome.databases_swept:
        print(f"{servers}; no database server to sweep (POSTGRES_HOST not set)")
        return ExitCode.CLEAN
    line = f"{len(outcome.dropped)} leftover database(s) {'found' if args.dry_run else 'dropped'}"
    if outcome.failed:
        line += f", {len(outcome.failed)} could not be dropped"
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
        print(check_connection(settings))
    return ExitCode.CLEAN


def _summarise_failure(error: DriftCheckError, redact: Redactor) -> None:
    """Settings could not be loaded: still leave the summary where Kubernetes looks for it."""
    explicit = os.environ.get("DRIFT_TERMINATION_MESSAGE_PATH")
    result = CheckResult(status="error", exit_code=error.exit_code, message=redact(str(error)))
    for path in termination_paths(Path(explicit) if explicit else None):
        # Best effort, silently: the path may itself be the setting that was rejected.
        with contextlib.suppress(OSError):
            path.write_text(summary_line(result) + "\n", encoding="utf-8")


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the command, print its output; returns the exit code."""
    args = build_parser().parse_args(argv)
    redact = Redactor()
    streams = (sys.stdout, sys.stderr)
    sys.stderr = RedactingStream(sys.stderr, redact)  # free text only; stdout has the report
    settings: Settings | None = None
    try:
        settings = load_settings(_flags(args))
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
    in its thread, so the process ends without waiting for it."""
    code = run(argv)
    if any(t.name == BACKGROUND_THREAD and t.is_alive() for t in threading.enumerate()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code

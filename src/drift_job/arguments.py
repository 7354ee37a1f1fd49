"""The command line's arguments: every flag, and the settings key each one overrides."""

from __future__ import annotations

import argparse
from typing import NoReturn

import drift_job
from drift_job.errors import ExitCode
from drift_job.kubernetes_job.arguments import add_k8s_command

EXIT_CODES_HELP = """exit codes:
  0  no drift: the models match what the migrations build
  1  drift: the models and the migrations differ (the report says how), or
     --lint=error found risky statements in new revisions
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
    "compare": "DRIFT_COMPARE",
    "strict": "DRIFT_STRICT",
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
    "roundtrip": "DRIFT_ROUNDTRIP",
    "roundtrip_to": "DRIFT_ROUNDTRIP_TO",
    "base_revision": "DRIFT_BASE_REVISION",
    "base_ref": "DRIFT_BASE_REF",
    "heads": "DRIFT_HEADS",
    "lint": "DRIFT_LINT",
    "ignore_file": "DRIFT_IGNORE_FILE",
    "strict_ignores": "DRIFT_STRICT_IGNORES",
    "cache": "DRIFT_CACHE",
    "cache_keep": "DRIFT_CACHE_KEEP",
    "cache_dir": "DRIFT_CACHE_DIR",
}


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line and exit 2, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.BAD_INPUT, f"drift-check: {message} (see drift-check --help)\n")


class _Version(argparse.Action):
    """``--version``, looked up only when asked for (see drift_job.__getattr__)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> NoReturn:
        print(f"drift-check {drift_job.__version__}")
        parser.exit()


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


def _check_options(parser: argparse.ArgumentParser) -> None:
    """What a check is told; ``config`` takes them too, so a check's command line can be
    inspected by changing only the command."""
    parser.add_argument(
        "-x",
        dest="x",
        metavar="ARG",
        action="append",
        help="Alembic -x argument for env.py (repeatable; DRIFT_ALEMBIC_X)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_const", const="1", help="more detail (DRIFT_VERBOSE)"
    )
    parser.add_argument(
        "--compare",
        help="both (default: autogenerate and the catalog comparison) or autogenerate "
        "(what alembic check sees) (DRIFT_COMPARE)",
    )
    parser.add_argument(
        "--strict",
        action="store_const",
        const="1",
        help="objects the models cannot express (functions, views, triggers…) are drift "
        "(DRIFT_STRICT)",
    )
    parser.add_argument(
        "--format", help="text (default), json, markdown, junit, sarif or github (DRIFT_FORMAT)"
    )
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE (DRIFT_OUTPUT)")
    parser.add_argument(
        "--summary-file",
        metavar="FILE",
        help="write the one-line JSON summary to FILE (DRIFT_SUMMARY_FILE)",
    )
    parser.add_argument(
        "--base-revision",
        metavar="REV",
        help="revisions after REV are new: each must descend from it (DRIFT_BASE_REVISION)",
    )
    parser.add_argument(
        "--base-ref",
        metavar="GITREF",
        help="revisions not in the versions directory at this git ref (e.g. origin/main) are "
        "new: each must descend from its head (DRIFT_BASE_REF)",
    )
    parser.add_argument(
        "--heads", help="one (default: multiple heads are refused) or all (DRIFT_HEADS)"
    )
    parser.add_argument(
        "--lint",
        nargs="?",
        const="warn",
        help="data-safety lint of the new revisions: warn (the flag alone) or error "
        "(findings fail the check) (DRIFT_LINT, off)",
    )
    parser.add_argument(
        "--set-env",
        metavar="NAME=TEMPLATE",
        action="append",
        help="set NAME for env.py, e.g. DATABASE_URL={url} (repeatable; DRIFT_SET_ENV)",
    )
    parser.add_argument(
        "--url-env", metavar="NAME", help="env var that env.py reads its URL from (DRIFT_URL_ENV)"
    )
    parser.add_argument("--driver", help="DBAPI driver for the project's URL (DRIFT_DRIVER)")
    parser.add_argument(
        "--timeout", metavar="DURATION", help="overall deadline (DRIFT_TIMEOUT, 15m)"
    )
    parser.add_argument(
        "--roundtrip",
        action="store_const",
        const="1",
        help="also downgrade each revision and upgrade again, comparing the schema at each "
        "step (DRIFT_ROUNDTRIP)",
    )
    parser.add_argument(
        "--roundtrip-to",
        metavar="REV",
        help="downgrade only down to this revision (DRIFT_ROUNDTRIP_TO, base)",
    )
    parser.add_argument(
        "--roundtrip-skip",
        metavar="REV=REASON",
        action="append",
        help="never downgrade REV, irreversible on purpose (repeatable; DRIFT_ROUNDTRIP_SKIP)",
    )
    parser.add_argument(
        "--report",
        metavar="FORMAT:FILE",
        action="append",
        help="also write a report in FORMAT to FILE, e.g. junit:out.xml (repeatable; DRIFT_REPORT)",
    )
    parser.add_argument(
        "--ignore-file",
        metavar="FILE",
        help="more ignore rules ([[ignore]] tables) (DRIFT_IGNORE_FILE)",
    )
    parser.add_argument(
        "--strict-ignores",
        action="store_const",
        const="1",
        help="expired or unused ignore rules are errors (DRIFT_STRICT_IGNORES)",
    )
    parser.add_argument(
        "--orphan-ttl",
        metavar="DURATION",
        help="sweep our leftovers older than this first (DRIFT_ORPHAN_TTL, 6h)",
    )
    _cache_options(parser)


def _cache_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("migration cache (see README: The migration cache)")
    group.add_argument(
        "--cache",
        action="store_const",
        const="1",
        help="reuse the migrated database of an earlier run, kept on the server (DRIFT_CACHE)",
    )
    group.add_argument(
        "--cache-keep", metavar="N", help="templates kept per project (DRIFT_CACHE_KEEP, 3)"
    )
    group.add_argument(
        "--cache-key-path",
        metavar="PATH",
        action="append",
        help="a file or directory the migrations import; its bytes join the cache key "
        "(repeatable; DRIFT_CACHE_KEY_PATHS)",
    )
    group.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="keep dumps of migrated databases here, for servers that are new every run "
        "(DRIFT_CACHE_DIR)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="drift-check",
        description="Fail when SQLAlchemy/SQLModel models and Alembic migrations disagree.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action=_Version, nargs=0, help="show program's version number and exit"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = commands.add_parser(
        "check",
        help="migrate a temporary database and compare it with the models",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(check)
    _alembic_name(check)
    _check_options(check)
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
    sweep.add_argument(
        "--cache",
        dest="sweep_cache",
        action="store_true",
        help="also drop the migration cache's templates (and nothing else of ours)",
    )

    config = commands.add_parser(
        "config",
        help="print the effective settings (password redacted); takes check's options too",
    )
    _common(config)
    _alembic_name(config)
    _check_options(config)
    config.add_argument(
        "--check-connection",
        action="store_true",
        help="also connect and confirm the role may create databases",
    )
    add_k8s_command(commands)
    return parser


def flags_of(args: argparse.Namespace) -> dict[str, str | None]:
    flags = {key: getattr(args, dest, None) for dest, key in FLAG_KEYS.items()}
    if getattr(args, "set_env", None):
        flags["DRIFT_SET_ENV"] = "\n".join(args.set_env)
    if getattr(args, "report", None):
        flags["DRIFT_REPORT"] = "\n".join(args.report)
    if getattr(args, "x", None):
        flags["DRIFT_ALEMBIC_X"] = "\n".join(args.x)
    if getattr(args, "roundtrip_skip", None):
        flags["DRIFT_ROUNDTRIP_SKIP"] = "\n".join(args.roundtrip_skip)
    if getattr(args, "cache_key_path", None):
        flags["DRIFT_CACHE_KEY_PATHS"] = "\n".join(args.cache_key_path)
    return flags

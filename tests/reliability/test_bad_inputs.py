"""The bad-input catalogue, every case through the real command line against a real server.

Each case must end with its exit code (2, or 4 for a migration that fails to load), exactly
one line on stderr that names the key, file or revision at fault, no traceback, no leftover
database, and, when the problem is detectable before the database stage, no CREATE DATABASE
at all: the servers log every DDL statement, and each case runs with its own database name
prefix, so the log proves whether the case created a database.

The cases run concurrently (they are independent processes) in one module-scoped fixture;
each case is then reported as its own test.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import servers
from projects import MODELS, VERSIONS, add_migration, patch

from .reliability_support import (
    ENV_PY,
    MIGRATIONS,
    STATS,
    Result,
    copy_reference_app,
    query,
    run,
)

#: (extra arguments, environment changes; None removes the variable)
Setup = tuple[list[str], dict[str, str | None]]
Builder = Callable[[Path, Path], Setup]
DEFAULT_ENV_FILE = ".env.k8s.development"


@dataclass(frozen=True)
class Case:
    id: str
    build: Builder
    code: int
    expected: str
    creates_database: bool = False
    command: tuple[str, ...] = ("check",)
    skip_reason: str | None = None


def env(**changes: str | None) -> Builder:
    return lambda project, tmp: ([], dict(changes))


def flags(*arguments: str) -> Builder:
    return lambda project, tmp: (list(arguments), {})


def project_change(change: Callable[[Path], object]) -> Builder:
    def build(project: Path, tmp: Path) -> Setup:
        change(project)
        return [], {}

    return build


def _file(tmp: Path, name: str, content: bytes | str) -> Path:
    path = tmp / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def secret_file(key: str, content: bytes | str | None, *, keep_value: bool = False) -> Builder:
    """``<key>_FILE`` pointing at a file with ``content`` (None: a directory)."""

    def build(project: Path, tmp: Path) -> Setup:
        if content is None:
            path = tmp / f"{key.lower()}-dir"
            path.mkdir()
        else:
            path = _file(tmp, key.lower(), content)
        changes: dict[str, str | None] = {f"{key}_FILE": str(path)}
        if not keep_value:
            changes[key] = None
        return [], changes

    return build


def password_file(content: bytes | str | None, *, keep_password: bool = False) -> Builder:
    return secret_file("POSTGRES_PASSWORD", content, keep_value=keep_password)


def missing_secret_file(key: str) -> Builder:
    return lambda project, tmp: ([], {key: None, f"{key}_FILE": str(tmp / "no-such-file")})


def unreadable(tmp: Path, name: str) -> Path:
    path = _file(tmp, name, "POSTGRES_USER=postgres\n")
    path.chmod(0)
    return path


def env_file(
    content: bytes | str | None, *, name: str = "settings.env", flag: bool = False
) -> Builder:
    """An env file named by DRIFT_ENV_FILE (or --env-file); None: a directory."""

    def build(project: Path, tmp: Path) -> Setup:
        if content is None:
            path = tmp / name
            path.mkdir()
        else:
            path = _file(tmp, name, content)
        if flag:
            return ["--env-file", str(path)], {}
        return [], {"DRIFT_ENV_FILE": str(path)}

    return build


def password_file_at(path: str) -> Builder:
    return lambda project, tmp: ([], {"POSTGRES_PASSWORD": None, "POSTGRES_PASSWORD_FILE": path})


def fifo_case(kind: str) -> Builder:
    """A FIFO nobody writes to: reading it would hang the run."""

    def build(project: Path, tmp: Path) -> Setup:
        path = tmp / f"{kind}-fifo"
        os.mkfifo(path)
        if kind == "password":
            return [], {"POSTGRES_PASSWORD": None, "POSTGRES_PASSWORD_FILE": str(path)}
        return [], {"DRIFT_ENV_FILE": str(path)}

    return build


def env_file_nul(key: str) -> Builder:
    """``key`` only in an env file, with a NUL byte in its value."""

    def build(project: Path, tmp: Path) -> Setup:
        path = _file(tmp, "nul.env", f"{key}=before\0after\n")
        return [], {key: None, "DRIFT_ENV_FILE": str(path)}

    return build


def default_env_file(content: str) -> Builder:
    def build(project: Path, tmp: Path) -> Setup:
        _file(project, DEFAULT_ENV_FILE, content)
        return [], {}

    return build


def unreadable_file_case(kind: str) -> Builder:
    def build(project: Path, tmp: Path) -> Setup:
        path = unreadable(tmp, f"unreadable-{kind}")
        if kind == "password":
            return [], {"POSTGRES_PASSWORD": None, "POSTGRES_PASSWORD_FILE": str(path)}
        return [], {"DRIFT_ENV_FILE": str(path)}

    return build


def under_a_file(option: str, *, as_env: bool = False) -> Builder:
    """An output path below a regular file (root can write anywhere else)."""

    def build(project: Path, tmp: Path) -> Setup:
        regular = _file(tmp, "regular-file", "not a directory\n")
        target = str(regular / "report.json")
        if as_env:
            return [], {option: target}
        return [option, target], {}

    return build


def write(relative: Path | str, text: str) -> Callable[[Path], None]:
    return lambda project: (project / relative).write_text(text)


def _import_missing_package(project: Path) -> None:
    path = add_migration(project, "0007", "0006", "pass")
    path.write_text("import no_such_package_in_0007\n" + path.read_text())


ROOT = os.geteuid() == 0
ROOT_READS_ANYTHING = (
    "running as root, which reads a chmod 000 file anyway; the unreadable case is covered by "
    "a directory and by invalid UTF-8 in its place"
)

CASES = [
    # -- server and credentials ----------------------------------------------------------------
    Case("user missing", env(POSTGRES_USER=None), 2, "POSTGRES_USER"),
    Case(
        "no server at all (sweep --older-than bad)",
        env(
            POSTGRES_HOST=None,
            POSTGRES_USER=None,
            POSTGRES_PORT=None,
            POSTGRES_PASSWORD=None,
            POSTGRES_DB=None,
        ),
        2,
        "--older-than",
        command=("sweep", "--older-than", "later"),
    ),
    Case(
        "host missing (config --check-connection)",
        env(POSTGRES_HOST=None),
        2,
        "POSTGRES_HOST",
        command=("config", "--check-connection"),
    ),
    Case("port not numeric", env(POSTGRES_PORT="abc"), 2, "POSTGRES_PORT"),
    Case("port out of range", env(POSTGRES_PORT="70000"), 2, "POSTGRES_PORT"),
    Case("port zero", env(POSTGRES_PORT="0"), 2, "POSTGRES_PORT"),
    Case("port negative", env(POSTGRES_PORT="-1"), 2, "POSTGRES_PORT"),
    Case("port flag not numeric", flags("--port", "54x"), 2, "POSTGRES_PORT"),
    Case("sslmode unknown", env(POSTGRES_SSLMODE="sometimes"), 2, "POSTGRES_SSLMODE"),
    Case("sslmode flag unknown", flags("--sslmode", "yes"), 2, "POSTGRES_SSLMODE"),
    Case(
        "password and password file",
        password_file("secret\n", keep_password=True),
        2,
        "POSTGRES_PASSWORD_FILE are exclusive",
    ),
    Case(
        "password file missing",
        missing_secret_file("POSTGRES_PASSWORD"),
        2,
        "POSTGRES_PASSWORD_FILE",
    ),
    Case("password file is a directory", password_file(None), 2, "POSTGRES_PASSWORD_FILE"),
    Case("password file not UTF-8", password_file(b"\xff\xfe\xfa\n"), 2, "POSTGRES_PASSWORD_FILE"),
    Case("password file empty", password_file(""), 2, "POSTGRES_PASSWORD_FILE"),
    Case("password file only a newline", password_file("\n"), 2, "POSTGRES_PASSWORD_FILE"),
    Case(
        "password file unreadable (chmod 000)",
        unreadable_file_case("password"),
        2,
        "POSTGRES_PASSWORD_FILE",
        skip_reason=ROOT_READS_ANYTHING if ROOT else None,
    ),
    Case(
        "user and user file",
        secret_file("POSTGRES_USER", "postgres\n", keep_value=True),
        2,
        "POSTGRES_USER_FILE are exclusive",
    ),
    Case("user file missing", missing_secret_file("POSTGRES_USER"), 2, "POSTGRES_USER_FILE"),
    Case("user file empty", secret_file("POSTGRES_USER", "\n"), 2, "POSTGRES_USER_FILE"),
    Case("wrong password", env(POSTGRES_PASSWORD="not-the-password"), 2, "password authentication"),
    Case("unknown role", env(POSTGRES_USER="nobody_here"), 2, "nobody_here"),
    Case("maintenance database missing", env(DRIFT_MAINTENANCE_DB="no_such_db"), 2, "no_such_db"),
    Case(
        "server settings without a host",
        env(POSTGRES_HOST=None),
        2,
        "POSTGRES_HOST: not set, but POSTGRES_USER, POSTGRES_PORT, POSTGRES_PASSWORD, POSTGRES_DB",
    ),
    Case(
        "embedded server and a host",
        env(DRIFT_SERVER="embedded"),
        2,
        "DRIFT_SERVER: embedded (environment) conflicts with POSTGRES_HOST",
    ),
    Case("password file is a device", password_file_at("/dev/zero"), 2, "/dev/zero"),
    Case("password file is a FIFO", fifo_case("password"), 2, "(a FIFO)"),
    Case(
        "password with a NUL byte in the env file",
        env_file_nul("POSTGRES_PASSWORD"),
        2,
        "POSTGRES_PASSWORD: contains a NUL byte (from the env file)",
    ),
    # -- env files -----------------------------------------------------------------------------
    Case("env file missing (DRIFT_ENV_FILE)", env(DRIFT_ENV_FILE="missing.env"), 2, "missing.env"),
    Case("env file missing (--env-file)", flags("--env-file", "gone.env"), 2, "gone.env"),
    Case("env file is a directory", env_file(None, name="env-dir"), 2, "env-dir"),
    Case("env file is /dev/zero", flags("--env-file", "/dev/zero"), 2, "/dev/zero"),
    Case("env file is a FIFO", fifo_case("env"), 2, "(a FIFO)"),
    Case(
        "env file larger than 1 MiB",
        env_file("# padding\n" * 110_000, name="huge.env"),
        2,
        "huge.env: is larger than 1 MiB",
    ),
    Case("env file with a NUL byte", env_file_nul("DRIFT_DB_PREFIX"), 2, "DRIFT_DB_PREFIX"),
    Case(
        "env file not UTF-8",
        env_file(b"POSTGRES_USER=\xff\xfe\n", name="latin.env"),
        2,
        "latin.env",
    ),
    Case(
        "env file unreadable (chmod 000)",
        unreadable_file_case("env"),
        2,
        "unreadable-env",
        skip_reason=ROOT_READS_ANYTHING if ROOT else None,
    ),
    Case(
        "env file with a malformed line",
        env_file("DRIFT_FORMAT=text\nthis is not a setting\n", name="malformed.env"),
        2,
        "line 2",
    ),
    Case(
        "env file with a duplicate key",
        env_file("DRIFT_FORMAT=text\nDRIFT_FORMAT=json\n", name="twice.env", flag=True),
        2,
        "DRIFT_FORMAT is set twice",
    ),
    Case(
        "default env file with a malformed line",
        default_env_file("DRIFT_FORMAT=text\n=no key\n"),
        2,
        DEFAULT_ENV_FILE,
    ),
    Case(
        "env file with a bad value",
        env_file("DRIFT_FORMAT=yaml\n", name="value.env"),
        2,
        "DRIFT_FORMAT",
    ),
    # -- database name prefix ------------------------------------------------------------------
    Case("prefix uppercase", env(DRIFT_DB_PREFIX="Drift"), 2, "DRIFT_DB_PREFIX"),
    Case("prefix with a quote", env(DRIFT_DB_PREFIX="drift'x"), 2, "DRIFT_DB_PREFIX"),
    Case("prefix with a semicolon", env(DRIFT_DB_PREFIX="drift;drop"), 2, "DRIFT_DB_PREFIX"),
    Case("prefix too long", env(DRIFT_DB_PREFIX="d" * 31), 2, "DRIFT_DB_PREFIX"),
    Case("prefix starting with a digit", env(DRIFT_DB_PREFIX="1drift"), 2, "DRIFT_DB_PREFIX"),
    Case("prefix with a dash", env(DRIFT_DB_PREFIX="drift-check"), 2, "DRIFT_DB_PREFIX"),
    Case("prefix flag", flags("--prefix", "Bad;Prefix"), 2, "DRIFT_DB_PREFIX"),
    # -- durations -----------------------------------------------------------------------------
    Case("orphan ttl in words", env(DRIFT_ORPHAN_TTL="six hours"), 2, "DRIFT_ORPHAN_TTL"),
    Case("orphan ttl zero", env(DRIFT_ORPHAN_TTL="0"), 2, "DRIFT_ORPHAN_TTL"),
    Case("orphan ttl flag negative", flags("--orphan-ttl=-1h"), 2, "DRIFT_ORPHAN_TTL"),
    Case("timeout negative", env(DRIFT_TIMEOUT="-5"), 2, "DRIFT_TIMEOUT"),
    Case("timeout unknown unit", env(DRIFT_TIMEOUT="15x"), 2, "DRIFT_TIMEOUT"),
    Case("timeout flag in words", flags("--timeout", "soon"), 2, "DRIFT_TIMEOUT"),
    Case(
        "connect timeout unknown unit", env(DRIFT_CONNECT_TIMEOUT="1x"), 2, "DRIFT_CONNECT_TIMEOUT"
    ),
    Case("connect timeout zero", flags("--connect-timeout", "0s"), 2, "DRIFT_CONNECT_TIMEOUT"),
    # -- other settings ------------------------------------------------------------------------
    Case("format unknown (DRIFT_FORMAT)", env(DRIFT_FORMAT="yaml"), 2, "DRIFT_FORMAT"),
    Case("format unknown (--format)", flags("--format", "xml"), 2, "DRIFT_FORMAT"),
    Case("driver unknown", env(DRIFT_DRIVER="odbc"), 2, "DRIFT_DRIVER"),
    Case("server kind unknown", env(DRIFT_SERVER="remote"), 2, "DRIFT_SERVER"),
    Case("python missing", flags("--python", "/nonexistent/python"), 2, "DRIFT_PYTHON"),
    Case("worker memory too small", env(DRIFT_WORKER_MEMORY="16M"), 2, "DRIFT_WORKER_MEMORY"),
    Case("control character in a flag", flags("--host", "db\x1b[2J"), 2, "POSTGRES_HOST"),
    Case("url env not a variable name", env(DRIFT_URL_ENV="not a name"), 2, "DRIFT_URL_ENV"),
    Case("set-env unknown field", env(DRIFT_SET_ENV="DATABASE_URL={uri}"), 2, "DRIFT_SET_ENV"),
    Case("set-env without =", env(DRIFT_SET_ENV="no-equals-sign"), 2, "DRIFT_SET_ENV"),
    Case("set-env malformed template", flags("--set-env", "DATABASE_URL={url"), 2, "DRIFT_SET_ENV"),
    Case("set-env bad variable name", flags("--set-env", "1X={url}"), 2, "DRIFT_SET_ENV"),
    Case(
        "project dir missing", env(DRIFT_PROJECT_DIR="/nonexistent-project"), 2, "DRIFT_PROJECT_DIR"
    ),
    # -- output targets ------------------------------------------------------------------------
    Case(
        "output in a missing directory",
        flags("--output", "/nonexistent-dir/r.json"),
        2,
        "DRIFT_OUTPUT",
    ),
    Case("output below a regular file", under_a_file("--output"), 2, "DRIFT_OUTPUT"),
    Case(
        "output below a regular file (DRIFT_OUTPUT)",
        under_a_file("DRIFT_OUTPUT", as_env=True),
        2,
        "DRIFT_OUTPUT",
    ),
    Case(
        "summary file below a regular file", under_a_file("--summary-file"), 2, "DRIFT_SUMMARY_FILE"
    ),
    Case(
        "termination message path below a regular file",
        under_a_file("DRIFT_TERMINATION_MESSAGE_PATH", as_env=True),
        2,
        "DRIFT_TERMINATION_MESSAGE_PATH",
    ),
    # -- command line --------------------------------------------------------------------------
    Case("unknown flag", flags("--no-such-flag"), 2, "--no-such-flag"),
    Case("flag without its value", flags("--port"), 2, "--port"),
    Case("unknown subcommand", env(), 2, "frobnicate", command=("frobnicate",)),
    Case("no subcommand", env(), 2, "command", command=()),
    Case(
        "sweep --older-than in words",
        flags("--older-than", "soon"),
        2,
        "--older-than",
        command=("sweep",),
    ),
    Case(
        "sweep --older-than negative",
        flags("--older-than", "-1"),
        2,
        "--older-than",
        command=("sweep",),
    ),
    # -- the Alembic project -------------------------------------------------------------------
    Case("alembic.ini missing (-c)", flags("-c", "missing.ini"), 2, "missing.ini"),
    Case("alembic.ini missing (ALEMBIC_CONFIG)", env(ALEMBIC_CONFIG="other.ini"), 2, "other.ini"),
    Case(
        "alembic.ini without script_location",
        project_change(write("alembic.ini", "[alembic]\nprepend_sys_path = examples\n")),
        2,
        "script_location",
    ),
    Case(
        "script_location pointing nowhere",
        project_change(write("alembic.ini", "[alembic]\nscript_location = nowhere\n")),
        2,
        "nowhere",
    ),
    Case(
        "alembic.ini that is not an ini file",
        project_change(write("alembic.ini", "this is not [an ini\n")),
        2,
        "alembic.ini",
    ),
    Case("env.py missing", project_change(lambda p: (p / ENV_PY).unlink()), 2, "env.py"),
    Case(
        "env.py raising on import",
        project_change(write(ENV_PY, "raise RuntimeError('configuration exploded')\n")),
        2,
        "configuration exploded",
        creates_database=True,
    ),
    Case(
        "env.py with a syntax error",
        project_change(write(ENV_PY, "def broken(:\n")),
        2,
        "env.py",
    ),
    Case(
        "target_metadata None",
        project_change(
            lambda p: patch(
                p, ENV_PY, "target_metadata = SQLModel.metadata", "target_metadata = None"
            )
        ),
        2,
        "MetaData",
        creates_database=True,
    ),
    Case(
        "models import raising",
        project_change(write(MODELS, "raise ImportError('models exploded on import')\n")),
        2,
        "models exploded on import",
        creates_database=True,
    ),
    Case(
        "models importing a missing module",
        project_change(write(MODELS, "import no_such_module_for_models\n")),
        2,
        "no_such_module_for_models",
        creates_database=True,
    ),
    Case(
        "migration with a syntax error",
        project_change(lambda p: add_migration(p, "0007", "0006", "def broken(:")),
        4,
        "0007_test_change.py",
    ),
    Case(
        "migration importing a missing package",
        project_change(_import_missing_package),
        2,  # the interpreter lacks a package: run it where the project is installed
        "0007_test_change.py failed to load: ModuleNotFoundError",
    ),
    Case(
        "duplicate revision id",
        project_change(lambda p: add_migration(p, "0006", "0005", "pass")),
        2,
        "0006",
    ),
    Case(
        "down_revision pointing nowhere",
        project_change(lambda p: add_migration(p, "0007", "9999", "pass")),
        2,
        "9999",
    ),
    Case(
        "multiple heads",
        project_change(lambda p: add_migration(p, "0007", "0005", "pass")),
        2,
        "0007_test_change.py",
    ),
    Case(
        "revision cycle",
        project_change(
            lambda p: patch(
                p,
                VERSIONS / "0001_authors_and_books.py",
                "down_revision: str | Sequence[str] | None = None",
                'down_revision = "0006"',
            )
        ),
        2,
        "migration graph",
    ),
    Case(
        "script_location is a file",
        project_change(
            lambda p: (p / "alembic.ini").write_text(
                f"[alembic]\nscript_location = {MIGRATIONS / 'env.py'}\n"
            )
        ),
        2,
        "env.py",
    ),
]


@dataclass
class Outcome:
    case: Case
    prefix: str
    result: Result
    created: list[str]
    dropped: list[str]
    leftovers: list[str]


def _server_log(server: Any) -> str:
    path = server.server.workdir / "server.log"
    return str(path.read_text(errors="replace"))


def _run_case(index: int, case: Case, server: Any, root: Path) -> Outcome:
    case_dir = root / f"case{index:02d}"
    project = copy_reference_app(case_dir / "project")
    tmp = case_dir / "tmp"
    tmp.mkdir()
    prefix = f"bad{index:02d}"
    arguments, changes = case.build(project, tmp)
    environment = server.env(DRIFT_DB_PREFIX=prefix)
    for key, value in changes.items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    result = run(*case.command, *arguments, env=environment, cwd=project, timeout=120)
    STATS.bad_input(case.id)
    return Outcome(case, prefix, result, [], [], [])


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Outcome]]:

    server = servers.server(18)
    root = tmp_path_factory.mktemp("bad-inputs")
    selected = {
        item.callspec.params["case"].id
        for item in request.session.items
        if hasattr(item, "callspec") and isinstance(item.callspec.params.get("case"), Case)
    }
    runnable = [
        (i, case)
        for i, case in enumerate(CASES)
        if case.skip_reason is None and case.id in selected
    ]
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(_run_case, i, case, server, root) for i, case in runnable]
        done = [future.result() for future in futures]
    log = _server_log(server)
    for outcome in done:
        pattern = re.compile(rf'(CREATE|DROP) DATABASE (?:IF EXISTS )?"({outcome.prefix}_\w+)"')
        for verb, name in pattern.findall(log):
            (outcome.created if verb == "CREATE" else outcome.dropped).append(name)
        rows = query(
            server,
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            (outcome.prefix + r"\_%",),
        )
        outcome.leftovers = [str(row[0]) for row in rows]
    yield {outcome.case.id: outcome for outcome in done}


def test_the_catalogue_is_big_enough() -> None:
    assert len({case.id for case in CASES}) == len(CASES)
    assert len([case for case in CASES if case.skip_reason is None]) >= 30


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in CASES])
def test_bad_input(case: Case, outcomes: dict[str, Outcome]) -> None:
    if case.skip_reason:
        pytest.skip(case.skip_reason)
    outcome = outcomes[case.id]
    result = outcome.result
    assert result.code == case.code, result.describe()
    lines = result.stderr_lines
    assert len(lines) == 1, f"expected one line on stderr:\n{result.describe()}"
    assert lines[0].startswith("drift-check: "), lines[0]
    assert case.expected in lines[0], lines[0]
    assert "Traceback" not in result.output, result.describe()
    assert outcome.leftovers == [], outcome.leftovers
    if case.creates_database:
        # The migrated database, and the models' one for the catalog pass: all dropped.
        assert 1 <= len(outcome.created) <= 2, (outcome.created, result.describe())
        assert sorted(outcome.dropped) == sorted(outcome.created)
    else:
        assert outcome.created == [], f"created a database for bad input: {outcome.created}"

"""Bad projects and command lines: each gives its exit code, one line naming the culprit,
no traceback, and (before the database stage) no database at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from projects import MODELS, VERSIONS, add_migration, patch
from servers import PostgresServer, drift_check

MIGRATIONS = Path("examples/bookshop/migrations")


def _rewrite(relative: Path | str, text: str) -> Callable[[Path], None]:
    return lambda project: (project / relative).write_text(text)


def _remove(relative: Path | str) -> Callable[[Path], None]:
    return lambda project: (project / relative).unlink()


CASES: dict[str, tuple[Callable[[Path], None], int, str, bool]] = {
    # name: (change, exit code, text the one-line message must contain, creates a database)
    "alembic.ini without script_location": (
        _rewrite("alembic.ini", "[alembic]\nprepend_sys_path = examples\n"),
        2,
        "script_location",
        False,
    ),
    "script_location pointing nowhere": (
        _rewrite("alembic.ini", "[alembic]\nscript_location = nowhere\n"),
        2,
        "nowhere",
        False,
    ),
    "alembic.ini that is not an ini file": (
        _rewrite("alembic.ini", "this is not [an ini\n"),
        2,
        "alembic.ini",
        False,
    ),
    "env.py missing": (_remove(MIGRATIONS / "env.py"), 2, "env.py", False),
    "migration with a syntax error": (
        lambda p: add_migration(p, "0007", "0006", "def broken(:"),
        4,
        "0007_test_change.py",
        False,
    ),
    "duplicate revision id": (lambda p: add_migration(p, "0006", "0005", "pass"), 2, "0006", False),
    "down_revision pointing nowhere": (
        lambda p: add_migration(p, "0007", "9999", "pass"),
        2,
        "9999",
        False,
    ),
    "revision cycle": (
        lambda p: patch(
            p,
            VERSIONS / "0001_authors_and_books.py",
            "down_revision: str | Sequence[str] | None = None",
            'down_revision = "0006"',
        ),
        2,
        "migration graph",
        False,
    ),
    "migration importing a missing package": (
        lambda p: add_migration(p, "0007", "0006", "pass").write_text(
            "import no_such_package\n" + (p / VERSIONS / "0007_test_change.py").read_text()
        ),
        2,
        "DRIFT_PYTHON (--python)",
        False,
    ),
    "env.py with a syntax error": (
        _rewrite(MIGRATIONS / "env.py", "def broken(:\n"),
        2,
        "env.py",
        False,
    ),
    "env.py raising on import": (
        _rewrite(MIGRATIONS / "env.py", "raise RuntimeError('configuration exploded')\n"),
        2,
        "configuration exploded",
        True,
    ),
    "models that fail to import": (
        lambda p: (p / MODELS).write_text("import no_such_module_for_models\n"),
        2,
        "no_such_module_for_models",
        True,
    ),
    "target_metadata None": (
        lambda p: patch(
            p,
            MIGRATIONS / "env.py",
            "target_metadata = SQLModel.metadata",
            "target_metadata = None",
        ),
        2,
        "MetaData",
        True,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_project(pg_server: PostgresServer, project: Path, case: str) -> None:
    change, code, expected, creates_database = CASES[case]
    change(project)
    run = drift_check("check", env=pg_server.env(), cwd=project)
    assert run.code == code, run.output
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("drift-check: ")
    assert expected in lines[0], lines[0]
    assert "Traceback" not in run.output
    assert ("  database " in run.stdout) == creates_database


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["check", "--no-such-flag"], "--no-such-flag"),
        (["check", "--format", "xml"], "DRIFT_FORMAT"),
        (["check", "--output", "/nonexistent-dir/x.json"], "DRIFT_OUTPUT"),
        (["check", "--prefix", "Bad;Prefix"], "DRIFT_DB_PREFIX"),
        (["check", "--env-file", "missing.env"], "missing.env"),
        (["check", "-c", "missing.ini"], "ALEMBIC_CONFIG"),
        (["frobnicate"], "frobnicate"),
        (["sweep", "--older-than", "soon"], "--older-than"),
        (["check", "--python", "/nonexistent/bin/python"], "DRIFT_PYTHON"),
        (["check", "--env-file", "/dev/zero"], "env file /dev/zero: is not a regular file"),
        (["config", "--host", "db\x01"], "POSTGRES_HOST: contains a control character"),
    ],
)
def test_bad_command_line(
    pg_server: PostgresServer, project: Path, args: list[str], expected: str
) -> None:
    run = drift_check(*args, env=pg_server.env(), cwd=project)
    assert run.code == 2, run.output
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert expected in lines[0]
    assert "Traceback" not in run.output


def test_debug_shows_the_traceback_without_the_password(
    pg_server: PostgresServer, project: Path
) -> None:
    (project / MODELS).write_text("raise RuntimeError('models exploded')\n")
    run = drift_check("check", "--debug", env=pg_server.env(), cwd=project)
    assert run.code == 2
    assert "Traceback" in run.stderr
    assert pg_server.password not in run.output


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"POSTGRES_HOST": None}, "POSTGRES_HOST: not set, but POSTGRES_USER, POSTGRES_PORT"),
        ({"DRIFT_SERVER": "embedded"}, "DRIFT_SERVER: embedded (environment) conflicts with"),
        ({"DRIFT_SERVER": "local"}, "DRIFT_SERVER: 'local' is not one of embedded, configured"),
        ({"DRIFT_WORKER_MEMORY": "32M"}, "DRIFT_WORKER_MEMORY: '32M' is less than the minimum"),
        ({"DRIFT_WORKER_MEMORY": "much"}, "DRIFT_WORKER_MEMORY: 'much' is not a size"),
        ({"DRIFT_PYTHON": "no-such-python-here"}, "DRIFT_PYTHON: 'no-such-python-here'"),
        ({"DRIFT_VERBOSE": "loud"}, "DRIFT_VERBOSE: 'loud'"),
        ({"POSTGRES_PASSWORD": None, "POSTGRES_PASSWORD_FILE": "/dev/zero"}, "/dev/zero"),
        ({"DRIFT_DB_PREFIX": "drift\x7f"}, "DRIFT_DB_PREFIX: contains a control character"),
    ],
    ids=lambda value: value if isinstance(value, str) else "-".join(value),
)
def test_bad_settings_in_the_environment(
    pg_server: PostgresServer, project: Path, changes: dict[str, str | None], expected: str
) -> None:
    env = pg_server.env()
    for key, value in changes.items():
        if value is None:
            env.pop(key)
        else:
            env[key] = value
    run = drift_check("check", env=env, cwd=project, timeout=60)
    assert run.code == 2, run.output
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert expected in lines[0], lines[0]
    assert pg_server.password not in run.output
    assert "  database " not in run.stdout

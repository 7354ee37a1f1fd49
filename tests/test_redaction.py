"""Short and common passwords never mangle the output, and are still never printed where a
password stands (URLs, ``password=…``, quoted literals).

Reports are built from values that do not hold the password, so a password of ``0``, ``e``
or ``x`` cannot turn ``"exit_code": 1`` or ``op.drop_index`` into garbage. Free text (the
project's exceptions and output) is redacted in credential contexts whatever the password.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from projects import add_migration, patch
from servers import PostgresServer, drift_check

SHORT_PASSWORDS = ["0", "1", "e", "x", "postgres", "a"]
ENV_PY = Path("examples/bookshop/migrations/env.py")
ONLINE = 'def run_migrations_online() -> None:\n    """Run migrations in \'online\' mode, on a shared connection or a fresh engine."""\n'


@pytest.fixture
def role(pg_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    name, password = f"short_{secrets.token_hex(4)}", str(request.param)
    pg_server.query(f"CREATE ROLE {name} LOGIN CREATEDB PASSWORD %s", (password,))
    yield name, password
    pg_server.query(f"DROP ROLE IF EXISTS {name}")


def _drifted(project: Path) -> None:
    """An index the migrations make and the models lack: the fix is op.drop_index(...)."""
    add_migration(project, "0007", "0006", 'op.create_index("ix_extra_title", "books", ["title"])')


def _outputs(tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    summary, termination = tmp_path / "summary.json", tmp_path / "termination.log"
    return ["--summary-file", str(summary)], {"DRIFT_TERMINATION_MESSAGE_PATH": str(termination)}


@pytest.mark.parametrize("role", SHORT_PASSWORDS, indirect=True, ids=lambda p: f"password {p!r}")
def test_short_passwords_leave_every_report_intact(
    pg_server: PostgresServer, project: Path, tmp_path: Path, role: tuple[str, str]
) -> None:
    name, password = role
    _drifted(project)
    reference = drift_check("check", "--format", "json", env=pg_server.env(), cwd=project)
    expected_fix = json.loads(reference.stdout)["suggested_migration"]
    assert "op.drop_index" in expected_fix
    args, files = _outputs(tmp_path)
    env = pg_server.env(POSTGRES_USER=name, POSTGRES_PASSWORD=password, **files)
    run = drift_check("check", "--format", "json", *args, env=env, cwd=project)
    assert run.code == 1, run.output
    report = json.loads(run.stdout)
    assert report["exit_code"] == 1 and report["status"] == "drift"
    assert report["suggested_migration"] == expected_fix
    assert re.fullmatch(r"drift_check_\d{14}_[0-9a-f]{8}", report["temporary_database"])
    assert report["server"] == f"127.0.0.1:{pg_server.port}"
    for path in files.values():
        assert json.loads(Path(path).read_text())["exit_code"] == 1
    assert json.loads((tmp_path / "summary.json").read_text())["differences"] == 1
    junit = drift_check("check", "--format", "junit", env=env, cwd=project)
    assert junit.code == 1, junit.output
    suite = ElementTree.fromstring(junit.stdout)
    assert suite.get("failures") == "1"
    markdown = drift_check("check", "--format", "markdown", env=env, cwd=project)
    assert expected_fix.splitlines()[0] in markdown.stdout


@pytest.mark.parametrize("role", ["0", "e"], indirect=True, ids=lambda p: f"password {p!r}")
def test_short_passwords_are_still_hidden_where_a_password_stands(
    pg_server: PostgresServer, project: Path, role: tuple[str, str]
) -> None:
    name, password = role
    patch(
        project,
        ENV_PY,
        ONLINE,
        ONLINE
        + '    url = config.get_main_option("sqlalchemy.url")\n'
        + f'    print("connecting with password={password} and PGPASSWORD={password}")\n'
        + "    raise RuntimeError(url)\n",
    )
    env = pg_server.env(POSTGRES_USER=name, POSTGRES_PASSWORD=password)
    run = drift_check("check", "--format", "json", env=env, cwd=project)
    assert run.code == 2, run.output
    message = json.loads(run.stdout)["message"]
    assert f"postgresql+psycopg2://{name}:***@127.0.0.1:{pg_server.port}/" in message, message
    assert f"password={password} " not in run.stderr
    assert "password=*** and PGPASSWORD=***" in run.stderr, run.stderr


def test_config_shows_a_user_named_like_the_password(project: Path) -> None:
    env = {
        "POSTGRES_HOST": "db.example",
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "postgres",
    }
    run = drift_check("config", env=env, cwd=project)
    assert run.code == 0, run.output
    assert "POSTGRES_USER=postgres" in run.stdout
    assert re.search(r"POSTGRES_PASSWORD=\*\*\*", run.stdout)


def test_the_worker_environment_holds_no_password_it_does_not_read(
    pg_server: PostgresServer, project: Path
) -> None:
    """The reference app takes its connection from drift-check: its code never sees the
    password, even in its environment (where a subprocess could print it)."""
    patch(
        project,
        ENV_PY,
        ONLINE,
        ONLINE  # the variable's name is spelt in two halves: this env.py does not mention it
        + "    print('worker sees', os.environ.get('POSTGRES_' + 'PASSWORD', '<absent>'),"
        + " os.environ.get('PGPASSWORD', '<absent>'))\n",
    )
    run = drift_check(
        "check", "--verbose", env=pg_server.env(PGPASSWORD=pg_server.password), cwd=project
    )
    assert run.code == 0, run.output
    assert "  | worker sees <absent> <absent>" in run.stderr, run.stderr

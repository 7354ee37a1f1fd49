"""The migration cache on a real server: a cached run says what a cold run says, a changed
byte anywhere in the chain never reuses a stale template, only the new revisions are applied,
two runs building the same template both succeed, the KEEP bound holds, templates can never
be connected to, and ``sweep --cache`` drops templates and nothing else."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from projects import MODELS, VERSIONS, add_migration, mini_project, patch
from reports import valid_report
from servers import PostgresServer, Run, drift_check

from drift_job.supervisor.cache_server import lock

PREFIX = "cachetest"
#: Where both passes are not the point, autogenerate alone keeps the test short.
FAST = ("--compare", "autogenerate")


def templates(server: PostgresServer) -> list[str]:
    """The migrated databases kept (not the models' ones)."""
    models = set(models_templates(server))
    return [name for name in server.databases(f"{PREFIX}_cache_") if name not in models]


def models_templates(server: PostgresServer) -> list[str]:
    return server.databases(f"{PREFIX}_cache_models_")


@pytest.fixture
def server(pg_server: PostgresServer) -> Iterator[PostgresServer]:
    """The newest test server; every template of this module is dropped afterwards."""
    yield pg_server
    for name in pg_server.databases(f"{PREFIX}_cache_"):
        pg_server.query(f'DROP DATABASE IF EXISTS "{name}"')


def check(server: PostgresServer, project: Path, *args: str, **env: str) -> dict[str, Any]:
    run = drift_check(
        "check",
        "--format",
        "json",
        *args,
        env=server.env(DRIFT_DB_PREFIX=PREFIX, **env),
        cwd=project,
    )
    assert run.code in (0, 1), run.output
    return valid_report(run.stdout)  # the shipped schema knows the cache field


def comparable(data: dict[str, Any], also: tuple[str, ...] = ()) -> dict[str, Any]:
    """The report minus what differs between any two runs (timings, temporary names)."""
    differing = ("timings", "temporary_database", "cache", *also)
    return {k: v for k, v in data.items() if k not in differing}


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    """A one-table project (quick to import) that takes drift-check's connection."""
    return mini_project(tmp_path / "mini", "shared-connection")


@pytest.mark.parametrize("drifted", [False, True], ids=["clean", "drifted"])
def test_cached_run_reports_exactly_what_a_cold_run_reports(
    server: PostgresServer, project: Path, drifted: bool
) -> None:
    if drifted:
        patch(
            project,
            MODELS,
            "website: str | None = Field(default=None, sa_column=Column(String(255)",
            "website: str | None = Field(default=None, sa_column=Column(String(300)",
        )
    cold = check(server, project)
    assert cold["cache"] is None
    storing = check(server, project, "--cache")
    assert storing["cache"]["hit"] is False and storing["cache"]["stored"] == templates(server)
    cached = check(server, project, "--cache")
    assert cached["cache"]["hit"] is True
    assert cached["cache"]["revision"] == "0006" and cached["cache"]["applied"] == []
    assert comparable(cold) == comparable(storing) == comparable(cached)
    assert cold["status"] == ("drift" if drifted else "clean")
    with pytest.raises(psycopg2.OperationalError, match="not currently accepting connections"):
        server.connect(templates(server)[0])  # no one, the project's code included


def test_an_edited_old_migration_never_reuses_the_stale_template(
    server: PostgresServer, project: Path
) -> None:
    check(server, project, "--cache", *FAST)
    stale = templates(server)
    old = project / VERSIONS / "0002_customers.py"
    old.write_text(old.read_text().replace("sa.String(length=120)", "sa.String(length=121)"))
    edited = check(server, project, "--cache", *FAST)
    assert edited["cache"]["hit"] is False, "a changed byte in 0002 must miss the cache"
    assert len(edited["cache"]["applied"]) == 6
    assert edited["status"] == "drift"
    assert comparable(edited) == comparable(check(server, project, *FAST))
    assert set(stale) < set(templates(server))


def test_a_changed_env_py_or_key_path_misses_the_cache(server: PostgresServer, mini: Path) -> None:
    helper = mini / "helpers.py"
    helper.write_text("LENGTH = 80\n")
    cached = ("--cache", "--cache-key-path", "helpers.py", *FAST)
    check(server, mini, *cached)
    helper.write_text("LENGTH = 81\n")
    assert not check(server, mini, *cached)["cache"]["hit"]
    env_py = mini / "migrations/env.py"
    env_py.write_text(env_py.read_text() + "\n# one more byte\n")
    assert not check(server, mini, *cached)["cache"]["hit"]
    assert len(templates(server)) == 3


def test_one_new_revision_on_top_applies_only_it_and_keep_bounds_the_templates(
    server: PostgresServer, mini: Path
) -> None:
    check(server, mini, "--cache", *FAST, DRIFT_CACHE_KEEP="1")
    first = templates(server)
    index = "op.create_index('ix_notes_body', 'notes', ['body'])"
    add_migration(mini, "0002", "0001", index, versions=Path("migrations/versions"))
    on_top = check(server, mini, "--cache", *FAST, DRIFT_CACHE_KEEP="1")
    assert on_top["cache"]["hit"] is True
    assert on_top["cache"]["revision"] == "0001" and on_top["cache"]["applied"] == ["0002"]
    assert comparable(on_top) == comparable(check(server, mini, *FAST))
    assert len(templates(server)) == 1 and templates(server) != first  # KEEP=1: the old one went


def test_two_runs_building_the_same_template_both_succeed(
    server: PostgresServer, mini: Path
) -> None:
    """Both passes: the migrated database and the models' one are each kept once."""
    runs: list[Run] = []
    env = server.env(DRIFT_DB_PREFIX=PREFIX, DRIFT_CACHE="1")

    def one() -> None:
        runs.append(drift_check("check", "--format", "json", env=env, cwd=mini))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [run.code for run in runs] == [0, 0], [run.output for run in runs]
    stored = [valid_report(run.stdout)["cache"]["stored"] for run in runs]
    assert sorted(map(len, stored)) == [0, 1], stored  # one built it, the other did not
    assert len(templates(server)) == 1
    models = [valid_report(run.stdout)["cache"]["models"] for run in runs]
    assert len(models_templates(server)) == 1
    assert sum(1 for m in models if m["stored"]) <= 1, models  # the other cloned it, or waited
    intact = check(server, mini, "--cache")
    assert intact["cache"]["hit"] is True and intact["status"] == "clean"
    assert intact["cache"]["models"]["from"] == models_templates(server)[0]


def test_sweep_cache_drops_templates_and_nothing_else(server: PostgresServer, mini: Path) -> None:
    check(server, mini, "--cache")
    template = templates(server)[0]
    assert len(models_templates(server)) == 1
    look_alike = f"{PREFIX}_cache_{'0' * 24}"  # our name and marker, but connectable
    other_name = f"{PREFIX}_cache_other"  # our marker, sealed, but not our name
    marker = json.dumps(
        {
            "tool": "drift-check",
            "cache": 1,
            "key": "0" * 64,
            "project": "p",
            "revision": "x",
            "used": "2026-01-01T00:00:00Z",
        }
    )
    for decoy in (look_alike, other_name):
        server.query(f'CREATE DATABASE "{decoy}"')
        server.query(f"COMMENT ON DATABASE \"{decoy}\" IS '{marker}'")
    server.query(f'ALTER DATABASE "{other_name}" WITH ALLOW_CONNECTIONS false')
    try:
        env = server.env(DRIFT_DB_PREFIX=PREFIX)
        plain = drift_check("sweep", "--older-than", "0", env=env, cwd=mini)
        assert plain.code == 0 and template in templates(server), plain.output
        swept = drift_check("sweep", "--cache", env=env, cwd=mini)
        assert swept.code == 0, swept.output
        assert "2 cache template(s) dropped" in swept.stdout  # the chain's and the models'
        assert templates(server) == sorted([look_alike, other_name])
        assert models_templates(server) == []
    finally:
        for decoy in (look_alike, other_name):
            server.query(f'DROP DATABASE IF EXISTS "{decoy}"')


def test_cache_dir_restores_the_migrated_database_on_a_new_server(
    pg_server: PostgresServer, mini: Path, tmp_path: Path
) -> None:
    """The embedded server is new every run: only the dump in DRIFT_CACHE_DIR survives."""
    env = {k: v for k, v in pg_server.env().items() if not k.startswith("POSTGRES_")}
    env.update(DRIFT_CACHE_DIR=str(tmp_path / "cache"))
    patch(mini, "mini_models.py", "sa.String(200)", "sa.String(300)")
    first = drift_check("check", "--format", "json", env=env, cwd=mini)
    second = drift_check("check", "--format", "json", env=env, cwd=mini)
    assert first.code == second.code == 1, first.output + second.output
    stored, restored = valid_report(first.stdout)["cache"], valid_report(second.stdout)["cache"]
    assert stored["hit"] is False and len(stored["stored"]) == 1
    assert restored["hit"] is True and restored["from"] == stored["stored"][0]
    assert restored["applied"] == []
    new_server = ("server",)  # a throwaway server of its own each time
    assert comparable(valid_report(first.stdout), new_server) == comparable(
        valid_report(second.stdout), new_server
    )
    assert len(list((tmp_path / "cache").iterdir())) == 1


def test_a_database_level_setting_is_never_cached(server: PostgresServer, mini: Path) -> None:
    """A copy loses ALTER DATABASE … SET: such a chain is replayed every time."""
    add_migration(
        mini,
        "0002",
        "0001",
        """op.execute("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET work_mem = ''8MB''', "
                   "current_database()); END $$")""",
        versions=Path("migrations/versions"),
    )
    run = check(server, mini, "--cache", *FAST)
    assert run["cache"]["stored"] == [] and templates(server) == []


def test_the_start_is_checked_in_env_pys_own_version_table(
    server: PostgresServer, mini: Path
) -> None:
    """A cached database must hold the revision it was chosen for, read where env.py keeps it;
    a template altered behind our back fails the run instead of passing it."""
    project = mini
    patch(
        project,
        "migrations/env.py",
        "target_metadata=mini_models.metadata",
        "target_metadata=mini_models.metadata, version_table='my_versions'",
    )
    check(server, project, "--cache", *FAST)
    assert check(server, project, "--cache", *FAST)["cache"]["hit"] is True
    (template,) = templates(server)
    server.query(f'ALTER DATABASE "{template}" WITH ALLOW_CONNECTIONS true')
    server.query("UPDATE my_versions SET version_num = 'elsewhere'", database=template)
    server.query(f'ALTER DATABASE "{template}" WITH ALLOW_CONNECTIONS false')
    env = server.env(DRIFT_DB_PREFIX=PREFIX, DRIFT_CACHE="1")
    tampered = drift_check("check", *FAST, env=env, cwd=project)
    assert tampered.code == 3, tampered.output
    assert "the cached database holds revision(s) elsewhere instead of 0001" in tampered.stderr


def test_a_dump_that_does_not_load_is_replayed_instead(
    server: PostgresServer, mini: Path, tmp_path: Path
) -> None:
    cache_dir = tmp_path / "dumps"
    stored = check(server, mini, *FAST, DRIFT_CACHE_DIR=str(cache_dir))["cache"]["stored"]
    (dump,) = map(Path, stored)
    header = dump.read_text().splitlines()[0]
    broken_text = f"{header}\nCREATE TABLE notes (id integer);\nTHIS IS NOT SQL;\n"
    dump.write_text(broken_text)
    broken = check(server, mini, *FAST, DRIFT_CACHE_DIR=str(cache_dir))
    assert broken["cache"]["hit"] is False and broken["status"] == "clean"
    assert len(broken["cache"]["applied"]) == 1
    assert broken["cache"]["stored"] == stored and dump.read_text() != broken_text  # replaced


CHECK = "ALTER TABLE notes ADD CONSTRAINT ck_notes_body CHECK (length(body) > {})"
LISTENER = """
sa.event.listen(notes, "after_create", {})
"""


def test_the_models_database_is_cloned_only_where_the_models_send_the_same_ddl(
    server: PostgresServer, mini: Path
) -> None:
    """The catalog pass's models' database is kept by the DDL the models send, listeners
    included: a CHECK constraint only a listener adds (autogenerate compares no CHECKs) is
    cloned while it is unchanged, and a changed listener builds anew and finds the drift a
    stale copy would hide."""
    models = mini / "mini_models.py"
    models.write_text(models.read_text() + LISTENER.format(f"sa.DDL({CHECK.format(0)!r})"))
    add_migration(
        mini,
        "0002",
        "0001",
        f"op.execute({CHECK.format(0)!r})",
        versions=Path("migrations/versions"),
    )
    storing = check(server, mini, "--cache")
    assert storing["status"] == "clean"
    assert storing["cache"]["models"] == {"from": None, "stored": models_templates(server)[0]}
    cloned = check(server, mini, "--cache")
    assert cloned["cache"]["models"]["from"] == models_templates(server)[0]
    assert comparable(cloned) == comparable(storing) == comparable(check(server, mini))

    patch(mini, "mini_models.py", "> 0", "> 1")
    changed = check(server, mini, "--cache")
    assert changed["cache"]["models"]["from"] is None, "a changed listener must miss the cache"
    assert changed["status"] == "drift"
    assert comparable(changed) == comparable(check(server, mini))
    assert len(models_templates(server)) == 2


def test_a_listener_that_needs_a_real_connection_keeps_no_models_database(
    server: PostgresServer, mini: Path
) -> None:
    """What cannot be rendered without a server cannot be keyed: built every time, never kept."""
    listener = """
@sa.event.listens_for(notes, "after_create")
def secure(target, connection, **kw):
    connection.exec_driver_sql("ALTER TABLE notes ADD CONSTRAINT ck_notes_body CHECK (id > 0)")
"""
    models = mini / "mini_models.py"
    models.write_text(models.read_text() + listener)
    for _ in range(2):
        run = check(server, mini, "--cache")
        assert run["cache"]["models"] == {"from": None, "stored": None}
        assert run["status"] == "drift"  # the migrations never add the CHECK
    assert models_templates(server) == []


def test_a_signal_while_the_models_database_is_kept_leaves_nothing_behind(
    server: PostgresServer, mini: Path
) -> None:
    """SIGTERM while the store waits for another run's lock on the models' template: the
    run's databases are dropped, no half-made template stays, and the next run stores it."""
    models_template = check(server, mini, "--cache")["cache"]["models"]["stored"]
    assert models_template and models_templates(server) == [models_template]
    server.query(f'DROP DATABASE "{models_template}"')
    other_run = server.connect()
    other_run.autocommit = True
    try:
        assert lock(other_run, models_template, shared=False, wait=False)
        process = subprocess.Popen(
            [sys.executable, "-m", "drift_job", "check", "--cache"],
            env=server.env(DRIFT_DB_PREFIX=PREFIX),
            cwd=mini,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not _waiting_for_an_advisory_lock(server) and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        other_run.close()
    assert process.returncode == 143, stderr
    assert "Traceback" not in stderr
    assert server.temporary_databases() == [] and models_templates(server) == []
    again = check(server, mini, "--cache")
    assert again["cache"]["models"]["stored"] == models_template


def _waiting_for_an_advisory_lock(server: PostgresServer) -> bool:
    rows = server.query(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'advisory' "
        "AND query LIKE '%pg_advisory_lock%'"
    )
    return bool(rows and rows[0][0])


LATE_MODELS = """
import sqlalchemy as sa

import mini_models

late = sa.Table("late", mini_models.metadata, sa.Column("id", sa.Integer, primary_key=True))
"""


def test_models_a_migration_adds_to_the_metadata_give_the_cold_verdict(
    server: PostgresServer, mini: Path
) -> None:
    """A migration whose upgrade() imports more models into env.py's metadata: a run that
    skipped it would compare without them, and the models' database must hold them. Cached
    runs report what a cold run does."""
    check(server, mini, "--cache")  # the template of 0001
    (mini / "late_models.py").write_text(LATE_MODELS)
    add_migration(
        mini,
        "0002",
        "0001",
        "import late_models\nop.create_table('late', sa.Column('id', sa.Integer, primary_key=True))",
        versions=Path("migrations/versions"),
    )
    cold = check(server, mini)
    assert cold["status"] == "clean"
    runs = [check(server, mini, "--cache") for _ in range(3)]
    assert [comparable(run) for run in runs] == [comparable(cold)] * 3
    # Never stored at its head: every run starts below it and applies it.
    assert [run["cache"]["applied"] for run in runs] == [["0002"]] * 3
    assert [run["cache"]["stored"] for run in runs] == [[]] * 3


def test_a_helper_a_migration_imports_when_it_runs_is_cached_as_usual(
    server: PostgresServer, mini: Path
) -> None:
    """Only a change to the models keeps a chain out of the cache, not the import itself."""
    (mini / "slugs.py").write_text("def slug(text):\n    return text.lower()\n")
    add_migration(
        mini,
        "0002",
        "0001",
        "from slugs import slug\nop.execute(f\"SELECT '{slug('A')}'\")",
        versions=Path("migrations/versions"),
    )
    stored = check(server, mini, "--cache", *FAST)
    assert len(stored["cache"]["stored"]) == 1
    cached = check(server, mini, "--cache", *FAST)
    assert cached["cache"]["hit"] is True and cached["cache"]["applied"] == []

"""Migrations that fill the server's lock table: exit 4 and a line naming both fixes.

Reproduced for real on a throwaway server whose lock table is as small as PostgreSQL allows
(max_locks_per_transaction = 10, max_connections = 20), with one migration creating many
tables in one transaction; the same chain passes once env.py commits each migration apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from projects import add_migration, mini_project, patch
from servers import AVAILABLE, PASSWORD, PostgresServer, drift_check

from drift_job.server import ThrowawayServer

TABLES_PER_MIGRATION = 100
MIGRATIONS = 3
MANY_TABLES = f"""
for number in range({TABLES_PER_MIGRATION}):
    op.create_table(
        f"filler_{{revision}}_{{number}}",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("label", sa.Text, nullable=False),
    )
"""


@pytest.fixture(scope="module")
def small_lock_table() -> Iterator[PostgresServer]:
    """A server of its own (the suite's others keep their defaults), restarted once with the
    smallest lock table PostgreSQL accepts."""
    throwaway = ThrowawayServer(AVAILABLE[max(AVAILABLE)], tcp=True, password=PASSWORD).start()
    try:
        server = PostgresServer(max(AVAILABLE), throwaway)
        server.query("ALTER SYSTEM SET max_locks_per_transaction = 10")
        server.query("ALTER SYSTEM SET max_connections = 20")
        throwaway.kill()
        throwaway.restart()
        assert server.query("SHOW max_locks_per_transaction") == [("10",)]
        yield server
    finally:
        throwaway.stop()


def _many_tables_project(root: Path) -> Path:
    """The one-table mini project, then migrations creating hundreds more tables; the models
    declare them too, so the only problem is the lock table."""
    project = mini_project(root, "shared-connection")
    down = "0001"
    for step in range(MIGRATIONS):
        revision = f"{step + 2:04d}"
        body = MANY_TABLES.replace("{revision}", revision)
        add_migration(project, revision, down, body, versions=Path("migrations/versions"))
        down = revision
    revisions = [f"{step + 2:04d}" for step in range(MIGRATIONS)]
    models = project / "mini_models.py"
    models.write_text(
        models.read_text()
        + f"\nfor revision in {revisions!r}:\n"
        + f"    for number in range({TABLES_PER_MIGRATION}):\n"
        + '        sa.Table(f"filler_{revision}_{number}", metadata,'
        + ' sa.Column("id", sa.Integer, primary_key=True),'
        + ' sa.Column("label", sa.Text, nullable=False))\n'
    )
    return project


def test_lock_table_exhaustion_names_both_fixes(
    small_lock_table: PostgresServer, tmp_path: Path
) -> None:
    project = _many_tables_project(tmp_path)
    run = drift_check("check", env=small_lock_table.env(), cwd=project, timeout=300)
    assert run.code == 4, run.output
    lines = run.stderr.strip().splitlines()
    message = next(line for line in lines if line.startswith("drift-check:"))
    assert "max_locks_per_transaction" in message
    assert "transaction_per_migration=True" in message
    assert "out of shared memory" in message
    assert message == lines[-1] or lines[-1].startswith("  |"), run.stderr
    assert small_lock_table.temporary_databases() == []

    # The first fix named: each migration in a transaction of its own.
    patch(
        project,
        "migrations/env.py",
        "target_metadata=mini_models.metadata)",
        "target_metadata=mini_models.metadata, transaction_per_migration=True)",
    )
    run = drift_check("check", env=small_lock_table.env(), cwd=project, timeout=300)
    assert run.code == 0, run.output

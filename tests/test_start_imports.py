"""What each command imports: the cheap commands load nothing heavy, and a check never loads
the Kubernetes client (it is for the ``k8s`` subcommand alone).

Read from ``python -X importtime`` in a fresh interpreter: every module the command process
imported, in the order it imported them. (The worker is a process of its own; what it imports
is the project's business.)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from projects import mini_project
from servers import PostgresServer

IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", re.MULTILINE)
HEAVY = {"alembic", "sqlalchemy", "psycopg2", "psycopg", "kubernetes", "sqlmodel", "dotenv"}


def imported_by(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, set[str]]:
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "drift_job", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return completed.returncode, set(IMPORTED.findall(completed.stderr))


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.mark.parametrize("args", [["--help"], ["check", "--help"], ["--version"], ["config"]])
def test_cheap_commands_import_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    code, modules = imported_by(*args, cwd=mini_project(tmp_path, "env-var"))
    assert code == 0
    assert "drift_job.cli" in modules  # the reading works
    assert not top_level(modules) & HEAVY
    assert not {"drift_job.runner", "drift_job.supervisor.run", "drift_job.server"} & modules


@pytest.mark.parametrize("args", [["--help"], ["check", "--help"], ["config"]])
def test_only_version_reads_the_installed_distributions(args: list[str], tmp_path: Path) -> None:
    """importlib.metadata scans every installed distribution: tens of milliseconds."""
    project = mini_project(tmp_path, "env-var")
    assert "importlib.metadata" not in imported_by(*args, cwd=project)[1]
    assert "importlib.metadata" in imported_by("--version", cwd=project)[1]


def test_a_check_never_imports_the_kubernetes_client(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    project = mini_project(tmp_path, "shared-connection")
    code, modules = imported_by("check", cwd=project, env=pg_server.env())
    assert code == 0
    assert "drift_job.supervisor.run" in modules  # a real check ran in this process
    assert "kubernetes" not in top_level(modules)
    assert not {"alembic", "sqlalchemy"} & top_level(modules)  # the worker's, not ours

"""``--python``: the project's code runs under the project's own interpreter.

drift-check stays installed on its own (pipx, a CI image) while the worker runs under a
virtualenv that pins what the project pins — here Open-Assistant's backend pins (Alembic
1.8.1, python-dotenv 0.21, SQLAlchemy 1.4) on the oldest Python this machine has. The
virtualenv holds no drift-check at all: the worker needs only Alembic and SQLAlchemy.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from projects import add_migration, mini_project
from servers import PostgresServer, drift_check

uv = pytest.importorskip("uv", reason="uv is needed to build the project's virtualenv")

PINS = ("alembic==1.8.1", "sqlalchemy==1.4.46", "python-dotenv==0.21.0", "psycopg2-binary")
OLDEST_PYTHONS = ("3.8", "3.9", "3.10", "3.11")


def _oldest_python() -> str:
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for version in OLDEST_PYTHONS:
        for candidate in sorted(root.glob(f"{version}.*/bin/python{version}")):
            if (
                subprocess.run([str(candidate), "-V"], capture_output=True, check=False).returncode
                == 0
            ):
                return str(candidate)
    return "python3"


@pytest.fixture(scope="module")
def project_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    venv = tmp_path_factory.mktemp("project-venv")
    env = {
        **os.environ,
        "UV_CACHE_DIR": str(tmp_path_factory.mktemp("uv-cache")),
        "UV_PYTHON_DOWNLOADS": "never",
    }
    binary = uv.find_uv_bin()
    subprocess.run([binary, "venv", "-q", "-p", _oldest_python(), str(venv)], check=True, env=env)
    python = venv / "bin" / "python"
    subprocess.run([binary, "pip", "install", "-q", "-p", str(python), *PINS], check=True, env=env)
    yield python


def _versions(python: Path) -> str:
    code = "import sys, alembic, sqlalchemy; print(sys.version.split()[0], alembic.__version__, sqlalchemy.__version__)"
    return subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True
    ).stdout


def test_the_project_interpreter_runs_the_check(
    project_python: Path, pg_server: PostgresServer, tmp_path: Path
) -> None:
    assert " 1.8.1 1.4.46" in _versions(project_python)
    probe = subprocess.run(
        [str(project_python), "-c", "import drift_job"], capture_output=True, check=False
    )
    assert probe.returncode != 0, "the project's virtualenv must not hold drift-check"
    project = mini_project(tmp_path, "env-var")
    env = pg_server.env(DRIFT_URL_ENV="DATABASE_URL", DATABASE_URL="postgresql://x@nowhere/dev")
    clean = drift_check(
        "check", "--format", "json", "--python", str(project_python), env=env, cwd=project
    )
    assert clean.code == 0, clean.output
    assert json.loads(clean.stdout)["status"] == "clean"

    models = project / "mini_models.py"
    models.write_text(
        models.read_text().replace(
            'sa.Column("body", sa.String(200), nullable=False),',
            'sa.Column("body", sa.String(200), nullable=False),\n    sa.Column("title", sa.String(80)),',
        )
    )
    drift = drift_check(
        "check", "--format", "json", "--python", str(project_python), env=env, cwd=project
    )
    assert drift.code == 1, drift.output
    assert [d["column"] for d in json.loads(drift.stdout)["differences"]] == ["title"]

    add_migration(
        project,
        "0002",
        "0001",
        'raise RuntimeError("broken")',
        versions=Path("migrations/versions"),
    )
    broken = drift_check("check", "--python", str(project_python), env=env, cwd=project)
    assert broken.code == 4, broken.output
    assert "0002_test_change.py" in broken.stderr


def test_an_interpreter_without_alembic_is_named(pg_server: PostgresServer, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    subprocess.run(
        [uv.find_uv_bin(), "venv", "-q", "-p", _oldest_python(), str(bare)],
        check=True,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
    )
    project = mini_project(tmp_path / "project", "shared-connection")
    run = drift_check(
        "check", "--python", str(bare / "bin" / "python"), env=pg_server.env(), cwd=project
    )
    assert run.code == 2, run.output
    line = run.stderr.strip().splitlines()[-1]
    assert f"the Python at {bare}" in line, line
    assert "cannot import sqlalchemy" in line or "cannot import alembic" in line, line
    assert pg_server.temporary_databases() == []


def test_every_worker_module_imports_on_the_oldest_python(project_python: Path) -> None:
    """The worker's modules run under the project's interpreter: Python 3.8 syntax only."""
    worker = Path(__file__).resolve().parent.parent / "src" / "drift_job" / "worker"
    code = (
        "import importlib, importlib.util, sys\n"
        f"path = {str(worker)!r}\n"
        "spec = importlib.util.spec_from_file_location('w', path + '/__init__.py', "
        "submodule_search_locations=[path])\n"
        "package = importlib.util.module_from_spec(spec)\n"
        "sys.modules['w'] = package\n"
        "spec.loader.exec_module(package)\n"
        "import pathlib\n"
        "for module in sorted(pathlib.Path(path).glob('*.py')):\n"
        "    if module.stem != '__init__':\n"
        "        importlib.import_module('w.' + module.stem)\n"
    )
    completed = subprocess.run(
        [str(project_python), "-c", code], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr

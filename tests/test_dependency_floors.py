"""The dependency floors in pyproject.toml are real: with every direct dependency at its lowest
allowed version (``uv pip install --resolution lowest-direct``) on the oldest supported Python,
the installed distribution works: ``drift-check config``, its version, and a real check of the
reference app (clean, then drift) against a test server.

The environment is built with a fresh uv cache, so nothing from an earlier run can hide a
broken install (as in test_compat_matrix.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from projects import MODELS, patch
from servers import REPO_ROOT, PostgresServer

uv = pytest.importorskip("uv", reason="uv is needed to build the floors environment")

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
FLOOR = re.compile(r"^([A-Za-z0-9_.-]+)>=([0-9][0-9A-Za-z.]*)")


def _floors() -> dict[str, str]:
    """distribution → the version its ``>=`` floor names (main and sqlmodel dependencies)."""
    floors = {}
    for requirement in [
        *PYPROJECT["project"]["dependencies"],
        *PYPROJECT["project"]["optional-dependencies"]["sqlmodel"],
    ]:
        match = FLOOR.match(requirement.replace(" ", ""))
        if match:
            floors[match.group(1).lower()] = match.group(2)
    return floors


def _normal(version: str) -> str:
    """``0.21`` and ``0.21.0`` are the same version."""
    return re.sub(r"(\.0)+$", "", version)


def _oldest_python() -> str:
    """An interpreter of the oldest supported version (requires-python), else this one."""
    oldest = PYPROJECT["project"]["requires-python"].removeprefix(">=")
    found = shutil.which(f"python{oldest}")
    return found or sys.executable


@pytest.fixture(scope="module")
def floor_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv-floors")
    env = {
        **os.environ,
        "UV_CACHE_DIR": str(tmp_path_factory.mktemp("uv-cache-floors")),
        "UV_PYTHON_DOWNLOADS": "never",
    }
    uv_binary = uv.find_uv_bin()
    subprocess.run(
        [uv_binary, "venv", "--quiet", "--python", _oldest_python(), str(venv)], check=True, env=env
    )
    subprocess.run(
        [
            uv_binary,
            "pip",
            "install",
            "--quiet",
            "--resolution",
            "lowest-direct",
            "--python",
            str(venv / "bin" / "python"),
            f"{REPO_ROOT}[sqlmodel]",
        ],
        check=True,
        env=env,
    )
    return venv


def _run(
    venv: Path, *args: str, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "drift-check"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_floors_are_what_got_installed(floor_venv: Path) -> None:
    code = (
        "import json, importlib.metadata as m; "
        f"print(json.dumps({{d: m.version(d) for d in {sorted(_floors())!r}}}))"
    )
    installed = json.loads(
        subprocess.run(
            [str(floor_venv / "bin" / "python"), "-c", code],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert {d: _normal(v) for d, v in installed.items()} == {
        d: _normal(v) for d, v in _floors().items()
    }


def test_the_installed_distribution_reports_its_version(floor_venv: Path) -> None:
    code = (
        "import importlib.metadata as m, drift_job; "
        "print(m.version('alembic-drift-check'), drift_job.__version__)"
    )
    shown = subprocess.run(
        [str(floor_venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert shown == [PYPROJECT["project"]["version"]] * 2


def test_config_and_a_real_check_at_the_floors(
    floor_venv: Path, pg_server: PostgresServer, project: Path
) -> None:
    env = {k: v for k, v in pg_server.env().items() if k != "PYTHONPATH"}
    env.pop("DRIFT_DB_PREFIX", None)
    # The env file is read through the oldest python-dotenv, interpolation included.
    (project / ".env.k8s.development").write_text("DRIFT_DB_PREFIX=${FLOOR_PREFIX:-floors}\n")
    shown = _run(floor_venv, "config", env=env, cwd=project)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "POSTGRES_PASSWORD=***  [environment]" in shown.stdout
    assert "DRIFT_DB_PREFIX=floors  [env file]" in shown.stdout

    clean = _run(floor_venv, "check", "--format", "json", env=env, cwd=project)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert json.loads(clean.stdout)["status"] == "clean"

    patch(
        project,
        MODELS,
        "    bio: str | None = Field(default=None, sa_column=Column(Text, nullable=True))\n",
        "    bio: str | None = Field(default=None, sa_column=Column(Text, nullable=True))\n"
        "    nickname: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))\n",
    )
    drift = _run(floor_venv, "check", "--format", "json", env=env, cwd=project)
    assert drift.returncode == 1, drift.stdout + drift.stderr
    assert [d["column"] for d in json.loads(drift.stdout)["differences"]] == ["nickname"]

"""The library versions projects pin: drift-check installed next to old and new stacks.

Each environment is built by this module with uv (a fresh cache per run, so nothing from an
earlier run can hide a broken install) and runs the clean / drift / error core cases on the
reference app, on a Python version of its own where the machine has it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from projects import MODELS, add_migration, patch
from servers import REPO_ROOT, PostgresServer

uv = pytest.importorskip("uv", reason="uv is needed to build the compatibility environments")


@dataclass(frozen=True)
class Stack:
    python: str
    packages: tuple[str, ...]
    expected: dict[str, str]  # distribution → version prefix
    driver: str


STACKS = {
    "oldest": Stack(
        "3.11",
        (
            "sqlalchemy==1.4.41",
            "alembic==1.9.4",
            "sqlmodel==0.0.8",
            "pydantic<2",
            "psycopg2-binary",
        ),
        {"sqlalchemy": "1.4.", "alembic": "1.9.", "sqlmodel": "0.0.8", "pydantic": "1."},
        "psycopg2",
    ),
    "sqlalchemy-2.0": Stack(
        "3.12",
        ("sqlalchemy~=2.0.0", "alembic~=1.13.0", "sqlmodel==0.0.22", "psycopg[binary]"),
        {"sqlalchemy": "2.0.", "alembic": "1.13.", "sqlmodel": "0.0.22", "pydantic": "2."},
        "psycopg",
    ),
    "newest": Stack(
        "3.13",
        ("sqlalchemy", "alembic", "sqlmodel", "psycopg2-binary"),
        {"pydantic": "2."},
        "psycopg2",
    ),
}


def _interpreter(version: str) -> str:
    """A working python of that version on this machine, else the one running the tests."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = sorted(pyenv_root.glob(f"{version}.*/bin/python{version}"), reverse=True)
    candidates += [Path(found)] if (found := shutil.which(f"python{version}")) else []
    for candidate in candidates:
        probe = subprocess.run([str(candidate), "--version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return str(candidate)
    return sys.executable


@pytest.fixture(scope="module")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture(scope="module", params=list(STACKS), ids=list(STACKS))
def stack_python(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, uv_cache: Path
) -> Iterator[tuple[str, Path]]:
    stack = STACKS[request.param]
    venv = tmp_path_factory.mktemp(f"venv-{request.param}")
    env = {**os.environ, "UV_CACHE_DIR": str(uv_cache), "UV_PYTHON_DOWNLOADS": "never"}
    uv_binary = uv.find_uv_bin()
    subprocess.run(
        [uv_binary, "venv", "--quiet", "--python", _interpreter(stack.python), str(venv)],
        check=True,
        env=env,
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [
            uv_binary,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(python),
            str(REPO_ROOT),
            *stack.packages,
        ],
        check=True,
        env=env,
    )
    yield request.param, python


def _versions(python: Path) -> dict[str, str]:
    code = (
        "import json, importlib.metadata as m, sys; "
        "print(json.dumps({d: m.version(d) for d in ('sqlalchemy', 'alembic', 'sqlmodel', 'pydantic')}"
        " | {'python': '%d.%d' % sys.version_info[:2]}))"
    )
    return dict(
        json.loads(
            subprocess.run(
                [str(python), "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
    )


def _check(python: Path, project: Path, env: dict[str, str]) -> tuple[int, dict[str, object], str]:
    completed = subprocess.run(
        [str(python), "-m", "drift_job", "check", "--format", "json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return (
        completed.returncode,
        json.loads(completed.stdout or "{}"),
        completed.stdout + completed.stderr,
    )


def test_stack_runs_the_core_cases(
    stack_python: tuple[str, Path], pg_server: PostgresServer, project: Path
) -> None:
    name, python = stack_python
    stack = STACKS[name]
    versions = _versions(python)
    for distribution, prefix in stack.expected.items():
        assert versions[distribution].startswith(prefix), versions
    env = pg_server.env(DRIFT_DRIVER=stack.driver)

    code, report, output = _check(python, project, env)
    assert code == 0, output
    assert report["status"] == "clean"
    assert f"({stack.driver})" in output
    _check_the_cache(python, project, {**env, "DRIFT_DB_PREFIX": f"compat_{name[:3]}"})

    patch(
        project,
        MODELS,
        "    bio: str | None = Field(default=None, sa_column=Column(Text, nullable=True))\n",
        "    bio: str | None = Field(default=None, sa_column=Column(Text, nullable=True))\n"
        "    nickname: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))\n"
        "    pen_name: str | None = Field(default=None, max_length=40)\n",
    )
    code, report, output = _check(python, project, env)
    assert code == 1, output
    columns = [d["column"] for d in report["differences"]]  # type: ignore[union-attr]
    assert columns == ["nickname", "pen_name"], output
    # A plain SQLModel str is an AutoString: rendered with env.py's module prefixes.
    assert "sqlmodel.sql.sqltypes.AutoString(length=40)" in str(report["suggested_migration"])

    add_migration(project, "0007", "0006", 'raise RuntimeError("broken migration")')
    code, report, output = _check(python, project, env)
    assert code == 4, output
    assert "0007_test_change.py" in str(report["message"])
    print(f"{name}: {versions}")


def _check_the_cache(python: Path, project: Path, env: dict[str, str]) -> None:
    """The second cached run starts from the chain's template and clones the models' one."""
    cached = {**env, "DRIFT_CACHE": "1"}
    try:
        for _ in range(2):
            code, report, output = _check(python, project, cached)
            assert code == 0, output
        cache: dict[str, Any] = report["cache"]  # type: ignore[assignment]
        assert cache["hit"] is True and cache["models"]["from"], output
    finally:
        subprocess.run(
            [str(python), "-m", "drift_job", "sweep", "--cache"],
            cwd=project,
            env=env,
            capture_output=True,
            check=True,
        )

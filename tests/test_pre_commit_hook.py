"""The ``drift-check`` pre-commit hook, with the real ``pre-commit`` in a temporary git repository.

The hook repository is a local clone of this source tree (``repo: <path>``), so nothing is
fetched from GitHub; pre-commit installs it into its own environment as it would for a user,
and the hook runs on a throwaway server (no ``POSTGRES_*`` in the environment). The test
extra's pre-commit-uv makes pre-commit build that environment with uv (10 s instead of more
than a minute with pip on a busy machine); the hook and pre-commit's handling of it are the same.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from projects import mini_project
from servers import REPO_ROOT, Run

README = (REPO_ROOT / "README.md").read_text()
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]
GIT = [
    "git",
    "-c",
    "user.name=t",
    "-c",
    "user.email=t@example.invalid",
    "-c",
    "init.defaultBranch=main",
]


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GIT, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def _hook_repository(destination: Path) -> str:
    """This source tree as it is now (uncommitted changes included), committed in a git
    repository of its own; returns the commit for ``rev:``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (entry.decode() for entry in listed)):
        source = REPO_ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    _git(destination, "init", "-q")
    _git(destination, "add", "-A")
    _git(destination, "commit", "-q", "-m", "snapshot")
    return _git(destination, "rev-parse", "HEAD").stdout.strip()


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    clone = tmp_path_factory.mktemp("drift-check-clone")
    return clone, _hook_repository(clone)


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One hook environment for the module: pre-commit builds it once per repo and rev."""
    return tmp_path_factory.mktemp("pre-commit-home")


def _environment(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POSTGRES_", "PG", "DRIFT_", "PRE_COMMIT", "GIT_"))
    }
    env["PRE_COMMIT_HOME"] = str(home)
    return env


def _project(root: Path, config: str) -> Path:
    """A one-table project in a git repository with the hook installed."""
    mini_project(root, "shared-connection")
    (root / ".pre-commit-config.yaml").write_text(config)
    (root / "notes.txt").write_text("unrelated\n")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    return root


def _readme_config(repo: Path, rev: str) -> str:
    """The README's .pre-commit-config.yaml, as written, pointed at the local clone."""
    section = README.split("### pre-commit", 1)[1].split("\n### ", 1)[0]
    snippet = next(b.split("\n", 1)[1] for b in section.split("```")[1::2] if "repos:" in b)
    config = yaml.safe_load(snippet)
    (entry,) = config["repos"]
    assert entry["repo"] == "https://github.com/drift-check/drift-check"
    assert entry["hooks"] == [{"id": "drift-check"}]
    entry["repo"], entry["rev"] = str(repo), rev
    return yaml.safe_dump(config, sort_keys=False)


def test_hook_passes_skips_and_blocks_drift(
    tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_home: Path
) -> None:
    project = _project(tmp_path / "app", _readme_config(*hook_repo))
    env = _environment(pre_commit_home)
    subprocess.run([*PRE_COMMIT, "install"], cwd=project, env=env, check=True, capture_output=True)

    first = _git_commit(project, env, "models and migrations")
    assert first.code == 0, first.output
    assert "drift-check (models match migrations)....." in first.output
    assert "Passed" in first.output

    (project / "notes.txt").write_text("still unrelated\n")
    _git(project, "add", "notes.txt")
    unrelated = _git_commit(project, env, "notes only")
    assert unrelated.code == 0, unrelated.output
    assert "(no files to check)Skipped" in unrelated.output

    models = project / "mini_models.py"
    models.write_text(
        models.read_text().replace(
            '    sa.Column("body", sa.String(200), nullable=False),\n',
            '    sa.Column("body", sa.String(200), nullable=False),\n'
            '    sa.Column("title", sa.String(80), nullable=True),\n',
        )
    )
    _git(project, "add", "mini_models.py")
    drift = _git_commit(project, env, "a column without a migration")
    assert drift.code != 0
    assert "Failed" in drift.output and "exit code: 1" in drift.output, drift.output
    assert "SCHEMA DRIFT DETECTED: 1 difference" in drift.output
    assert "column notes.title VARCHAR(80) NULL: in the models" in drift.output
    assert "throwaway PostgreSQL" in drift.output  # no server was needed
    assert _git(project, "log", "--oneline").stdout.count("\n") == 2  # the drift never landed


def _git_commit(project: Path, env: dict[str, str], message: str) -> Run:
    """``git commit``, which runs the installed hook (its output goes to stderr)."""
    completed = subprocess.run(
        [*GIT, "commit", "-q", "-m", message],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)

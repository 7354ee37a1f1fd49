"""The review's settings: each a flag and a DRIFT_* key, shown by ``config`` with its
source, and bad values refused in one line with exit 2."""

from __future__ import annotations

import os
from pathlib import Path

from servers import drift_check


def _env(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "PG", "DRIFT_"))}
    env.update(changes)
    return env


def _shown(stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line)


def test_config_shows_each_setting_and_its_source(project: Path) -> None:
    run = drift_check(
        "config", "--base-ref", "origin/main", "--lint", "--heads", "all",
        env=_env(DRIFT_HEADS="one"), cwd=project,
    )  # fmt: skip
    assert run.code == 0, run.output
    shown = _shown(run.stdout)
    assert shown["DRIFT_BASE_REF"] == "origin/main  [flag]"
    assert shown["DRIFT_BASE_REVISION"] == "(none)  [default]"
    assert shown["DRIFT_LINT"] == "warn  [flag]"
    assert shown["DRIFT_HEADS"] == "all  [flag]"
    from_env = drift_check(
        "config", env=_env(DRIFT_LINT="error", DRIFT_BASE_REVISION="0005"), cwd=project
    )
    shown = _shown(from_env.stdout)
    assert shown["DRIFT_LINT"] == "error  [environment]"
    assert shown["DRIFT_BASE_REVISION"] == "0005  [environment]"


def test_bad_values_are_one_line_and_exit_2(project: Path) -> None:
    run = drift_check(
        "check", "--lint=strict", "--heads", "some",
        env=_env(DRIFT_BASE_REF="main", DRIFT_BASE_REVISION="0005"), cwd=project,
    )  # fmt: skip
    assert run.code == 2, run.output
    [line] = run.stderr.strip().splitlines()
    assert "DRIFT_LINT: 'strict' is not one of off, warn, error" in line
    assert "DRIFT_HEADS: 'some' is not one of one, all" in line
    assert "DRIFT_BASE_REVISION and DRIFT_BASE_REF: set one of them, not both" in line

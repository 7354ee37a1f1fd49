"""Sixteen checks at once against one server: right verdicts, distinct names, nothing left."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from projects import MODELS, patch

from .reliability_support import copy_reference_app, query, start

RUNS = 16
AUTHOR_BIO = "    bio: str | None = Field(default=None, sa_column=Column(Text, nullable=True))\n"
NEW_COLUMN = (
    "    nickname: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))\n"
)


@pytest.mark.slow
def test_sixteen_concurrent_checks(shared18: Any, tmp_path: Path) -> None:
    projects = []
    for number in range(RUNS):
        project = copy_reference_app(tmp_path / f"copy{number:02d}")
        drifted = number % 2 == 1
        if drifted:
            patch(project, MODELS, AUTHOR_BIO, AUTHOR_BIO + NEW_COLUMN)
        projects.append((project, drifted))
    env = shared18.env(DRIFT_CONNECT_TIMEOUT="60")
    processes = [
        (start("check", "--format", "json", env=env, cwd=project), drifted)
        for project, drifted in projects
    ]
    names = []
    problems = []
    for number, (process, drifted) in enumerate(processes):
        result = process.finish(timeout=240)
        expected = 1 if drifted else 0
        if result.code != expected:
            problems.append(f"run {number}: expected exit {expected}\n{result.describe()}")
            continue
        data = json.loads(result.stdout)
        names.append(data["temporary_database"])
        if drifted:
            found = [(d["kind"], d["table"], d["column"]) for d in data["differences"]]
            if found != [("add_column", "authors", "nickname")]:
                problems.append(f"run {number}: wrong differences {found}")
        elif data["differences"]:
            problems.append(f"run {number}: reported drift on a clean copy: {data['differences']}")
    assert not problems, "\n".join(problems)
    assert len(set(names)) == RUNS, names
    rows = query(shared18, "SELECT datname FROM pg_database WHERE datname = ANY(%s)", (names,))
    assert rows == [], rows

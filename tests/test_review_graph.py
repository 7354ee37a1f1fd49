"""The migration graph against the main line, end to end: a real git repository, the real
command line, a real server. Each case is a small project of its own."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from projects import add_migration, mini_project, report
from servers import PostgresServer, drift_check

VERSIONS = Path("migrations/versions")
FAST = ("--compare", "autogenerate")


def git(project: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def revision(project: Path, rev: str, down: str | tuple[str, ...] | None, **kw: str) -> None:
    add_migration(project, rev, down, "pass", versions=VERSIONS)  # type: ignore[arg-type]
    if kw.get("label"):
        path = project / VERSIONS / f"{rev}_test_change.py"
        path.write_text(
            path.read_text().replace("branch_labels = None", f"branch_labels = ({kw['label']!r},)")
        )


def repository(tmp_path: Path) -> Path:
    """A mini project committed on ``main``, with a branch ``feature`` cut from it; ``main``
    then moves on by one revision (0002) while the branch adds its own (0002b)."""
    project = mini_project(tmp_path / "app", "shared-connection")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", ".")
    git(project, "commit", "-qm", "notes")
    git(project, "checkout", "-q", "-b", "feature")
    revision(project, "0002b", "0001")
    git(project, "add", ".")
    git(project, "commit", "-qm", "feature revision")
    git(project, "checkout", "-q", "main")
    revision(project, "0002", "0001")
    git(project, "add", ".")
    git(project, "commit", "-qm", "main moves on")
    git(project, "checkout", "-q", "feature")
    return project


def test_branch_cut_from_an_old_main(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = repository(tmp_path)
    alone = drift_check("check", *FAST, env=pg_server.env(), cwd=project)
    assert alone.code == 0, alone.output  # on its own, the branch has one head
    run = drift_check("check", *FAST, "--base-ref", "main", env=pg_server.env(), cwd=project)
    assert run.code == 2, run.output
    assert "0002b (0002b_test_change.py) is new relative to main" in run.output
    assert "does not descend from its head 0002" in run.output
    merge = "merge main into this branch, then run: alembic merge -m 'merge main' 0002b 0002"
    assert merge in run.stderr
    assert "set down_revision of 0002b to 0002" in run.output
    assert "Traceback" not in run.output
    assert pg_server.temporary_databases() == []  # refused before any database exists


def test_branch_merged_with_main(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = repository(tmp_path)
    git(project, "merge", "-q", "main", "-m", "merge main")
    revision(project, "0003", ("0002b", "0002"))
    run = drift_check(
        "check", *FAST, "--base-ref", "main", "--format", "json", env=pg_server.env(), cwd=project
    )
    assert run.code == 0, run.output
    assert report(run.stdout)["alembic_head"] == "0003"


def test_branch_rebased_onto_main(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = repository(tmp_path)
    git(project, "rebase", "-q", "main")
    path = project / VERSIONS / "0002b_test_change.py"
    path.write_text(path.read_text().replace("down_revision = '0001'", "down_revision = '0002'"))
    run = drift_check("check", *FAST, "--base-ref", "main", "-v", env=pg_server.env(), cwd=project)
    assert run.code == 0, run.output
    assert "head 0002b; 1 new since main" in run.output


def test_base_revision_in_the_same_tree(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = mini_project(tmp_path, "shared-connection")
    revision(project, "0002", "0001", label="a")
    revision(project, "0002b", "0001", label="b")
    env = pg_server.env()
    forked = drift_check(
        "check", *FAST, "--heads", "all", "--base-revision", "0002", env=env, cwd=project
    )
    assert forked.code == 2, forked.output
    assert "0002b (0002b_test_change.py) is new relative to revision 0002" in forked.stderr
    # Each head's own table is in the models: clean only when both heads were applied.
    tags = 'op.create_table("tags", sa.Column("id", sa.Integer, primary_key=True))'
    add_migration(project, "0003b", "0002b", tags, versions=VERSIONS)
    models = project / "mini_models.py"
    models.write_text(
        models.read_text()
        + 'tags = sa.Table("tags", metadata, sa.Column("id", sa.Integer, primary_key=True))\n'
    )
    run = drift_check("check", *FAST, "--heads", "all", "--format", "json", env=env, cwd=project)
    assert run.code == 0, run.output
    assert report(run.stdout)["alembic_head"] in ("0002, 0003b", "0003b, 0002")
    models.write_text(
        models.read_text().replace(
            "primary_key=True))\n", "primary_key=True), sa.Column('label', sa.Text))\n"
        )
    )
    drift = drift_check("check", *FAST, "--heads", "all", env=env, cwd=project)
    assert drift.code == 1 and "column tags.label" in drift.stdout, drift.output


def test_heads_all_checks_each_head(pg_server: PostgresServer, tmp_path: Path) -> None:
    """Several heads on purpose (branch labels): every one is upgraded to, and a new
    revision must follow one of the base's heads."""
    project = mini_project(tmp_path / "app", "shared-connection")
    revision(project, "0002", "0001", label="a")
    revision(project, "0002b", "0001", label="b")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", ".")
    git(project, "commit", "-qm", "two branches")
    revision(project, "0003b", "0002b")
    env = pg_server.env()
    run = drift_check(
        "check", *FAST, "--heads", "all", "--base-ref", "main", "-v", env=env, cwd=project
    )
    assert run.code == 0, run.output
    assert "1 new since main" in run.output
    upgraded = next(line for line in run.output.splitlines() if "upgraded to" in line)
    assert re.search(r"upgraded to (0002, 0003b|0003b, 0002) ", upgraded), upgraded
    revision(project, "0003c", "0001", label="c")  # cut from below both heads
    forked = drift_check(
        "check", *FAST, "--heads", "all", "--base-ref", "main", env=env, cwd=project
    )
    assert forked.code == 2, forked.output
    assert "0003c (0003c_test_change.py) is new relative to main" in forked.stderr


def test_unusable_bases(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = mini_project(tmp_path, "shared-connection")
    env = pg_server.env()
    unknown = drift_check("check", *FAST, "--base-revision", "nope", env=env, cwd=project)
    assert unknown.code == 2 and "DRIFT_BASE_REVISION: 'nope' is not usable" in unknown.stderr
    no_git = drift_check("check", *FAST, "--base-ref", "origin/main", env=env, cwd=project)
    assert no_git.code == 2 and "DRIFT_BASE_REF: git cannot read 'origin/main'" in no_git.stderr
    for run in (unknown, no_git):
        assert "Traceback" not in run.output

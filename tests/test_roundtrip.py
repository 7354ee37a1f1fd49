"""The downgrade round trip (``--roundtrip``) end to end, one small project per case: clean,
an enum left behind, a downgrade that raises, a skip with its reason, ``--roundtrip-to``, and
a graph with a branch and its merge."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from projects import mini_project
from reports import valid_junit, valid_report
from servers import PostgresServer, drift_check

from drift_job.errors import ConfigError
from drift_job.report import CheckResult, render_text
from drift_job.report_junit import render_junit
from drift_job.report_markdown import render_markdown
from drift_job.review_checks import add_review_checks
from drift_job.roundtrip import RoundTrip
from drift_job.settings import load_settings

VERSIONS = Path("migrations/versions")
TAGS_MODELS = """
tags = sa.Table(
    "tags",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.Enum("label", "topic", name="tag_kind"), nullable=False),
)
"""
TAGS_UP = """
op.create_table(
    "tags",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.Enum("label", "topic", name="tag_kind"), nullable=False),
)
"""
TAGS_DOWN = """
op.drop_table("tags")
sa.Enum(name="tag_kind").drop(op.get_bind())
"""


def revision(
    project: Path, rev: str, down: str | tuple[str, ...] | None, up: str, down_body: str
) -> Path:
    """A revision file with the given upgrade() and downgrade() bodies."""

    def body(code: str) -> str:
        return textwrap.indent(textwrap.dedent(code).strip() or "pass", "    ")

    path = project / VERSIONS / f"{rev}_change.py"
    path.write_text(
        f'"""change {rev}"""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f"revision = {rev!r}\ndown_revision = {down!r}\nbranch_labels = None\n"
        "depends_on = None\n\n\n"
        f"def upgrade() -> None:\n{body(up)}\n\n\n"
        f"def downgrade() -> None:\n{body(down_body)}\n"
    )
    return path


def tags_project(root: Path, tags_down: str = TAGS_DOWN) -> Path:
    """The notes project (0001) and a tags table with an enum column (0002)."""
    project = mini_project(root, "shared-connection")
    models = project / "mini_models.py"
    models.write_text(models.read_text() + TAGS_MODELS)
    revision(project, "0002", "0001", TAGS_UP, tags_down)
    return project


def run_json(server: PostgresServer, project: Path, *args: str) -> tuple[int, dict[str, Any]]:
    run = drift_check("check", "--format", "json", *args, env=server.env(), cwd=project)
    assert run.stdout, run.output
    return run.code, valid_report(run.stdout)


def test_a_clean_round_trip(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = tags_project(tmp_path)
    code, report = run_json(pg_server, project, "--roundtrip")
    assert code == 0, report
    trip = report["roundtrip"]
    assert trip["findings"] == [] and trip["checked"] == ["0002", "0001"], trip
    assert "roundtrip" in report["timings"]
    result = CheckResult(report["status"], report["exit_code"], report["message"])
    assert result.as_dict()["roundtrip"] is None  # not asked for
    result.roundtrip = RoundTrip.from_message(trip)
    assert "each downgrade restored the schema as it was before its revision" in render_text(result)


def test_an_enum_left_behind_is_drift(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = tags_project(tmp_path, tags_down='op.drop_table("tags")')
    code, report = run_json(pg_server, project, "--roundtrip")
    assert code == 1, report
    assert report["status"] == "drift" and report["differences"] == []
    leftover, collision = report["roundtrip"]["findings"]
    assert leftover["kind"] == "roundtrip_leftover", leftover
    assert (leftover["object_type"], leftover["path"]) == ("enum", "tag_kind")
    assert (leftover["revision"], leftover["file"]) == ("0002", "0002_change.py")
    assert "leaves enum tag_kind (label, topic) behind" in leftover["detail"]
    # Upgrading again collides with the leftover: reported, but the trace is the verdict.
    assert collision["kind"] == "roundtrip_upgrade_failed", collision
    assert "tag_kind" in collision["detail"] and "already exists" in collision["detail"]
    # The other formats, rendered from this run's result.
    result = CheckResult(report["status"], report["exit_code"], report["message"])
    result.roundtrip = RoundTrip.from_message(report["roundtrip"])
    add_review_checks(result, [str(project / "migrations" / "versions")])
    markdown = render_markdown(result)
    assert "**downgrades restore the schema: failed**" in markdown, markdown
    assert "- `roundtrip_leftover`: downgrade of 0002 (0002_change.py) leaves enum" in markdown
    junit = render_junit(result)
    valid_junit(junit)
    assert 'tests="5" failures="1" errors="0"' in junit, junit
    assert "leaves enum tag_kind" in junit
    text = render_text(result)
    assert text.startswith("the models match the migrations, but:")
    assert "ROUND TRIP FAILED: 2 finding(s)" in text and "[roundtrip_leftover]" in text


def test_a_column_left_changed(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = mini_project(tmp_path, "shared-connection")
    revision(project, "0002", "0001", "op.alter_column('notes', 'body', type_=sa.Text)", "")
    models = project / "mini_models.py"
    models.write_text(models.read_text().replace("sa.String(200)", "sa.Text"))
    code, report = run_json(pg_server, project, "--roundtrip")
    assert code == 1, report
    (changed,) = report["roundtrip"]["findings"]  # upgrading again is the same: no finding
    assert (changed["kind"], changed["path"], changed["step"]) == (
        "roundtrip_changed",
        "notes.body",
        "downgrade",
    )
    assert changed["detail"] == (
        "downgrade of 0002 (0002_change.py) changes column notes.body: "
        "type character varying(200) before 0002, text now"
    )
    # Accepted with a reason, as a difference would be: kind, table and column.
    (project / "drift-check.toml").write_text(
        '[[ignore]]\nkind = "roundtrip_changed"\ntable = "notes"\ncolumn = "body"\n'
        'reason = "0002 is irreversible: text cannot go back to varchar(200) safely"\n'
    )
    code, report = run_json(pg_server, project, "--roundtrip")
    assert code == 0, report
    assert report["status"] == "clean" and report["roundtrip"]["findings"] == []
    (accepted,) = report["differences"]
    assert (accepted["source"], accepted["ignored"]["rule"]) == (
        "roundtrip",
        "drift-check.toml ignore #1",
    )


def test_a_downgrade_that_raises_fails_with_exit_4(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    project = tags_project(tmp_path)
    revision(project, "0003", "0002", "op.add_column('notes', sa.Column('x', sa.Integer))", "")
    models = project / "mini_models.py"
    models.write_text(
        models.read_text().replace(
            'sa.Column("body", sa.String(200), nullable=False),',
            'sa.Column("body", sa.String(200), nullable=False),\n    sa.Column("x", sa.Integer),',
        )
    )
    (project / VERSIONS / "0002_change.py").write_text(
        (project / VERSIONS / "0002_change.py")
        .read_text()
        .replace('op.drop_table("tags")', 'op.drop_column("tags", "no_such_column")')
    )
    run = drift_check("check", "--roundtrip", env=pg_server.env(), cwd=project)
    assert run.code == 4, run.output
    # 0003's downgrade (pass) left column x behind, then 0002's downgrade raised.
    assert "downgrade of 0002 (0002_change.py) raised" in run.stderr, run.stderr
    assert "no_such_column" in run.stderr and "leaves column notes.x behind" in run.stderr
    assert "Traceback" not in run.output


def test_a_skip_needs_a_reason_and_is_reported(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = tags_project(tmp_path, tags_down='raise NotImplementedError("drops data")')
    revision(project, "0003", "0002", "op.create_index('notes_body', 'notes', ['body'])", "")
    (project / "mini_models.py").write_text(
        (project / "mini_models.py").read_text() + '\nsa.Index("notes_body", notes.c.body)\n'
    )
    revision(project, "0004", "0003", "", "")
    no_reason = drift_check(
        "check", "--roundtrip", "--roundtrip-skip", "0002", env=pg_server.env(), cwd=project
    )
    assert no_reason.code == 2, no_reason.output
    assert "DRIFT_ROUNDTRIP_SKIP: '0002' needs a revision and a reason" in no_reason.stderr
    assert no_reason.stderr.count("\n") == 1, no_reason.stderr
    code, report = run_json(
        pg_server, project, "--roundtrip", "--roundtrip-skip", "0002=tags cannot be restored"
    )
    # 0003's downgrade (pass) leaves its index behind: found, even with 0002 skipped.
    assert code == 1, report
    trip = report["roundtrip"]
    assert trip["checked"] == ["0004", "0003"] and trip["kept"] == ["0001", "0002"], trip
    assert trip["skipped"] == [
        {"revision": "0002", "file": "0002_change.py", "reason": "tags cannot be restored"}
    ]
    (found,) = [f for f in trip["findings"] if f["kind"] == "roundtrip_leftover"]
    assert (found["object_type"], found["path"], found["revision"]) == (
        "index",
        "notes.notes_body",
        "0003",
    )


def test_roundtrip_to_stops_there(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = tags_project(tmp_path, tags_down='raise NotImplementedError("not reached")')
    revision(
        project,
        "0003",
        "0002",
        "op.execute('CREATE VIEW all_tags AS SELECT * FROM tags')",
        "op.execute('DROP VIEW all_tags')",
    )
    code, report = run_json(pg_server, project, "--roundtrip", "--roundtrip-to", "0002")
    assert code == 0, report
    assert report["roundtrip"]["checked"] == ["0003"]
    assert report["roundtrip"]["findings"] == []
    unknown = drift_check(
        "check", "--roundtrip", "--roundtrip-to", "nope", env=pg_server.env(), cwd=project
    )
    assert unknown.code == 2, unknown.output
    assert "DRIFT_ROUNDTRIP_TO: 'nope' names no revision" in unknown.stderr
    off = drift_check("check", "--roundtrip-to", "0002", env=pg_server.env(), cwd=project)
    assert off.code == 2 and "the round trip is off" in off.stderr, off.output


def test_branches_and_their_merge(pg_server: PostgresServer, tmp_path: Path) -> None:
    """0001 → 0002a and 0002b → 0003 (merge): every revision downgraded once, each against
    the state recorded just before it, and the leftover blamed on its own branch."""
    project = mini_project(tmp_path, "shared-connection")
    revision(
        project,
        "0002a",
        "0001",
        "op.add_column('notes', sa.Column('title', sa.String(50)))",
        "op.drop_column('notes', 'title')",
    )
    revision(
        project,
        "0002b",
        "0001",
        "op.execute('CREATE SEQUENCE note_numbers')",
        "",
    )
    revision(project, "0003", ("0002a", "0002b"), "", "")
    models = project / "mini_models.py"
    models.write_text(
        models.read_text().replace(
            'sa.Column("body", sa.String(200), nullable=False),',
            'sa.Column("body", sa.String(200), nullable=False),\n'
            '    sa.Column("title", sa.String(50)),',
        )
        + '\nsa.Sequence("note_numbers", metadata=metadata)\n'
    )
    code, report = run_json(pg_server, project, "--roundtrip")
    assert code == 1, report
    trip = report["roundtrip"]
    assert sorted(trip["checked"]) == ["0001", "0002a", "0002b", "0003"], trip
    assert trip["checked"][0] == "0003" and trip["checked"][-1] == "0001"
    # Downgrading 0002b leaves the sequence; it stays through the later downgrades, but is
    # blamed once, on the revision that left it.
    (leftover,) = [f for f in trip["findings"] if f["kind"] == "roundtrip_leftover"]
    assert (leftover["revision"], leftover["object_type"], leftover["path"]) == (
        "0002b",
        "sequence",
        "note_numbers",
    )


def test_settings_from_flags_and_the_environment(tmp_path: Path) -> None:
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    env = {"POSTGRES_HOST": "db", "POSTGRES_USER": "u", "DRIFT_ROUNDTRIP": "yes"}
    settings = load_settings(
        {}, {**env, "DRIFT_ROUNDTRIP_SKIP": "0002=drops data; 0003 = moves rows=twice"}, tmp_path
    )
    assert settings.roundtrip and settings.roundtrip_to is None
    assert settings.roundtrip_skip == (("0002", "drops data"), ("0003", "moves rows=twice"))
    with pytest.raises(ConfigError, match=r"DRIFT_ROUNDTRIP_SKIP: '0003=' needs a revision"):
        load_settings({}, {**env, "DRIFT_ROUNDTRIP_SKIP": "0002=x;0003="}, tmp_path)
    run = drift_check(
        "config",
        "--roundtrip",
        "--roundtrip-to",
        "0001",
        "--roundtrip-skip",
        "0002=a; b",
        env={"PATH": os.environ["PATH"], "POSTGRES_HOST": "db", "POSTGRES_USER": "u"},
        cwd=tmp_path,
    )
    assert run.code == 0, run.output
    assert "DRIFT_ROUNDTRIP=yes  [flag]" in run.stdout
    assert "DRIFT_ROUNDTRIP_TO=0001  [flag]" in run.stdout
    assert "DRIFT_ROUNDTRIP_SKIP=0002=a; b  [flag]" in run.stdout

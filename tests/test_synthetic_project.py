"""The bench's synthetic projects: the head of a small generated project matches its models
under both passes, even with --strict, and a changed model is drift (the models are read)."""

from __future__ import annotations

import sys
from pathlib import Path

from projects import patch, report
from servers import REPO_ROOT, PostgresServer, drift_check

sys.path.insert(0, str(REPO_ROOT / "bench"))
from synthetic import generate


def test_a_generated_project_is_clean_and_its_models_count(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    project = generate(tmp_path / "project", tables=8, migrations=5)
    assert len(list((project / "migrations" / "versions").glob("*.py"))) == 5
    run = drift_check("check", "--strict", "--format", "json", env=pg_server.env(), cwd=project)
    assert run.code == 0, run.output
    data = report(run.stdout)
    assert (data["differences"], data["information"], data["alembic_head"]) == ([], [], "0005")

    table = "    't00007',\n    metadata,\n"
    patch(project, "bench_models.py", table, table + "    sa.Column('extra', sa.Integer()),\n")
    assert drift_check("check", env=pg_server.env(), cwd=project).code == 1

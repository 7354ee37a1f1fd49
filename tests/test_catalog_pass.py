"""The catalog pass end to end: on by default, off with ``--compare autogenerate``, its
information and ``--strict``, and table models the target metadata does not include.
(The catalog engine's cases are in test_catalog_engine.py, the per-project acceptance
cases under tests/catalog/.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from projects import add_migration, mini_project
from servers import PostgresServer, drift_check

VERSIONS = Path("migrations/versions")
EXTRAS = """
op.execute("CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$")
op.execute("CREATE VIEW recent_notes AS SELECT id, body FROM notes")
op.execute("CREATE TRIGGER notes_touch BEFORE UPDATE ON notes FOR EACH ROW EXECUTE FUNCTION touch()")
"""


def _report(run_stdout: str) -> dict[str, object]:
    data = json.loads(run_stdout)
    assert isinstance(data, dict)
    return data


def test_the_reference_app_is_clean_under_both_passes(
    any_pg_server: PostgresServer, project: Path
) -> None:
    run = drift_check("check", "--format", "json", env=any_pg_server.env(), cwd=project)
    assert run.code == 0, run.output
    report = _report(run.stdout)
    assert report["differences"] == [] and report["information"] == []
    assert "catalog" in report["timings"]  # type: ignore[operator]


def test_a_check_constraint_only_the_catalog_pass_sees(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    project = mini_project(tmp_path, "shared-connection")
    models = project / "mini_models.py"
    models.write_text(
        models.read_text().replace(
            'sa.Column("body", sa.String(200), nullable=False),',
            'sa.Column("body", sa.String(200), nullable=False),\n'
            '    sa.CheckConstraint("length(body) > 0", name="body_not_empty"),',
        )
    )
    autogenerate = drift_check(
        "check", "--compare", "autogenerate", "--format", "json", env=pg_server.env(), cwd=project
    )
    assert autogenerate.code == 0, autogenerate.output  # alembic check is blind to it
    assert "catalog" not in _report(autogenerate.stdout)["timings"]  # type: ignore[operator]
    both = drift_check("check", "--format", "json", env=pg_server.env(), cwd=project)
    assert both.code == 1, both.output
    report = _report(both.stdout)
    (difference,) = report["differences"]  # type: ignore[misc]
    assert difference["source"] == "catalog"
    assert difference["kind"] == "add_constraint" and difference["table"] == "notes"
    assert difference["models"] == "CHECK ((length((body)::text) > 0))"
    assert "create_check_constraint" in str(
        report["suggested_migration"]
    ) or "ADD CONSTRAINT" in str(report["suggested_migration"])
    assert pg_server.temporary_databases() == []


def test_information_and_strict(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = mini_project(tmp_path, "shared-connection")
    add_migration(project, "0002", "0001", EXTRAS, versions=VERSIONS)
    run = drift_check("check", "--format", "json", env=pg_server.env(), cwd=project)
    assert run.code == 0, run.output
    kinds = {item["kind"] for item in _report(run.stdout)["information"]}  # type: ignore[attr-defined]
    assert {"function", "view", "trigger"} <= kinds, kinds
    text = drift_check("check", env=pg_server.env(), cwd=project)
    assert "information: " in text.stdout and "--strict makes them drift" in text.stdout
    strict = drift_check("check", "--strict", "--format", "json", env=pg_server.env(), cwd=project)
    assert strict.code == 1, strict.output
    assert {d["source"] for d in _report(strict.stdout)["differences"]} == {"catalog"}  # type: ignore[attr-defined]


def test_a_table_model_missing_from_target_metadata(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    project = mini_project(tmp_path, "shared-connection")
    (project / "audit_models.py").write_text(
        "import sqlalchemy as sa\n\nother = sa.MetaData()\n"
        'audit = sa.Table("audit_log", other, sa.Column("id", sa.Integer, primary_key=True))\n'
    )
    models = project / "mini_models.py"
    models.write_text("import audit_models  # noqa: F401\n" + models.read_text())
    run = drift_check("check", "--format", "json", env=pg_server.env(), cwd=project)
    assert run.code == 0, run.output
    (item,) = _report(run.stdout)["information"]  # type: ignore[misc]
    assert item["kind"] == "model_not_in_target_metadata" and item["table"] == "audit_log"
    assert "audit_models.py" in item["detail"]


FILTERED_ENV_PY = """
    from alembic import context
    import mini_models

    def include_object(obj, name, type_, reflected, compare_to):
        # Mealie's pattern: constraints the migrations define by hand, outside the models.
        return not (type_ == "unique_constraint" and compare_to is None and name == "notes_body_key")

    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection, target_metadata=mini_models.metadata, include_object=include_object
    )
    with context.begin_transaction():
        context.run_migrations()
"""


def test_include_object_filters_constraints_too(pg_server: PostgresServer, tmp_path: Path) -> None:
    import textwrap

    project = mini_project(tmp_path, "shared-connection")
    (project / "migrations" / "env.py").write_text(textwrap.dedent(FILTERED_ENV_PY))
    add_migration(
        project, "0002", "0001", 'op.create_unique_constraint("notes_body_key", "notes", ["body"])',
        versions=VERSIONS,
    )  # fmt: skip
    run = drift_check("check", "--format", "json", env=pg_server.env(), cwd=project)
    assert run.code == 0, run.output


def test_an_extension_only_the_migrations_create_is_information(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    available = {str(r[0]) for r in pg_server.query("SELECT name FROM pg_available_extensions")}
    extension = next((e for e in ("citext", "pgcrypto", "hstore") if e in available), None)
    if extension is None:
        pytest.skip("the server offers none of citext, pgcrypto, hstore")
    project = mini_project(tmp_path, "shared-connection")
    add_migration(
        project, "0002", "0001", f'op.execute("CREATE EXTENSION IF NOT EXISTS {extension}")',
        versions=VERSIONS,
    )  # fmt: skip
    run = drift_check("check", "--format", "json", env=pg_server.env(), cwd=project)
    assert run.code == 0, run.output
    (item,) = _report(run.stdout)["information"]  # type: ignore[misc]
    assert item["kind"] == "extension" and item["object"] == extension
    strict = drift_check("check", "--strict", env=pg_server.env(), cwd=project)
    assert strict.code == 1, strict.output

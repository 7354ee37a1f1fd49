"""What users of the ``alembic`` command expect to keep working: ``-x key=value`` reaching
env.py, ``-n`` choosing the ini section, and a project configured by pyproject.toml alone."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import alembic
import pytest
from projects import mini_project
from servers import PostgresServer, drift_check

X_ENV_PY = """
    from alembic import context
    import mini_models

    tenant = context.get_x_argument(as_dictionary=True).get("tenant")
    if tenant != "acme":
        raise RuntimeError(f"-x tenant=acme is required, got {tenant!r}")
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=mini_models.metadata)
    with context.begin_transaction():
        context.run_migrations()
"""


def test_x_arguments_reach_env_py(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = mini_project(tmp_path, "shared-connection")
    (project / "migrations" / "env.py").write_text(textwrap.dedent(X_ENV_PY))
    without = drift_check("check", env=pg_server.env(), cwd=project)
    assert without.code == 2, without.output
    assert "-x tenant=acme is required" in without.stderr
    flag = drift_check("check", "-x", "tenant=acme", env=pg_server.env(), cwd=project)
    assert flag.code == 0, flag.output
    env = drift_check("check", env=pg_server.env(DRIFT_ALEMBIC_X="tenant=acme"), cwd=project)
    assert env.code == 0, env.output


def test_name_chooses_the_ini_section(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = mini_project(tmp_path, "shared-connection")
    ini = project / "alembic.ini"
    ini.write_text(ini.read_text().replace("[alembic]", "[reporting]"))
    missing = drift_check("check", env=pg_server.env(), cwd=project)
    assert missing.code == 2, missing.output
    assert "no [alembic] section" in missing.stderr
    named = drift_check("check", "-n", "reporting", env=pg_server.env(), cwd=project)
    assert named.code == 0, named.output


@pytest.mark.skipif(
    tuple(int(p) for p in alembic.__version__.split(".")[:2]) < (1, 16),
    reason="pyproject.toml configuration needs Alembic 1.16",
)
def test_a_project_configured_by_pyproject_alone(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = mini_project(tmp_path, "shared-connection")
    (project / "alembic.ini").unlink()
    (project / "pyproject.toml").write_text(
        '[tool.alembic]\nscript_location = "%(here)s/migrations"\nprepend_sys_path = ["."]\n'
    )
    run = drift_check("check", "--format", "json", env=pg_server.env(), cwd=project)
    assert run.code == 0, run.output
    assert json.loads(run.stdout)["alembic_head"] == "0001"

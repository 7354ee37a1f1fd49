"""Side-by-side timing of drift-check and what a user would otherwise run, in one process.

    pip install -e '.[bench]' && python bench/compare.py [--rounds 5]

Every contender checks the bundled reference app (alembic.ini + examples/bookshop) against the
same throwaway PostgreSQL server, started here (or the server named by POSTGRES_HOST etc.):

- drift-check: ``drift-check check`` (a fresh process: interpreter start, imports, everything);
- alembic CLI: ``createdb``, ``alembic upgrade head``, ``alembic check``, ``dropdb``;
- pytest-alembic: ``pytest`` running its built-in single-head, upgrade and model-match tests;
- drift-check (library, warm): ``run_check`` called again in an already-warm process.

It prints the median, min and max of several rounds and each median's ratio to drift-check's.
Machines are noisy: compare medians, and rerun before drawing conclusions.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import URL

from drift_job.runner import run_check
from drift_job.server import ThrowawayServer, find_binaries
from drift_job.settings import load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PYTEST_ALEMBIC_CONFTEST = """
import os

import pytest
from sqlalchemy import create_engine


@pytest.fixture
def alembic_engine():
    return create_engine(os.environ["DATABASE_URL"])
"""
PYTEST_ALEMBIC_TESTS = """
from pytest_alembic.tests import (  # noqa: F401
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_upgrade,
)
"""


def _run(args: list[str], env: dict[str, str], cwd: Path) -> None:
    completed = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(
            f"{' '.join(args[:2])} failed ({completed.returncode}):\n"
            + completed.stdout
            + completed.stderr
        )


class Bench:
    def __init__(self, env: dict[str, str], pg_bindir: Path) -> None:
        self.env = env
        self.pg_bindir = pg_bindir

    def _url(self, database: str) -> str:
        return URL.create(
            "postgresql+psycopg2",
            username=self.env["POSTGRES_USER"],
            password=self.env.get("POSTGRES_PASSWORD"),
            host=self.env["POSTGRES_HOST"],
            port=int(self.env["POSTGRES_PORT"]),
            database=database,
        ).render_as_string(hide_password=False)

    def drift_check(self) -> None:
        _run([str(BIN / "drift-check"), "check"], self.env, REPO_ROOT)

    @contextmanager
    def _scratch_database(self) -> Iterator[dict[str, str]]:
        """What a hand-written CI script does: createdb, run with DATABASE_URL, dropdb."""
        database = f"bench_{uuid.uuid4().hex[:8]}"
        libpq = {
            **self.env,
            "PGHOST": self.env["POSTGRES_HOST"],
            "PGPORT": self.env["POSTGRES_PORT"],
            "PGUSER": self.env["POSTGRES_USER"],
            "PGPASSWORD": self.env.get("POSTGRES_PASSWORD", ""),
        }
        _run([str(self.pg_bindir / "createdb"), database], libpq, REPO_ROOT)
        try:
            yield {**self.env, "DATABASE_URL": self._url(database)}
        finally:
            _run([str(self.pg_bindir / "dropdb"), database], libpq, REPO_ROOT)

    def alembic_cli(self) -> None:
        with self._scratch_database() as env:
            _run([str(BIN / "alembic"), "upgrade", "head"], env, REPO_ROOT)
            _run([str(BIN / "alembic"), "check"], env, REPO_ROOT)

    def pytest_alembic(self, workdir: Path) -> None:
        with self._scratch_database() as env:
            pytest_args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", str(workdir)]
            _run([str(BIN / "python"), *pytest_args], env, REPO_ROOT)

    def library_warm(self) -> None:
        result = run_check(load_settings({}, self.env, cwd=REPO_ROOT))
        if result.exit_code != 0:
            raise SystemExit(f"run_check: {result.message}")


def _time(label: str, action: Callable[[], None], rounds: int) -> tuple[str, list[float]]:
    action()  # warm-up: file-system caches, .pyc files
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return label, samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    server = None
    binaries = find_binaries()
    env = dict(os.environ)
    if not env.get("POSTGRES_HOST"):
        server = ThrowawayServer(binaries, tcp=True, password=uuid.uuid4().hex).start()
        env.update(
            POSTGRES_HOST="127.0.0.1",
            POSTGRES_PORT=str(server.port),
            POSTGRES_USER="postgres",
            POSTGRES_PASSWORD=server.password or "",
        )
    workdir = Path(tempfile.mkdtemp(prefix="drift-check-bench-"))
    try:
        (workdir / "conftest.py").write_text(PYTEST_ALEMBIC_CONFTEST)
        (workdir / "test_migrations.py").write_text(PYTEST_ALEMBIC_TESTS)
        bench = Bench(env, binaries.bindir)
        contenders = [
            ("drift-check (CLI, cold process)", bench.drift_check),
            ("alembic CLI: createdb+upgrade+check+dropdb", bench.alembic_cli),
        ]
        if shutil.which("pytest", path=str(BIN)) and _has("pytest_alembic"):
            contenders.append(
                ("pytest-alembic (3 built-in tests)", lambda: bench.pytest_alembic(workdir))
            )
        else:
            print("pytest-alembic is not installed: pip install -e '.[bench]' to include it")
        contenders.append(("drift-check (library, warm process)", bench.library_warm))
        results = [_time(label, action, args.rounds) for label, action in contenders]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if server is not None:
            server.stop()

    reference = statistics.median(results[0][1])
    print(f"\n{args.rounds} rounds each, seconds (PostgreSQL from {binaries.origin}):")
    print(f"{'contender':<46}{'median':>8}{'min':>8}{'max':>8}{'ratio':>8}")
    for label, samples in results:
        median = statistics.median(samples)
        print(
            f"{label:<46}{median:8.2f}{min(samples):8.2f}{max(samples):8.2f}"
            f"{median / reference:7.2f}x"
        )


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    main()

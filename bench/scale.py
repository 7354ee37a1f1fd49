"""drift-check against the alternatives on synthetic projects of several sizes, side by side.

    pip install -e '.[bench]' && python bench/scale.py [--sizes 26/9,200/300] [--rounds 3]

For each size (tables/migrations) a project is generated (bench/synthetic.py: its head matches
its models) and each contender runs in turn, round after round, against one PostgreSQL server
(a throwaway one started here from --bindir, default the system PostgreSQL 15, or the server
that POSTGRES_HOST etc. name):

- drift-check cold: ``drift-check check`` in a fresh process;
- drift-check cached: ``drift-check check --cache`` (only when ``check --help`` offers it;
  its warm-up run fills the cache);
- drift-check cached +1 revision: the same with one new revision on top of the cached chain
  (a new one each time, which only runs ``SELECT 1``: it measures the clone, one revision
  and storing the new template, not a real revision's DDL);
- plain CLI: ``createdb``, ``alembic upgrade head``, ``alembic check``, ``dropdb``;
- pytest-alembic: ``pytest`` running only ``test_model_definitions_match_ddl``;
- floor: ``createdb``, the saved ``alembic upgrade head --sql`` replayed with ``psql``, one
  catalog query, ``dropdb``.

It prints Markdown: per size the median, min-max and ratios of every contender, then
drift-check's per-stage medians (its progress lines), its peak RSS (the largest of its
processes, from wait4) and how long it took to exit after printing the verdict. The machine is
whatever it is: compare medians of alternating runs, never numbers from different runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from synthetic import generate

from drift_job.server import Binaries, ThrowawayServer, find_binaries

BIN = Path(sys.executable).parent
SYSTEM_PG15 = Path("/usr/lib/postgresql/15/bin")
STAGE_LINE = re.compile(r"^  (\w+)\s+(\d+\.\d+) s  ")
VERDICT = ("no drift:", "SCHEMA DRIFT DETECTED")
CATALOG_QUERY = (
    "SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND a.attnum > 0"
)
PYTEST_CONFTEST = """
import os

import pytest
from sqlalchemy import create_engine


@pytest.fixture
def alembic_engine():
    return create_engine(os.environ["DATABASE_URL"])
"""
EXTRA_REVISION = """\
\"\"\"One more revision on top of the cached chain.\"\"\"
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("SELECT 1")


def downgrade() -> None:
    pass
"""
PYTEST_TEST = "from pytest_alembic.tests import test_model_definitions_match_ddl  # noqa: F401\n"


@dataclass
class Sample:
    """One timed run; drift-check's also has its stages, peak RSS and exit lag."""

    seconds: float
    stages: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float | None = None
    exit_lag: float | None = None


def _check(completed: subprocess.CompletedProcess[str], what: str) -> None:
    if completed.returncode != 0:
        raise SystemExit(
            f"{what} failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
        )


class Contenders:
    """Everything that is timed, for one generated project on one server."""

    def __init__(self, project: Path, env: dict[str, str], bindir: Path) -> None:
        self.project = project
        self.env = env
        self.bindir = bindir
        self.libpq = {
            **env,
            "PGHOST": env["POSTGRES_HOST"],
            "PGPORT": env["POSTGRES_PORT"],
            "PGUSER": env["POSTGRES_USER"],
            "PGPASSWORD": env.get("POSTGRES_PASSWORD", ""),
        }
        self.sql = project / "upgrade.sql"
        self.tests = project / "bench_tests"

    def _run(self, args: list[str], env: dict[str, str] | None = None) -> None:
        completed = subprocess.run(
            args, env=env or self.env, cwd=self.project, capture_output=True, text=True, check=False
        )
        _check(completed, " ".join(args[:3]))

    def _url(self, database: str) -> str:
        password = self.env.get("POSTGRES_PASSWORD", "")
        auth = f"{self.env['POSTGRES_USER']}:{password}" if password else self.env["POSTGRES_USER"]
        return (
            f"postgresql+psycopg2://{auth}@{self.env['POSTGRES_HOST']}:"
            f"{self.env['POSTGRES_PORT']}/{database}"
        )

    def prepare(self) -> None:
        """Save the offline SQL (the floor replays it) and pytest-alembic's test module."""
        offline = {**self.env, "DATABASE_URL": "postgresql://offline/none"}
        completed = subprocess.run(
            [str(BIN / "alembic"), "upgrade", "head", "--sql"],
            env=offline,
            cwd=self.project,
            capture_output=True,
            text=True,
            check=False,
        )
        _check(completed, "alembic upgrade head --sql")
        self.sql.write_text(completed.stdout)
        self.tests.mkdir(exist_ok=True)
        (self.tests / "conftest.py").write_text(PYTEST_CONFTEST)
        (self.tests / "test_match.py").write_text(PYTEST_TEST)

    @contextmanager
    def _scratch(self) -> Iterator[dict[str, str]]:
        database = f"bench_{uuid.uuid4().hex[:8]}"
        self._run([str(self.bindir / "createdb"), database], self.libpq)
        try:
            yield {**self.env, "DATABASE_URL": self._url(database), "PGDATABASE": database}
        finally:
            self._run([str(self.bindir / "dropdb"), database], self.libpq)

    def drift_check(self, *extra: str) -> Sample:
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(BIN / "drift-check"), "check", *extra],
            env=self.env,
            cwd=self.project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        stages: dict[str, float] = {}
        verdict_at = None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if verdict_at is None and line.startswith(VERDICT):
                verdict_at = time.perf_counter()
            matched = STAGE_LINE.match(line)
            if matched:
                stages[matched[1]] = stages.get(matched[1], 0.0) + float(matched[2])
        stderr = process.stderr.read() if process.stderr else ""
        _, status, usage = os.wait4(process.pid, 0)
        ended = time.perf_counter()
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise SystemExit(
                f"drift-check failed ({process.returncode}):\n{''.join(lines)}{stderr}"
            )
        return Sample(
            ended - started,
            stages,
            usage.ru_maxrss / 1024,
            ended - verdict_at if verdict_at is not None else None,
        )

    def drift_check_one_new_revision(self) -> Sample:
        """``--cache`` with a new revision on the generated head, removed again afterwards."""
        versions = self.project / "migrations" / "versions"
        head = max(path.name.split("_")[0] for path in versions.glob("*_step.py"))
        revision = f"x{uuid.uuid4().hex[:11]}"
        extra = versions / f"{revision}_extra.py"
        extra.write_text(EXTRA_REVISION.format(revision=revision, down=head))
        try:
            return self.drift_check("--cache")
        finally:
            extra.unlink()

    def plain_cli(self) -> Sample:
        started = time.perf_counter()
        with self._scratch() as env:
            self._run([str(BIN / "alembic"), "upgrade", "head"], env)
            self._run([str(BIN / "alembic"), "check"], env)
        return Sample(time.perf_counter() - started)

    def pytest_alembic(self) -> Sample:
        started = time.perf_counter()
        with self._scratch() as env:
            self._run([str(BIN / "python"), "-m", "pytest", "-q", str(self.tests)], env)
        return Sample(time.perf_counter() - started)

    def floor(self) -> Sample:
        started = time.perf_counter()
        with self._scratch() as env:
            psql = [str(self.bindir / "psql"), "-q", "-X", "-v", "ON_ERROR_STOP=1"]
            self._run([*psql, "-f", str(self.sql)], {**self.libpq, "PGDATABASE": env["PGDATABASE"]})
            self._run([*psql, "-c", CATALOG_QUERY], {**self.libpq, "PGDATABASE": env["PGDATABASE"]})
        return Sample(time.perf_counter() - started)


def has_cache_flag() -> bool:
    """Whether this drift-check offers the migration cache (``check --cache``)."""
    completed = subprocess.run(
        [str(BIN / "drift-check"), "check", "--help"], capture_output=True, text=True, check=False
    )
    return "--cache" in completed.stdout.replace("--cache-dir", "")


def measure(
    contenders: list[tuple[str, Callable[[], Sample]]], rounds: int, warmup: int
) -> dict[str, list[Sample]]:
    """Every contender once per round, in turn; the warm-up rounds are not counted."""
    samples: dict[str, list[Sample]] = {label: [] for label, _ in contenders}
    for number in range(warmup + rounds):
        for label, action in contenders:
            sample = action()
            if number >= warmup:
                samples[label].append(sample)
            print(f"    {label}: {sample.seconds:.2f} s", file=sys.stderr, flush=True)
    return samples


def _median(values: list[float]) -> float:
    return statistics.median(values)


def table(size: str, samples: dict[str, list[Sample]]) -> list[str]:
    medians = {label: _median([s.seconds for s in runs]) for label, runs in samples.items()}
    references = [r for r in ("plain CLI", "pytest-alembic", "floor") if r in medians]
    lines = [
        f"### {size} (tables / migrations), {len(next(iter(samples.values())))} rounds",
        "",
        "| contender | median s | min-max s | " + " | ".join(f"x {r}" for r in references) + " |",
        "|---|---|---|" + "---|" * len(references),
    ]
    for label, runs in samples.items():
        seconds = [s.seconds for s in runs]
        ratios = " | ".join(f"{medians[label] / medians[r]:.2f}" for r in references)
        lines.append(
            f"| {label} | {medians[label]:.2f} | {min(seconds):.2f}-{max(seconds):.2f} | {ratios} |"
        )
    for label, runs in samples.items():
        if not runs or not runs[0].stages:
            continue
        stages = sorted({stage for s in runs for stage in s.stages}, key=list(runs[0].stages).index)
        per_stage = ", ".join(
            f"{stage} {_median([s.stages.get(stage, 0.0) for s in runs]):.2f}" for stage in stages
        )
        both = _median([s.stages.get("compare", 0.0) + s.stages.get("catalog", 0.0) for s in runs])
        rss = _median([s.peak_rss_mb or 0.0 for s in runs])
        lag = _median([s.exit_lag or 0.0 for s in runs])
        lines += [
            "",
            f"{label}, median stage times (s): {per_stage}; comparison (both passes) "
            f"{both:.2f} s; peak RSS {rss:.0f} MB; exit {lag:.2f} s after the verdict",
        ]
    return [*lines, ""]


def machine(origin: str) -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu}), "
        f"{memory:.0f} GiB RAM, Python {platform.python_version()}, PostgreSQL from {origin}, "
        f"load average {os.getloadavg()[0]:.1f} at the start"
    )


@contextmanager
def bench_server(bindir: Path | None) -> Iterator[tuple[dict[str, str], Binaries]]:
    env = dict(os.environ)
    binaries = Binaries(bindir, str(bindir)) if bindir else find_binaries()
    if env.get("POSTGRES_HOST"):
        yield env, binaries
        return
    server = ThrowawayServer(binaries, tcp=True, password=uuid.uuid4().hex).start()
    try:
        env.update(
            POSTGRES_HOST="127.0.0.1",
            POSTGRES_PORT=str(server.port),
            POSTGRES_USER="postgres",
            POSTGRES_PASSWORD=server.password or "",
        )
        yield env, binaries
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="26/9,200/300,500/20,1000/20,2000/20")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument(
        "--bindir",
        type=Path,
        default=SYSTEM_PG15 if (SYSTEM_PG15 / "initdb").is_file() else None,
        help="PostgreSQL binaries for the throwaway server, createdb, dropdb and psql",
    )
    parser.add_argument("--skip", default="", help="contenders to leave out, comma-separated")
    args = parser.parse_args()
    skip = {name.strip() for name in args.skip.split(",") if name.strip()}
    cached = has_cache_flag()
    with bench_server(args.bindir) as (env, binaries):
        print(f"Machine: {machine(binaries.origin)}\n")
        for size in args.sizes.split(","):
            tables, migrations = (int(part) for part in size.split("/"))
            root = Path(tempfile.mkdtemp(prefix="drift-check-scale-"))
            try:
                print(f"  {size}: generating", file=sys.stderr, flush=True)
                contenders = Contenders(
                    generate(root / "project", tables, migrations), env, binaries.bindir
                )
                contenders.prepare()
                chosen: list[tuple[str, Callable[[], Sample]]] = [
                    ("drift-check cold", contenders.drift_check)
                ]
                if cached:
                    cached_run = partial(contenders.drift_check, "--cache")
                    chosen.append(("drift-check cached", cached_run))
                    chosen.append(
                        ("drift-check cached +1 revision", contenders.drift_check_one_new_revision)
                    )
                chosen += [
                    ("plain CLI", contenders.plain_cli),
                    ("pytest-alembic", contenders.pytest_alembic),
                    ("floor", contenders.floor),
                ]
                chosen = [(label, action) for label, action in chosen if label not in skip]
                samples = measure(chosen, args.rounds, args.warmup)
                print("\n".join(table(size, samples)), flush=True)
            finally:
                shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

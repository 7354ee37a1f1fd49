"""Building a case's project, running drift-check on many of them at once, and reading the
differences of a JSON report."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import servers
from projects import add_migration, mini_project

from .cases import Case, Expect

VERSIONS_DIR = Path("migrations/versions")
#: Every key the spec gives a difference dict, plus the pass that found it.
DIFFERENCE_KEYS = {
    "kind",
    "schema",
    "table",
    "column",
    "object",
    "migrations",
    "models",
    "detail",
    "object_type",
    "source",
}
#: What the suggested migration may use, as ``alembic revision --autogenerate``'s template has.
FIX_IMPORTS = "from sqlalchemy.dialects import postgresql  # noqa: F401\n"
WORKERS = 4


def revision_id(number: int) -> str:
    return f"{number:04d}"


def build(case: Case, root: Path, *, fix: str | None = None) -> Path:
    """The mini project turned into ``case``: its models, env.py and migrations, plus the
    suggested migration ``fix`` as one more revision on top when given."""
    root.mkdir(parents=True)
    project = mini_project(root, "shared-connection")
    (project / VERSIONS_DIR / "0001_notes.py").unlink()
    (project / "mini_models.py").write_text(case.models)
    if case.env_py is not None:
        (project / "migrations" / "env.py").write_text(textwrap.dedent(case.env_py))
    bodies = list(case.migrations)
    if fix is not None:
        bodies.append(FIX_IMPORTS + fix)
    for number, body in enumerate(bodies, start=1):
        down = revision_id(number - 1) if number > 1 else None
        add_migration(project, revision_id(number), down, body, versions=VERSIONS_DIR)
    return project


@dataclass
class Outcome:
    case: Case
    version: int
    args: tuple[str, ...]
    run: servers.Run
    project: Path

    def report(self) -> dict[str, Any]:
        try:
            data = json.loads(self.run.stdout)
        except json.JSONDecodeError:
            pytest.fail(f"no JSON report (exit {self.run.code}):\n{self.run.output}")
        assert isinstance(data, dict), data
        return data

    def describe(self) -> str:
        return (
            f"{self.case.id} on PostgreSQL {self.version} "
            f"with {' '.join(self.args) or 'the default passes'}: "
            f"exit {self.run.code}\n--- stdout\n{self.run.stdout}\n--- stderr\n{self.run.stderr}"
        )


#: Every run of the session, so a module reuses what another one already ran.
DONE: dict[tuple[str, int, tuple[str, ...], str | None], Outcome] = {}


@dataclass(frozen=True)
class Job:
    case: Case
    version: int
    args: tuple[str, ...] = ()
    fix: str | None = None

    @property
    def key(self) -> tuple[str, int, tuple[str, ...], str | None]:
        return (self.case.id, self.version, self.args, self.fix)


def _run(job: Job, root: Path, number: int) -> Outcome:
    server = servers.server(job.version)
    project = build(job.case, root / f"{number:03d}-{job.case.id}-pg{job.version}", fix=job.fix)
    run = servers.drift_check(
        "check", "--format", "json", *job.args, env=server.env(), cwd=project, timeout=120
    )
    return Outcome(job.case, job.version, job.args, run, project)


def run_all(
    jobs: Iterable[Job], root: Path
) -> dict[tuple[str, int, tuple[str, ...], str | None], Outcome]:
    """Run every job not run yet, a few at a time (they are independent processes)."""
    todo = {job.key: job for job in jobs if job.key not in DONE}
    for version in {job.version for job in todo.values()}:
        servers.server(version)  # start servers here, not from several threads
    start = len(DONE)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = {
            key: pool.submit(_run, job, root, start + number)
            for number, (key, job) in enumerate(todo.items())
        }
        for key, future in futures.items():
            DONE[key] = future.result()
    return DONE


def selected(request: pytest.FixtureRequest, module: str) -> list[tuple[str, Case, int | None]]:
    """(test function, case, server version) of every collected test of ``module`` that takes a
    case: the module's fixture runs only those (so -k selects runs too)."""
    picked: list[tuple[str, Case, int | None]] = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or getattr(item, "module", None) is None:
            continue
        case = callspec.params.get("case")
        if item.module.__name__ == module and isinstance(case, Case):
            picked.append((item.originalname, case, callspec.params.get("any_pg_server")))
    return picked


def name_of(difference: dict[str, Any]) -> str | None:
    """The column, else the object (index, constraint, enum...) a difference is about."""
    value = difference.get("column") or difference.get("object")
    return None if value is None else str(value)


def key_of(difference: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    return (difference.get("schema"), difference.get("table"), name_of(difference))


def check_differences(
    differences: list[dict[str, Any]], expected: Iterable[Expect], *, details: bool = True
) -> None:
    """The differences are exactly the expected ones: same (schema, table, name) keys, kinds
    among the accepted ones (each expectation met by at least one), details as expected, and
    nothing reported twice."""
    listing = "\n".join(
        f"  {d.get('source')} {d.get('kind')} {key_of(d)}: {d.get('detail')}" for d in differences
    )
    for difference in differences:
        missing = DIFFERENCE_KEYS - difference.keys()
        assert not missing, f"difference without {sorted(missing)}: {difference}"
        assert difference["source"] in ("autogenerate", "catalog"), difference
    identities = [(d["kind"], *key_of(d)) for d in differences]
    twice = sorted({str(i) for i in identities if identities.count(i) > 1})
    assert not twice, f"reported more than once: {twice}\n{listing}"
    expected = list(expected)
    assert {key_of(d) for d in differences} == {e.key for e in expected}, listing
    for key in {e.key for e in expected}:
        here = [d for d in differences if key_of(d) == key]
        wanted = [e for e in expected if e.key == key]
        accepted = frozenset().union(*(e.kinds for e in wanted))
        assert {d["kind"] for d in here} <= accepted, f"{key}: kinds not in {accepted}\n{listing}"
        for expect in wanted:
            matching = [d for d in here if d["kind"] in expect.kinds]
            assert matching, f"{key}: no {expect.kind}\n{listing}"
            text = "\n".join(str(d["detail"]) for d in matching)
            for part in expect.details if details else ():
                assert part in text, f"{key}: {part!r} not in the detail\n{listing}"

"""The catalog pass, case by case (see cases.py), through the real command line.

Every case runs with the default passes on every available server (PostgreSQL 15 and 18):
the exit code, the differences (exactly the expected ones, each reported once even when both
passes found it), their details, and ``information``. Then with ``--compare autogenerate``
(Alembic autogenerate alone, as drift-check was before the catalog pass) on the newest server,
and with ``--strict`` where the case says. The runs are independent processes: a module-scoped
fixture runs them a few at a time, then each is reported as its own test.
"""

from __future__ import annotations

from typing import Any

import pytest
import servers

from . import harness
from .cases import BY_ID, CASES, CLEAN, DRIFT, FILTERS, INFORMATION, Case
from .harness import Job, Outcome

NEWEST = max(servers.AVAILABLE)
AUTOGENERATE = ("--compare", "autogenerate")
STRICT = ("--strict",)
INFORMATION_KEYS = {"kind", "schema", "table", "object", "detail"}


def _jobs(test: str, case: Case, version: int | None) -> list[Job]:
    if test == "test_default_passes" and version in servers.AVAILABLE:
        return [Job(case, version)]
    if test == "test_autogenerate_alone":
        return [Job(case, NEWEST, AUTOGENERATE)]
    if test == "test_strict":
        return [Job(case, NEWEST, STRICT)]
    return []


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[Any, Outcome]:
    jobs = [
        job
        for test, case, version in harness.selected(request, __name__)
        for job in _jobs(test, case, version)
    ]
    return harness.run_all(jobs, tmp_path_factory.mktemp("catalog"))


def _params(cases: list[Case]) -> list[Any]:
    return [pytest.param(case, id=case.id) for case in cases]


def test_the_table_covers_the_issue() -> None:
    assert len(DRIFT) >= 17 and len(CLEAN) >= 8 and INFORMATION and FILTERS
    for case in DRIFT:
        assert case.expected, f"{case.id}: a drift case names its differences"
    for case in CLEAN + FILTERS:
        assert not case.expected and case.code == 0 and case.autogenerate_code == 0, case.id
    for case in CASES:
        assert compile(case.models, f"{case.id}/mini_models.py", "exec")
    missed = [case.id for case in DRIFT if case.autogenerate_code == 0]
    assert len(missed) >= 10, "most drift cases are what autogenerate cannot see"
    assert BY_ID["enum_values_reordered"].no_safe_fix


@pytest.mark.parametrize("case", _params(CASES))
def test_default_passes(
    case: Case, any_pg_server: servers.PostgresServer, outcomes: dict[Any, Outcome]
) -> None:
    outcome = outcomes[Job(case, any_pg_server.version).key]
    code = outcome.run.code
    assert code == case.code, outcome.describe()
    report = outcome.report()
    assert report["exit_code"] == case.code
    assert report["status"] == ("drift" if case.drift else "clean"), outcome.describe()
    differences = report["differences"]
    harness.check_differences(differences, case.expected)
    if case.autogenerate_code == 0:  # autogenerate cannot have found any of them
        assert all(d["source"] == "catalog" for d in differences), differences
    if case.drift:
        assert str(report["suggested_migration"]).strip(), outcome.describe()
    information = report["information"]
    assert isinstance(information, list), report
    for entry in information:
        assert entry.keys() >= INFORMATION_KEYS, entry
        assert "only in the migrations" in entry["detail"], entry
    found = sorted((entry["kind"], entry["object"]) for entry in information)
    assert found == sorted(case.information), information


@pytest.mark.parametrize("case", _params(CASES))
def test_autogenerate_alone(case: Case, outcomes: dict[Any, Outcome]) -> None:
    """What drift-check said before the catalog pass: a 0 on a drift case is a blind spot."""
    outcome = outcomes[Job(case, NEWEST, AUTOGENERATE).key]
    code = outcome.run.code
    assert code == case.autogenerate_code, outcome.describe()
    report = outcome.report()
    differences = report["differences"]
    assert all(d["source"] == "autogenerate" for d in differences), differences
    assert report["information"] == [], report["information"]
    if case.autogenerate_code == 1:  # what both passes find, autogenerate finds alike
        harness.check_differences(differences, case.expected, details=False)


@pytest.mark.parametrize("case", _params([c for c in CASES if c.strict_code is not None]))
def test_strict(case: Case, outcomes: dict[Any, Outcome]) -> None:
    """With --strict, what the models cannot express is drift."""
    outcome = outcomes[Job(case, NEWEST, STRICT).key]
    code = outcome.run.code
    assert code == case.strict_code, outcome.describe()
    report = outcome.report()
    assert report["status"] == "drift", report
    found = sorted((entry["kind"], entry["object"]) for entry in report["information"])
    assert found == sorted(case.information), report["information"]

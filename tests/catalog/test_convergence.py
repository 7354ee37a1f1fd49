"""The suggested migration fixes what it reports: for every drift case, the report's
``suggested_migration`` becomes one more revision on top of the case's migrations, and
drift-check run again says clean. Where no safe operation exists (reordering an enum's labels)
the suggestion says why in a comment, and the case stays drifted."""

from __future__ import annotations

import json

import pytest
import servers

from . import harness
from .cases import DRIFT, Case
from .harness import Job, Outcome

NEWEST = max(servers.AVAILABLE)


@pytest.fixture(scope="module")
def converged(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Outcome, Outcome | None]]:
    """For each selected case: the first run, and the run with its suggested migration added."""
    root = tmp_path_factory.mktemp("convergence")
    cases = [case for _, case, _ in harness.selected(request, __name__)]
    first = harness.run_all([Job(case, NEWEST) for case in cases], root)
    fixes: dict[str, Job] = {}
    for case in cases:
        outcome = first[Job(case, NEWEST).key]
        fix = _fix(outcome)
        if outcome.run.code == 1 and fix.strip():
            fixes[case.id] = Job(case, NEWEST, fix=fix)
    second = harness.run_all(fixes.values(), root)
    return {
        case.id: (
            first[Job(case, NEWEST).key],
            second[fixes[case.id].key] if case.id in fixes else None,
        )
        for case in cases
    }


def _fix(outcome: Outcome) -> str:
    try:
        data = json.loads(outcome.run.stdout)
    except json.JSONDecodeError:
        return ""
    return str(data.get("suggested_migration") or "") if isinstance(data, dict) else ""


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in DRIFT])
def test_the_suggested_migration_converges(
    case: Case, converged: dict[str, tuple[Outcome, Outcome | None]]
) -> None:
    first, second = converged[case.id]
    assert first.run.code == 1, first.describe()
    fix = _fix(first)
    assert fix.strip(), f"no suggested migration\n{first.describe()}"
    assert second is not None
    if case.no_safe_fix:
        comments = [line for line in fix.splitlines() if line.strip().startswith("#")]
        names = {e.name for e in case.expected}
        assert any(name and name in line for line in comments for name in names), (
            f"the suggestion should say in a comment why nothing is done ({case.no_safe_fix})\n"
            + fix
        )
        assert second.run.code == 1, f"{case.no_safe_fix}\n{second.describe()}"
        still = {harness.key_of(d) for d in second.report()["differences"]}
        assert still == {e.key for e in case.expected}, second.describe()
    else:
        assert second.run.code == 0, f"--- suggested migration\n{fix}\n{second.describe()}"


def test_no_safe_fix_is_rare() -> None:
    stuck = [case.id for case in DRIFT if case.no_safe_fix]
    assert stuck == ["enum_values_reordered"]

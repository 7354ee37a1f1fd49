"""pytest plugin: ``pytest --drift-check`` adds one test item per part of the check, and the
``drift_check`` fixture returns the check's :class:`~drift_job.report.CheckResult`.

For teams whose migrations are tested with pytest today (pytest-alembic users). It is
registered through the ``pytest11`` entry point, so pytest loads it wherever drift-check is
installed: it imports nothing heavy until a check is asked for, and adds nothing to a session
without ``--drift-check``. The check runs once per session, whether the items, the fixture or
both ask for it (see :mod:`drift_job.plugin_session`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from drift_job.plugin_session import SessionCheck
    from drift_job.report import CheckResult

#: The items, in the order the check runs their parts.
#: ``verdict`` is the run's exit code: what no part reports (the lint, the round trip…).
CHECKS = ("settings", "migrations", "autogenerate", "catalog", "verdict")
SESSION_CHECK = pytest.StashKey["SessionCheck"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("drift-check", "schema drift between models and migrations")
    group.addoption(
        "--drift-check",
        action="store_true",
        default=False,
        help="add the drift check's items (settings, migrations, autogenerate, catalog, verdict)",
    )
    group.addoption(
        "--drift-check-args",
        metavar="ARGS",
        default=None,
        help="drift-check check arguments, e.g. '--compare autogenerate' "
        "(instead of the drift_check_args ini option)",
    )
    parser.addini(
        "drift_check_args",
        type="args",
        default=[],
        help="drift-check check arguments for pytest --drift-check and the drift_check fixture",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "drift_check: an item of pytest --drift-check")


@pytest.hookimpl(tryfirst=True)  # before -k, -m and --deselect look at the items
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if not config.getoption("drift_check"):
        return
    parent = DriftCheckCollector.from_parent(session, name="drift-check", nodeid="drift-check")
    for name in CHECKS:
        item = DriftCheckItem.from_parent(parent, name=name)
        item.add_marker("drift_check")
        items.append(item)


@pytest.fixture(scope="session")
def drift_check(pytestconfig: pytest.Config) -> CheckResult:
    """The result of the session's drift check (run on first use); never raises for a
    failure the check knows: read ``status``, ``exit_code`` and ``message``."""
    return session_check(pytestconfig).result


def session_check(config: pytest.Config) -> SessionCheck:
    """Run the check the first time anything asks for it, then share its result."""
    if SESSION_CHECK not in config.stash:
        # Imported here: it loads SQLAlchemy and Alembic, which a session without a check
        # must not pay for.
        from drift_job.plugin_session import run_session_check  # noqa: PLC0415

        config.stash[SESSION_CHECK] = run_session_check(config)
    return config.stash[SESSION_CHECK]


class DriftCheckFailure(Exception):
    """A part of the check failed; its text is the whole failure report."""


class DriftCheckCollector(pytest.Collector):
    """The parent of the check's items (they are added, not collected from files)."""

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        return []


class DriftCheckItem(pytest.Item):
    """One part of the check: its failure text is what that part found."""

    def runtest(self) -> None:
        outcome, text = session_check(self.config).verdict(self.name)
        if outcome == "skipped":
            pytest.skip(text)
        if outcome == "failed":
            raise DriftCheckFailure(text)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        if isinstance(excinfo.value, DriftCheckFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"drift-check: {self.name}"

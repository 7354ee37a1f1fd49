"""The downgrade round trip: upgrade one revision at a time recording the catalog after each,
downgrade one revision at a time comparing each result with the state before that revision,
then upgrade again and compare with the first upgrade.

The revisions are applied in one fixed order (a topological order of the graph, the revisions
that stay applied first), and each downgrade undoes exactly the last revision applied, so the
state a downgrade must restore is always one that was recorded on the way up, whatever
branches and merges the graph has. Each step is its own env.py run, as ``alembic upgrade
REV`` would be, on the shared connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationStep
from alembic.script import Script
from sqlalchemy.engine import URL

from .catalog import Snapshot, snapshot
from .catalog_pass import connected
from .classify import Failure, classify, one_line
from .project import Project
from .protocol import DOWNGRADE_FAILED, UPGRADE_FAILED
from .roundtrip_diff import Where, traces
from .upgrade import shared_connection

BASE = "base"


def _resolve(project: Project, key: str, given: str) -> Script | None:
    """The revision a setting names (an id, a unique prefix, head or base); None for base."""
    if given == BASE:
        return None
    try:
        found = project.script.get_revision(given)
    except Exception as exc:  # Alembic's ResolutionError, ambiguous prefixes, bad symbols
        raise Failure("config", f"{key}: {given!r} names no revision ({exc})") from exc
    if found is None:
        raise Failure("config", f"{key}: {given!r} names no revision")
    return found


class Plan:
    """The order of the round trip: ``kept`` stay applied, ``checked`` are downgraded."""

    def __init__(self, project: Project, options: Mapping[str, Any]) -> None:
        script = project.script
        self.skipped: dict[str, str] = {}
        stay: list[Script] = []
        to = options.get("to")
        if to:
            target = _resolve(project, "DRIFT_ROUNDTRIP_TO", str(to))
            stay += [target] if target is not None else []
        for given, reason in options.get("skip", []):
            target = _resolve(project, "DRIFT_ROUNDTRIP_SKIP", str(given))
            if target is not None:
                stay.append(target)
                self.skipped[target.revision] = str(reason)
        kept = {
            ancestor.revision
            for revision in stay
            for ancestor in script.iterate_revisions(revision.revision, BASE)
        }
        upward = [s.revision for s in reversed(list(script.walk_revisions())) if s is not None]
        self.kept = [r for r in upward if r in kept]
        self.checked = [r for r in upward if r not in kept]
        self.order = self.kept + self.checked
        #: Each revision → the state recorded just before it was applied.
        self.before = {r: self.order[i - 1] if i else BASE for i, r in enumerate(self.order)}
        self.files = project.files

    def named(self, revision: str) -> str:
        return f"{revision} ({self.files.get(revision, revision)})"


def _step(project: Project, url: URL, sync_url: URL, revision: str, *, up: bool) -> None:
    """Apply or undo exactly ``revision`` in one env.py run."""
    script = project.script
    found = script.get_revision(revision)
    if found is None:  # the plan holds only revisions of this graph
        raise RuntimeError(f"revision {revision} vanished from the migration graph")
    if up:
        step = MigrationStep.upgrade_from_script(script.revision_map, found)
        destination: str = revision
    else:
        step = MigrationStep.downgrade_from_script(script.revision_map, found)
        parents = found.down_revision
        destination = parents if isinstance(parents, str) else BASE if not parents else parents[0]

    def steps(rev: Any, context: Any) -> list[Any]:
        return [step]

    # Nested: parenthesised context managers are not Python 3.8 syntax.
    with shared_connection(project, url, sync_url, autogenerate=False) as config:  # noqa: SIM117
        with EnvironmentContext(config, script, fn=steps, destination_rev=destination):
            script.run_env()


class RoundTrip:
    """One database's round trip; ``upgrade()`` replaces ``alembic upgrade head``."""

    def __init__(
        self, project: Project, url: URL, sync_url: URL, options: Mapping[str, Any]
    ) -> None:
        self.project, self.url, self.sync_url = project, url, sync_url
        self.plan = Plan(project, options)
        self.recorded: dict[str, Snapshot] = {}
        self.findings: list[dict[str, Any]] = []
        #: Traces already blamed on a downgrade: one that persists is not blamed again.
        self._blamed: set[tuple[Any, ...]] = set()

    def _snapshot(self) -> Snapshot:
        with connected(self.sync_url) as connection:
            return snapshot(connection)

    def upgrade(self) -> None:
        """Upgrade to head one revision at a time, recording the catalog after each."""
        self.recorded[BASE] = self._snapshot()
        for revision in self.plan.order:
            _step(self.project, self.url, self.sync_url, revision, up=True)
            self.recorded[revision] = self._snapshot()

    def run(self) -> dict[str, Any]:
        """Downgrade the checked revisions one at a time, then upgrade again to head."""
        undone: list[str] = []
        for revision in reversed(self.plan.checked):
            if not self._undo(revision):
                break
            undone.append(revision)
        self._redo(list(reversed(undone)))
        return {
            "findings": self.findings,
            "checked": undone,
            "kept": self.plan.kept,
            "skipped": [
                {"revision": r, "file": self.plan.files.get(r, r), "reason": why}
                for r, why in self.plan.skipped.items()
            ],
        }

    def _undo(self, revision: str) -> bool:
        plan = self.plan
        subject = f"downgrade of {plan.named(revision)}"
        try:
            _step(self.project, self.url, self.sync_url, revision, up=False)
        except Exception as exc:
            self._failed(DOWNGRADE_FAILED, revision, subject, exc)
            return False
        where = Where(subject, f"before {revision}")
        found = traces(self._snapshot(), self.recorded[plan.before[revision]], where)
        self._add(found, revision, "downgrade")
        return True

    def _redo(self, revisions: list[str]) -> None:
        for revision in revisions:
            try:
                _step(self.project, self.url, self.sync_url, revision, up=True)
            except Exception as exc:
                subject = f"upgrading {self.plan.named(revision)} again"
                self._failed(UPGRADE_FAILED, revision, subject, exc)
                return
        if not revisions:
            return
        head = self.plan.order[-1]
        where = Where("upgrading again to head", "after the first upgrade")
        self._add(traces(self._snapshot(), self.recorded[head], where), None, "upgrade")

    def _add(self, found: list[dict[str, Any]], revision: str | None, step: str) -> None:
        for entry in found:
            identity = tuple(entry[k] for k in ("kind", "object_type", "path"))
            if step == "downgrade" and identity in self._blamed:
                continue
            self._blamed.add(identity)
            file = self.plan.files.get(revision) if revision else None
            self.findings.append({**entry, "revision": revision, "file": file, "step": step})

    def _failed(self, kind: str, revision: str, subject: str, error: Exception) -> None:
        """A migration that raised is a finding; anything else (the server gone, a broken
        env.py) stops the run as it would stop ``alembic upgrade``."""
        failure = classify(
            error,
            stage="roundtrip",
            env_py=self.project.env_py,
            version_dirs=self.project.version_dirs,
            guard_message=None,
        )
        if failure.category != "migration":
            raise failure from error
        file = self.plan.files.get(revision, revision)
        detail = f"{subject} raised {one_line(error)}"
        failures = (DOWNGRADE_FAILED, UPGRADE_FAILED)
        if kind == UPGRADE_FAILED and any(f["kind"] not in failures for f in self.findings):
            detail += " (probably a collision with what a downgrade left behind)"
        self.findings.append(
            {
                "kind": kind,
                "object_type": "revision",
                "schema": None,
                "table": None,
                "column": None,
                "object": revision,
                "path": revision,
                "detail": detail,
                "revision": revision,
                "file": file,
                "step": "downgrade" if kind == DOWNGRADE_FAILED else "upgrade",
            }
        )

"""The review of the revisions themselves: the graph against the main line, and the
records the data-safety lint judges (the supervisor applies the rules)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .base_line import Base, load_base
from .graph_check import check_descent, new_revisions
from .lint_record import record, timeouts_in
from .main_support import Stages
from .project import Project


@dataclass
class NewRevisions:
    """The revisions the base does not have (every revision when there is no base)."""

    base: Base | None
    revisions: list[str] = field(default_factory=list)

    @property
    def note(self) -> str:
        if self.base is None:
            return ""
        return f"; {len(self.revisions)} new since {self.base.label}"


def review_graph(project: Project, review: dict[str, Any]) -> NewRevisions:
    """Refuse new revisions that fork the base's history (exit 2, with the merge command)."""
    base = load_base(project, review)
    if base is None:
        return NewRevisions(None, new_revisions(project.script, None))
    revisions = check_descent(project.script, base, all_heads=review.get("heads") == "all")
    return NewRevisions(base, revisions)


def lint_revisions(project: Project, new: NewRevisions, stages: Stages) -> dict[str, Any]:
    """Every revision's statements in upgrade order (the older ones tell the rules what the
    new ones change, such as an enum's values), with the new ones marked."""
    with stages.stage("lint") as note:
        wanted = set(new.revisions)
        ordered = [s for s in project.script.walk_revisions() if s is not None][::-1]
        config = project.new_config(autogenerate=False)
        revisions = []
        for script in ordered:
            recorded = record(script, config, project.script)
            recorded["new"] = script.revision in wanted
            revisions.append(recorded)
        note.append(f"recorded {len(wanted)} new revision(s) offline")
    return {
        "revisions": revisions,
        "env_py_sets_timeouts": timeouts_in(str(project.env_py)),
    }

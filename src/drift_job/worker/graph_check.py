"""Every revision new relative to the base must descend from the base's head.

A branch cut from an old main line passes every check on its own (one head), and forks the
history as soon as it is merged: the base's newer revisions and the branch's both follow
the same old parent. This finds it before the merge, from the files alone.
"""

from __future__ import annotations

from pathlib import Path

from alembic import util
from alembic.script import Script, ScriptDirectory

from .base_line import Base
from .classify import Failure


def _ancestry(scripts: dict[str, Script], start: str) -> set[str]:
    """``start`` and every revision it descends from (through merges too)."""
    seen: set[str] = set()
    pending = [start]
    while pending:
        revision = pending.pop()
        if revision in seen:
            continue
        seen.add(revision)
        script = scripts.get(revision)
        if script is not None:
            pending.extend(str(parent) for parent in util.to_tuple(script.down_revision, ()))
    return seen


def new_revisions(script: ScriptDirectory, base: Base | None) -> list[str]:
    """The project's revisions the base does not have, oldest first (all without a base)."""
    ordered = [s.revision for s in script.walk_revisions() if s is not None][::-1]
    return [r for r in ordered if base is None or r not in base.revisions]


def check_descent(script: ScriptDirectory, base: Base, *, all_heads: bool) -> list[str]:
    """The new revisions, once each has been found to descend from the base's head (itself,
    or through a merge revision that does).

    With ``all_heads`` (several heads on purpose), descending from one of the base's heads is
    enough, and so is descending from none of the base's revisions (a new, independent branch).
    """
    scripts: dict[str, Script] = {s.revision: s for s in script.walk_revisions() if s}
    new = new_revisions(script, base)
    if not new or not base.heads:
        return new
    forking = [r for r in new if not _descends(_ancestry(scripts, r), base, all_heads=all_heads)]
    heads = list(script.get_heads())
    for head in heads:  # a fork merged again by a revision that descends is no fork
        ancestry = _ancestry(scripts, head)
        if _descends(ancestry, base, all_heads=all_heads):
            forking = [r for r in forking if r not in ancestry]
    if forking:
        raise Failure("config", _message(scripts, base, forking, heads))
    return new


def _descends(ancestry: set[str], base: Base, *, all_heads: bool) -> bool:
    found = [head in ancestry for head in base.heads]
    if all_heads:
        return any(found) or not ancestry & base.revisions
    return all(found)


def _message(scripts: dict[str, Script], base: Base, forking: list[str], heads: list[str]) -> str:
    def named(revision: str) -> str:
        return f"{revision} ({Path(scripts[revision].path).name})"

    base_heads = " ".join(base.heads)
    branch_heads = [h for h in heads if set(forking) & _ancestry(scripts, h)]
    first = [
        r for r in forking if not set(util.to_tuple(scripts[r].down_revision, ())) & set(forking)
    ]
    missing = [h for h in base.heads if h not in scripts]
    merge = f"alembic merge -m 'merge {base.label}' {' '.join([*branch_heads, *base.heads])}"
    return (
        f"migration graph: {', '.join(named(r) for r in forking)} "
        f"{'is' if len(forking) == 1 else 'are'} new relative to {base.label} but "
        f"{'does' if len(forking) == 1 else 'do'} not descend from its head {base_heads}: "
        "merged, the history would fork into several heads; "
        + (f"merge {base.label} into this branch, then " if missing else "")
        + f"run: {merge} (or set down_revision of {', '.join(first)} to {base_heads})"
    )

"""The main line a check compares new revisions with: a revision id or a git ref, not both."""

from __future__ import annotations

import re

from drift_job.settings_sources import Resolver

#: What git accepts as a ref name (and nothing it would read as an option).
GIT_REF = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_./@{}~^-]*$")
REVISION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+-]*$")


def base_settings(resolve: Resolver, problems: list[str]) -> dict[str, str | None]:
    """``base_revision`` and ``base_ref`` for :class:`~drift_job.settings.Settings`."""
    revision = resolve.matching(
        "DRIFT_BASE_REVISION", REVISION, "is not an Alembic revision id or symbol"
    )
    ref = resolve.matching(
        "DRIFT_BASE_REF", GIT_REF, "is not a git ref name (e.g. origin/main or a commit)"
    )
    if revision and ref:
        problems.append("DRIFT_BASE_REVISION and DRIFT_BASE_REF: set one of them, not both")
    return {"base_revision": revision or None, "base_ref": ref or None}

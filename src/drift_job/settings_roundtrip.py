"""The round trip's settings: on or off, where it stops, and the revisions it must not
downgrade, each with the reason why (a skip without a reason is refused, like an ignore rule
without one: an unexplained exception to a check is how checks rot)."""

from __future__ import annotations

from drift_job.settings_sources import Resolver

#: (revision, reason) pairs.
Skips = tuple[tuple[str, str], ...]


def roundtrip_settings(resolve: Resolver) -> tuple[bool, str | None, Skips]:
    """(DRIFT_ROUNDTRIP, DRIFT_ROUNDTRIP_TO, DRIFT_ROUNDTRIP_SKIP), problems collected."""
    enabled = resolve.boolean("DRIFT_ROUNDTRIP")
    to = resolve.layers.get("DRIFT_ROUNDTRIP_TO")
    if to is not None and not enabled:
        # Asked where to stop a round trip that is not run: running nothing would pass.
        resolve.problems.append(
            "DRIFT_ROUNDTRIP_TO: set, but the round trip is off (add --roundtrip or "
            "DRIFT_ROUNDTRIP=1)"
        )
    skips: list[tuple[str, str]] = []
    for entry in resolve.entries("DRIFT_ROUNDTRIP_SKIP"):
        revision, _, reason = (part.strip() for part in entry.partition("="))
        if not revision or not reason:
            resolve.problems.append(
                f"DRIFT_ROUNDTRIP_SKIP: {entry!r} needs a revision and a reason, "
                "as REV=why it cannot be downgraded"
            )
            continue
        skips.append((revision, reason))
    return enabled, to, tuple(skips)

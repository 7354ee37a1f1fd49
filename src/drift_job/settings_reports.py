"""``--report FORMAT:FILE`` (repeatable; ``DRIFT_REPORT``, entries separated by newlines or
``;``): several reports from one run, each checked before anything is created."""

from __future__ import annotations

from pathlib import Path

from drift_job.settings_sources import Resolver, _writable_target


def report_targets(resolve: Resolver, formats: tuple[str, ...]) -> tuple[tuple[str, Path], ...]:
    targets = []
    for entry in resolve.entries("DRIFT_REPORT"):
        fmt, sep, name = entry.partition(":")
        if not sep or not name.strip():
            resolve.problems.append(
                f"DRIFT_REPORT: {entry!r} is not FORMAT:FILE (e.g. junit:out.xml)"
            )
            continue
        if fmt not in formats:
            resolve.problems.append(
                f"DRIFT_REPORT: format {fmt!r} in {entry!r} is not one of {', '.join(formats)}"
            )
            continue
        path = resolve.base_dir / name.strip()
        _writable_target(path, "DRIFT_REPORT", resolve.problems)
        targets.append((fmt, path))
    return tuple(targets)

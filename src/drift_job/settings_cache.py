"""The migration cache's settings: DRIFT_CACHE, DRIFT_CACHE_KEEP, DRIFT_CACHE_KEY_PATHS and
DRIFT_CACHE_DIR, validated with the others (every problem reported at once)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from drift_job.settings_sources import Resolver

DEFAULT_KEEP = 3
MAX_KEEP = 100


def _keep(resolve: Resolver) -> int:
    text = resolve.layers.get("DRIFT_CACHE_KEEP")
    if text is None:
        return DEFAULT_KEEP
    if text.strip().isdigit() and 1 <= int(text) <= MAX_KEEP:
        return int(text)
    resolve.problems.append(
        f"DRIFT_CACHE_KEEP: {text!r} is not a whole number from 1 to {MAX_KEEP}"
    )
    return DEFAULT_KEEP


def _key_paths(resolve: Resolver, project_dir: Path) -> tuple[Path, ...]:
    """Files or directories (relative to the project directory) whose bytes the key covers."""
    paths = []
    for entry in resolve.entries("DRIFT_CACHE_KEY_PATHS"):
        path = (project_dir / entry).resolve()
        if not path.exists():
            resolve.problems.append(f"DRIFT_CACHE_KEY_PATHS: {path} does not exist")
            continue
        paths.append(path)
    return tuple(paths)


def _cache_dir(resolve: Resolver) -> Path | None:
    """A writable directory, or one that can be created (CI caches restore it later)."""
    text = resolve.layers.get("DRIFT_CACHE_DIR")
    if text is None:
        return None
    path = (resolve.base_dir / text).resolve()
    existing = next((p for p in (path, *path.parents) if p.exists()), path)
    if not existing.is_dir():
        resolve.problems.append(f"DRIFT_CACHE_DIR: {existing} is not a directory")
    elif not os.access(existing, os.W_OK | os.X_OK):
        resolve.problems.append(f"DRIFT_CACHE_DIR: {existing} is not writable")
    return path


def cache_options(
    resolve: Resolver, project_dir: Path
) -> tuple[bool, int, tuple[Path, ...], Path | None]:
    """The Settings fields of the cache: on, keep, key paths, directory."""
    return (
        resolve.boolean("DRIFT_CACHE"),
        _keep(resolve),
        _key_paths(resolve, project_dir),
        _cache_dir(resolve),
    )


def describe_cache(settings: Any) -> dict[str, str]:
    """The cache's settings as ``drift-check config`` shows them."""
    paths = "; ".join(str(p) for p in settings.cache_key_paths)
    return {
        "DRIFT_CACHE": "yes" if settings.cache else "no",
        "DRIFT_CACHE_KEEP": str(settings.cache_keep),
        "DRIFT_CACHE_KEY_PATHS": paths or "(none)",
        "DRIFT_CACHE_DIR": str(settings.cache_dir) if settings.cache_dir else "(none)",
    }

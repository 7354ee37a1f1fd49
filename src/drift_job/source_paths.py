"""How reports name the project's files: relative to the repository root, as GitHub's
annotations and code scanning need them, else as they are."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=64)
def _root_of(directory: Path) -> Path | None:
    """``GITHUB_WORKSPACE`` when the file is in it, else the nearest enclosing git checkout."""
    workspace = os.environ.get("GITHUB_WORKSPACE")
    if workspace and directory.is_relative_to(Path(workspace).resolve()):
        return Path(workspace).resolve()
    return next((d for d in (directory, *directory.parents) if (d / ".git").exists()), None)


def placed(file: str | None, fallback: str | None) -> str | None:
    """Where a CI annotation can point: ``file`` when it is in the repository (a model in an
    installed package is not), else ``fallback`` (env.py)."""
    for candidate in (file, fallback):
        if candidate and not Path(shown_path(candidate)).is_absolute():
            return shown_path(candidate)
    return None


def shown_path(file: str) -> str:
    """A POSIX path relative to the repository root (or the working directory), else the
    absolute path."""
    path = Path(file)
    root = _root_of(path.parent)
    if root is None and path.is_relative_to(Path.cwd()):
        root = Path.cwd()
    return path.relative_to(root).as_posix() if root is not None else path.as_posix()

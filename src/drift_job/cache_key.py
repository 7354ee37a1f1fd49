"""The migration cache's keys: one content hash per revision of the chain.

The key of revision *r* covers, in order, the bytes of every revision file from the base up
to *r*, and around them env.py, the Alembic options that affect migrations (the ini section
as written, ``[tool.alembic]``, ``-x``, the variables drift-check sets for env.py), the
Alembic, SQLAlchemy, driver and Python versions, the server's version, the role, and the
bytes of every ``DRIFT_CACHE_KEY_PATHS`` entry. Any byte changed anywhere in that list gives
another key, so a stale database can never be found under it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drift_job.settings import Settings

#: Bumped whenever what a cached database holds, or how it is stored, changes.
CACHE_FORMAT = 1
#: Hex digits of the key in a template's name (the marker holds the whole key).
NAME_DIGITS = 24
MODELS_NAME_DIGITS = 19
SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".mypy_cache", ".pytest_cache", ".ruff_cache"})


@dataclass(frozen=True)
class Position:
    """One revision of the chain and the key of the database migrated up to it."""

    index: int
    revision: str
    key: str
    #: The rest of the chain is a plain line on top of it: a cached database may start here.
    startable: bool


@dataclass(frozen=True)
class Chain:
    """The current chain's keys, newest last."""

    project: str
    positions: tuple[Position, ...]

    @property
    def head(self) -> Position | None:
        return self.positions[-1] if self.positions else None

    def starts(self) -> list[Position]:
        """Where a cached database may stand in, newest first."""
        return [p for p in reversed(self.positions) if p.startable]


def _files(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
        return
    for directory, subdirs, files in os.walk(path):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            if not name.endswith((".pyc", ".pyo")):
                yield Path(directory, name)


def key_paths_digest(paths: tuple[Path, ...], project_dir: Path) -> str:
    """Every file under the key paths: its path (relative to the project) and its bytes."""
    digest = hashlib.sha256()
    for root in paths:
        for path in _files(root):
            name = path.relative_to(project_dir) if path.is_relative_to(project_dir) else path
            digest.update(f"{name}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _tool_alembic(settings: Settings) -> Any:
    if settings.toml_file is None:
        return None
    data = tomllib.loads(settings.toml_file.read_text(encoding="utf-8"))
    return data.get("tool", {}).get("alembic")


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _step(previous: str, revision: str, file_digest: str) -> str:
    return hashlib.sha256(f"{previous}\0{revision}\0{file_digest}".encode()).hexdigest()


def build_chain(
    settings: Settings, described: dict[str, Any], server_version: int, role: str
) -> Chain:
    """The keys of the chain the worker described (see worker.cache_chain)."""
    around = {
        "format": CACHE_FORMAT,
        "env_py": described["env_py"],
        "options": described["options"],
        "tool_alembic": _tool_alembic(settings),
        "section": settings.ini_section,
        "x": list(settings.x_args),
        "set_env": [list(pair) for pair in settings.set_env],
        "url_env": settings.url_env,
        "versions": described["versions"],
        "server": server_version,
        "role": role,
        "key_paths": key_paths_digest(settings.cache_key_paths, settings.project_dir),
    }
    key = hashlib.sha256(_canonical(around)).hexdigest()
    positions = []
    for index, entry in enumerate(described["revisions"]):
        key = _step(key, str(entry["revision"]), str(entry["sha256"]))
        positions.append(Position(index, str(entry["revision"]), key, bool(entry["startable"])))
    project = hashlib.sha256(_canonical([described["roots"], role, settings.prefix])).hexdigest()
    return Chain(project[:16], tuple(positions))


def template_name(prefix: str, key: str) -> str:
    """``<prefix>_cache_<24 hex>``: never the pattern of a run's temporary databases."""
    return f"{prefix}_cache_{key[:NAME_DIGITS]}"


def models_template_name(prefix: str, key: str) -> str:
    """``<prefix>_cache_models_<19 hex>``: the models' database, kept apart from the chain's
    templates (fewer digits, so that a 30-character prefix still fits PostgreSQL's 63)."""
    return f"{prefix}_cache_models_{key[:MODELS_NAME_DIGITS]}"


def models_key(ddl_digest: str, server_version: int, role: str) -> str:
    """The key of a models' database: the DDL the models send (digested by the worker),
    on this server, owned by this role."""
    around = {"format": CACHE_FORMAT, "models": ddl_digest, "server": server_version, "role": role}
    return hashlib.sha256(_canonical(around)).hexdigest()

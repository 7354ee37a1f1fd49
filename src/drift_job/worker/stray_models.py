"""Table models the comparison never sees: defined in the project's own modules, on a
MetaData that env.py's ``target_metadata`` does not include (a forgotten import, or a second
declarative base). Autogenerate would call such a table dropped, or never mention it."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

SKIPPED_PARTS = ("site-packages", "dist-packages")


def _project_modules(project_dir: Path) -> Iterator[Any]:
    root = project_dir.resolve()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path or any(part in path for part in SKIPPED_PARTS):
            continue
        resolved = Path(path).resolve()
        if root == resolved or root in resolved.parents:
            yield module


def _metadatas_in(module: Any) -> Iterator[sa.MetaData]:
    for value in list(vars(module).values()):
        owned = getattr(value, "metadata", None) if isinstance(value, type) else None
        if isinstance(value, sa.MetaData):
            yield value
        elif isinstance(owned, sa.MetaData):  # a declarative base or model class
            yield owned


def stray_tables(project_dir: Path, targets: Iterable[sa.MetaData]) -> list[dict[str, Any]]:
    """Information entries for tables on the project's other MetaData objects."""
    targets = list(targets)
    known = {table.key for metadata in targets for table in metadata.tables.values()}
    seen: set[str] = set()
    found = []
    for module in _project_modules(project_dir):
        for metadata in _metadatas_in(module):
            if any(metadata is target for target in targets):
                continue
            for table in metadata.tables.values():
                if table.key in known or table.key in seen:
                    continue
                seen.add(table.key)
                where = Path(module.__file__).name
                found.append(
                    {
                        "kind": "model_not_in_target_metadata",
                        "schema": table.schema,
                        "table": table.name,
                        "object": None,
                        "detail": f"table {table.key} is defined in {where} ({module.__name__}) "
                        "on a MetaData that env.py's target_metadata does not include: "
                        "neither pass compares it (a forgotten import?)",
                    }
                )
    return sorted(found, key=lambda item: str(item["table"]))

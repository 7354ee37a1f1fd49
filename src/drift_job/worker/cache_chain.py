"""What the migration cache's key is made of, as only the worker can see it: the revisions in
the order Alembic applies them, each file's bytes, env.py, the Alembic options and the
library versions. The supervisor turns this into the cache keys (drift_job.cache_key).

A cached database may stand in for the first revisions of the chain only where the rest of
the chain is a plain line on top of it: then ``alembic upgrade head`` from that revision
applies exactly the remaining revisions, in the same order as a run from an empty database.
Nor may a migrated database be kept if running the migrations changed env.py's models (a
data migration's ``from app.models import …`` inside ``upgrade()`` can add tables to the
metadata): a run that skipped those revisions would compare other models (ModelsWatch).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import Script

from .catalog_pass import metadatas_of
from .classify import Failure
from .models_key import models_fingerprint
from .project import Project

#: Options of the Alembic section that cannot change what the migrations build.
UNRELATED_OPTIONS = frozenset(
    {"sqlalchemy.url", "file_template", "truncate_slug_length", "output_encoding", "timezone"}
)


def _digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _parents(script: Script) -> tuple[str, ...]:
    down = script.down_revision
    if down is None:
        return ()
    return (down,) if isinstance(down, str) else tuple(down)


def _line_on_top(chain: list[Script], position: int) -> bool:
    """Whether every revision after ``position`` has exactly the previous one as its parent
    (no merge, no branch, no depends_on)."""
    for index in range(position + 1, len(chain)):
        script = chain[index]
        if script.dependencies or _parents(script) != (chain[index - 1].revision,):
            return False
    return True


def _options(project: Project) -> dict[str, str]:
    """The main section's options as written (uninterpolated, so the checkout's path does
    not matter), minus the ones that only affect new revision files."""
    parser = project.config.file_config
    section = project.options["ini_section"]
    if not parser.has_section(section):
        return {}
    return {
        name: parser.get(section, name, raw=True)
        for name in sorted(parser.options(section))
        if name not in UNRELATED_OPTIONS and name != "here"
    }


def _module_version(name: str) -> str:
    module = sys.modules.get(name)
    if module is None:
        try:
            module = __import__(name)
        except ImportError:
            return "absent"
    return str(getattr(module, "__version__", "unknown"))


def chain_description(project: Project, drivers: list[str]) -> dict[str, Any]:
    """The chain and everything around it that the cache key covers."""
    import alembic  # noqa: PLC0415 - loaded already
    import sqlalchemy  # noqa: PLC0415

    script_dir = project.script
    walked = [s for s in script_dir.walk_revisions("base", "heads") if s is not None]
    chain = list(reversed(walked))
    # Several heads (``--heads all``): no single revision stands for a migrated database.
    single_head = len(script_dir.get_heads()) == 1
    revisions = [
        {
            "revision": script.revision,
            "sha256": _digest(script.path),
            "startable": single_head and _line_on_top(chain, index),
        }
        for index, script in enumerate(chain)
    ]
    return {
        "revisions": revisions,
        "roots": sorted(s.revision for s in chain if not _parents(s)),
        "env_py": _digest(str(project.env_py)),
        "options": _options(project),
        "versions": {
            "python": "{}.{}".format(*sys.version_info[:2]),
            "alembic": alembic.__version__,
            "sqlalchemy": sqlalchemy.__version__,
            **{driver: _module_version(driver) for driver in sorted(set(drivers))},
        },
    }


class ModelsWatch:
    """Whether running the migrations changed env.py's models: their fingerprint when env.py
    first configures with metadata, against the one after the upgrade."""

    def __init__(self) -> None:
        self.before: str | None = None

    def configured(self, options: dict[str, Any]) -> None:
        metadatas = metadatas_of(options)
        if self.before is None and metadatas:
            self.before = models_fingerprint(metadatas)

    def changed(self, options: dict[str, Any]) -> bool:
        metadatas = metadatas_of(options)
        return models_fingerprint(metadatas) != self.before if metadatas else False


class StartCheck:
    """A database from the cache must hold exactly the revision it was chosen for. Checked
    when env.py first calls ``configure()``, on its connection and with its version table."""

    def __init__(self, expected: str | None) -> None:
        self.expected = expected

    def __call__(self, options: dict[str, Any]) -> None:
        expected, self.expected = self.expected, None
        connection = options.get("connection")
        if expected is None or connection is None:
            return
        began = not connection.in_transaction()
        heads = tuple(
            MigrationContext.configure(
                connection,
                opts={
                    "version_table": options.get("version_table", "alembic_version"),
                    "version_table_schema": options.get("version_table_schema"),
                },
            ).get_current_heads()
        )
        transaction = connection.get_transaction()
        if began and transaction is not None:  # leave env.py's connection as it was
            transaction.rollback()
        if heads != (expected,):
            raise Failure(
                "infrastructure",
                f"migration cache: the cached database holds revision(s) "
                f"{', '.join(heads) or 'none'} instead of {expected}; "
                "run `drift-check sweep --cache` to drop the cache",
            )

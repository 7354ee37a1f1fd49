"""The models' database, built on a thread of its own while the migrations run.

The build needs only the ``target_metadata`` env.py hands to ``configure()`` before the first
migration, and a database of its own (which the supervisor creates meanwhile, and announces),
so the two overlap: most of either is the server executing DDL. What it cannot know yet is
which extensions the migrations install: a model that needs one fails the early build, which
is then undone (``drop_all``) and done again after the migrations, with the extensions,
exactly as without it. The early build also stands only if env.py's metadata still holds the
same tables once the migrations have run.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .catalog_pass import AUTOCOMMIT, connected, create_models, metadatas_of

if TYPE_CHECKING:  # only in annotations: the worker also runs on Python 3.8
    from collections.abc import Callable, Mapping

    import sqlalchemy as sa
    from sqlalchemy.engine import URL


def _shape(metadatas: list[sa.MetaData]) -> list[list[str]]:
    return [sorted(metadata.tables) for metadata in metadatas]


class EarlyBuild:
    """``start`` at the first ``configure()`` with metadata; ``stands`` once the migrations
    are done."""

    def __init__(self, url: URL, announced: Callable[[], object]) -> None:
        self.url = url
        self._announced = announced  # returns once the supervisor says the database exists
        self._exists = False
        self._lock = threading.Lock()
        self.metadatas: list[sa.MetaData] = []
        self.shape: list[list[str]] = []
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def start(self, options: Mapping[str, Any]) -> None:
        metadatas = metadatas_of(options)
        if self.thread is not None or not metadatas:
            return
        self.metadatas, self.shape = metadatas, _shape(metadatas)
        self.thread = threading.Thread(target=self._build, name="models-database", daemon=True)
        self.thread.start()

    def _wait_for_database(self) -> None:
        with self._lock:
            if not self._exists:
                self._announced()
                self._exists = True

    def _build(self) -> None:
        try:
            self._wait_for_database()
        except Exception as error:  # a protocol error: stands() raises it
            self.error = error
            return
        try:
            with connected(self.url, **AUTOCOMMIT) as models:
                create_models(models, self.metadatas)
        except Exception as error:  # judged in stands(): built again the usual way
            self.error = error

    def stands(self, options: Mapping[str, Any]) -> bool:
        """Whether the models' tables are built for what env.py finally configured; if not,
        whatever the early build created is dropped again."""
        if self.thread is None:
            self._wait_for_database()
            return False
        self.thread.join()
        if not self._exists:
            raise RuntimeError("the models' database was never announced") from self.error
        metadatas = metadatas_of(options)
        same = [id(m) for m in metadatas] == [id(m) for m in self.metadatas]
        if self.error is None and same and _shape(metadatas) == self.shape:
            return True
        with connected(self.url, **AUTOCOMMIT) as models:
            for metadata in reversed(self.metadatas):
                metadata.drop_all(models)
        return False

"""The models' database, built on a thread of its own while the migrations run.

The build needs only the ``target_metadata`` env.py hands to ``configure()`` before the first
migration, and a database of its own (which the supervisor creates meanwhile, and announces),
so the two overlap: most of either is the server executing DDL. What it cannot know yet is
which extensions the migrations install: a model that needs one fails the early build, which
is then undone (``drop_all``) and done again after the migrations, with the extensions,
exactly as without it. The early build also stands only if env.py's metadata still holds the
same tables once the migrations have run.

With the cache on a server, the database is asked for by the digest of the models' DDL
(models_key): if that DDL was built before, the database arrives as a copy of that build and
nothing is built; otherwise an early build that succeeds is offered to the cache, before the
extensions are added, so the copy holds exactly what the digest describes.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .catalog_pass import AUTOCOMMIT, connected, create_models, metadatas_of
from .models_key import ddl_digest

if TYPE_CHECKING:  # only in annotations: the worker also runs on Python 3.8
    from collections.abc import Callable, Mapping

    import sqlalchemy as sa
    from sqlalchemy.engine import URL

    #: Asks for the models' database (with the DDL's digest, if it is to be cached) and
    #: returns once it exists: True if it is a copy of that DDL built before.
    Announced = Callable[[str | None], bool]


def _shape(metadatas: list[sa.MetaData]) -> list[list[str]]:
    return [sorted(metadata.tables) for metadata in metadatas]


class Reuse:
    """The cache's side of the build: a server connection to render the DDL with (the
    migrated database's), and how to hand a finished build over for keeping."""

    def __init__(self, dialect_url: URL, kept: Callable[[str], object]) -> None:
        self.dialect_url = dialect_url
        self.kept = kept  # returns once the supervisor has copied the database
        self._dialect: Any = None

    def digest(self, metadatas: list[sa.MetaData]) -> str | None:
        if self._dialect is None:
            try:
                with connected(self.dialect_url) as conn:
                    self._dialect = conn.dialect  # initialised by this server
            except Exception:  # the build then goes on as without the cache
                return None
        return ddl_digest(self._dialect, metadatas)


class EarlyBuild:
    """``start`` at the first ``configure()`` with metadata; ``stands`` once the migrations
    are done."""

    def __init__(self, url: URL, announced: Announced, reuse: Reuse | None = None) -> None:
        self.url = url
        self._announced = announced
        self._reuse = reuse
        self._exists = False
        self.cloned = False
        self._lock = threading.Lock()
        self.metadatas: list[sa.MetaData] = []
        self.shape: list[list[str]] = []
        self.error: BaseException | None = None
        #: The supervisor could not be told of the finished build: no verdict can follow.
        self.lost: BaseException | None = None
        self.thread: threading.Thread | None = None

    def start(self, options: Mapping[str, Any]) -> None:
        metadatas = metadatas_of(options)
        if self.thread is not None or not metadatas:
            return
        self.metadatas, self.shape = metadatas, _shape(metadatas)
        self.thread = threading.Thread(target=self._build, name="models-database", daemon=True)
        self.thread.start()

    def _wait_for_database(self, digest: str | None) -> None:
        with self._lock:
            if not self._exists:
                self.cloned = self._announced(digest)
                self._exists = True

    def _build(self) -> None:
        digest = self._reuse.digest(self.metadatas) if self._reuse is not None else None
        try:
            self._wait_for_database(digest)
        except Exception as error:  # a protocol error: stands() raises it
            self.error = error
            return
        if self.cloned:
            return
        try:
            with connected(self.url, **AUTOCOMMIT) as models:
                create_models(models, self.metadatas)
        except Exception as error:  # judged in stands(): built again the usual way
            self.error = error
            return
        # Kept only if the models still send that DDL: a migration importing more models
        # into the same metadata meanwhile would make the copy more than its key says.
        if digest is not None and self._reuse is not None:
            if self._reuse.digest(self.metadatas) != digest:
                return
            try:
                self._reuse.kept(digest)
            except Exception as error:  # a protocol error: stands() raises it
                self.lost = error

    def stands(self, options: Mapping[str, Any]) -> bool:
        """Whether the models' tables are built for what env.py finally configured; if not,
        whatever the early build created is dropped again."""
        if self.thread is None:
            self._wait_for_database(None)
            return False
        self.thread.join()
        if not self._exists:
            raise RuntimeError("the models' database was never announced") from self.error
        if self.lost is not None:
            raise RuntimeError("the models' database could not be offered to the cache") from (
                self.lost
            )
        metadatas = metadatas_of(options)
        same = [id(m) for m in metadatas] == [id(m) for m in self.metadatas]
        if self.error is None and same and _shape(metadatas) == self.shape:
            return True
        with connected(self.url, **AUTOCOMMIT) as models:
            for metadata in reversed(self.metadatas):
                metadata.drop_all(models)
        return False

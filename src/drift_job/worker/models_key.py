"""What the models' database is built from, as one digest: the cache's key for it.

The statements are those ``create_models`` sends with no extensions, rendered without a
server: the schemas, then every ``create_all``, run on SQLAlchemy's mock connection so that
DDL event listeners run too and what they execute is recorded with its parameters, in order
(only a table's indexes, which SQLAlchemy creates in no fixed order, are sorted). They are
compiled by the dialect of a real connection to the run's server (its version decides some of
the DDL). Whatever cannot be rendered this way (a listener that needs a real connection)
gives no digest: the database is then built and never kept, because a key that misses part
of the build could hand a later run a stale copy.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine.mock import MockConnection
from sqlalchemy.schema import CreateIndex

from .catalog_pass import schema_statements

if TYPE_CHECKING:  # only in annotations: the worker also runs on Python 3.8
    from sqlalchemy.engine import Dialect


def _rendered(element: Any, dialect: Dialect, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    if isinstance(element, str):
        text = element
    else:
        compiled = element.compile(dialect=dialect)
        params = getattr(compiled, "params", None) or {}
        text = f"{compiled}\0{sorted((str(k), repr(v)) for k, v in params.items())}"
    return f"{text}\0{args!r}\0{sorted(kwargs.items())!r}"


def ddl_digest(dialect: Dialect, metadatas: list[sa.MetaData]) -> str | None:
    """The digest of the DDL the models send, or None where it cannot be rendered whole."""
    statements = schema_statements(metadatas)
    indexes: list[str] = []  # a table's indexes come from a set: their order is not the build's

    def record(element: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(element, CreateIndex):
            indexes.append(_rendered(element, dialect, args, kwargs))
            return
        statements.extend(sorted(indexes))
        indexes.clear()
        statements.append(_rendered(element, dialect, args, kwargs))

    try:
        mock = MockConnection(dialect, record)
        for metadata in metadatas:
            metadata.create_all(mock)
        statements.extend(sorted(indexes))
    except Exception:  # a listener that wants a real connection: no key, never a wrong one
        return None
    described = {
        "sqlalchemy": sa.__version__,
        "dialect": f"{dialect.name}+{dialect.driver}",
        "server": list(dialect.server_version_info or ()),
        "statements": statements,
    }
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()


def models_fingerprint(metadatas: list[sa.MetaData]) -> str:
    """What the models are, to tell within one process whether they changed: their DDL, or
    (where that cannot be rendered) every table's columns, indexes and constraints."""
    offline = sa.create_mock_engine(sa.engine.make_url("postgresql://"), lambda *_: None)
    digest = ddl_digest(offline.dialect, metadatas)
    if digest is not None:
        return digest
    shape = [
        [
            table.key,
            [(column.key, repr(column.type)) for column in table.columns],
            sorted(str(index.name) for index in table.indexes),
            sorted(str(constraint.name) for constraint in table.constraints),
        ]
        for metadata in metadatas
        for table in sorted(metadata.tables.values(), key=lambda t: t.key)
    ]
    return hashlib.sha256(repr(shape).encode()).hexdigest()

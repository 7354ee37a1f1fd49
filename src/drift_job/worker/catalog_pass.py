"""The catalog pass, as the worker runs it: build a second database from the models, take a
snapshot of both catalogs, compare them, and keep what the project's own filters keep.

It runs after autogenerate, with what env.py passed to ``configure()``: ``target_metadata``
builds the models' database (``create_all``, with the schemas and extensions it needs), and
``include_object`` / ``include_name`` / ``include_schemas`` decide what is compared, as they do
for autogenerate. A difference autogenerate also found is reported once, as autogenerate's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection
from sqlalchemy.pool import NullPool

from .catalog import compare, snapshot
from .catalog_fixes import fixes

EXTENSIONS = (
    "SELECT e.extname, n.nspname FROM pg_extension e "
    "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname <> 'plpgsql'"
)
#: Commits on the throwaway models' database need not wait for the disk.
NO_FLUSH_WAIT = "SET synchronous_commit TO off"
#: The models' database is ours alone: each statement commits on its own, so no one
#: transaction holds a lock on every table (thousands exceed the server's lock table).
AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}
if TYPE_CHECKING:  # only in annotations: the worker also runs on Python 3.8
    Described = Mapping[str, Any]
#: The catalog's object_type → what Alembic's include_object / include_name call it.
OBJECT_TYPES = {
    "index": "index",
    "unique_constraint": "unique_constraint",
    "foreign_key_constraint": "foreign_key_constraint",
}
#: Stand-ins for objects only the migrations have, as reflection would give them.
STAND_INS: dict[str, Any] = {
    "index": sa.Index,
    "unique_constraint": lambda name: sa.UniqueConstraint(name=name),
    "foreign_key_constraint": lambda name: sa.ForeignKeyConstraint([], [], name=name),
}


def metadatas_of(options: Mapping[str, Any]) -> list[sa.MetaData]:
    target = options.get("target_metadata")
    if target is None:
        return []
    return list(target) if isinstance(target, (list, tuple)) else [target]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _schemas_of(metadatas: Iterable[sa.MetaData]) -> set[str]:
    """Schemas the models use: their tables', enums' and sequences'."""
    found: set[str] = set()
    for metadata in metadatas:
        for table in metadata.tables.values():
            found.update(s for s in [table.schema] if s)
            for column in table.columns:
                schema = getattr(column.type, "schema", None)
                found.update(s for s in [schema] if isinstance(s, str))
        for sequence in getattr(metadata, "_sequences", {}).values():
            found.update(s for s in [sequence.schema] if s)
    found.discard("public")
    return found


def schema_statements(metadatas: Iterable[sa.MetaData]) -> list[str]:
    """The schemas the models use, created before their tables."""
    return [f"CREATE SCHEMA IF NOT EXISTS {_quoted(s)}" for s in sorted(_schemas_of(metadatas))]


def create_models(
    models: Connection,
    metadatas: list[sa.MetaData],
    extensions: Sequence[tuple[str, str]] = (),
    *,
    tables: bool = True,
) -> None:
    """Into the models' database: the schemas the models use, ``extensions`` (name, schema),
    then (``tables``) ``create_all``."""
    with models.begin():  # begun and ended here: SQLAlchemy 1.4 and 2 alike
        models.execute(sa.text(NO_FLUSH_WAIT))
        for statement in schema_statements(metadatas):
            models.execute(sa.text(statement))
        for name, schema in extensions:
            models.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {_quoted(schema)}"))
            models.execute(
                sa.text(
                    f"CREATE EXTENSION IF NOT EXISTS {_quoted(name)} WITH SCHEMA {_quoted(schema)}"
                )
            )
        for metadata in metadatas if tables else ():
            metadata.create_all(models)


def build_models_database(
    migrated: Connection, models: Connection, metadatas: list[sa.MetaData], *, built: bool
) -> list[dict[str, Any]]:
    """``create_all`` into the empty models database (unless ``built`` already, while the
    migrations ran), after the extensions the migrated database has (a model may use citext
    or vector) and the schemas the models use. The extensions are returned as information:
    models cannot express them."""
    with migrated.begin():
        extensions = [(str(n), str(s)) for n, s in migrated.execute(sa.text(EXTENSIONS))]
    create_models(models, metadatas, extensions, tables=not built)
    return [
        {
            "kind": "extension",
            "schema": None if schema == "public" else schema,
            "table": None,
            "object": name,
            "detail": f"extension {name} (only in the migrations; the models' database was "
            "given it too, so that their types resolve)",
        }
        for name, schema in sorted(extensions)
    ]


@contextmanager
def connected(url: URL, **options: Any) -> Iterator[Connection]:
    engine = sa.create_engine(url, poolclass=NullPool, **options)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


class _Filters:
    """The project's include_name / include_object, called with what we know of an object:
    the model's own object when there is one, else a bare stand-in for the reflected one."""

    def __init__(self, options: Mapping[str, Any], metadatas: list[sa.MetaData]) -> None:
        self.include_name = options.get("include_name")
        self.include_object = options.get("include_object")
        self.include_schemas = bool(options.get("include_schemas"))
        self.tables = {table.key: table for md in metadatas for table in md.tables.values()}
        self.model_schemas = {t.schema for t in self.tables.values() if t.schema}

    def _table(self, schema: str | None, name: str) -> tuple[sa.Table, bool]:
        key = f"{schema}.{name}" if schema else name
        if key in self.tables:
            return self.tables[key], False
        return sa.Table(name, sa.MetaData(), schema=schema), True

    def _call(self, hook: Any, *args: Any) -> bool:
        try:
            return bool(hook(*args))
        except Exception:  # a hook that cannot handle a stand-in: compare the object
            return True

    def keeps(self, difference: Described) -> bool:
        schema, table_name = difference.get("schema"), difference.get("table")
        if schema and schema not in self.model_schemas and not self.include_schemas:
            return False  # as autogenerate: other schemas only with include_schemas=True
        if table_name is None:
            return True
        if not self._name(table_name, "table", {"schema_name": schema}):
            return False
        table, reflected = self._table(schema, table_name)
        if not self._object(table, table_name, "table", reflected):
            return False
        column, name = difference.get("column"), difference.get("object")
        parents = {
            "schema_name": schema,
            "table_name": table_name,
            "schema_qualified_table_name": table.key,
        }
        if column is not None:
            obj = table.columns.get(column)
            stand_in = obj if obj is not None else sa.Column(column)
            return self._name(column, "column", parents) and self._object(
                stand_in, column, "column", obj is None
            )
        type_ = OBJECT_TYPES.get(str(difference.get("object_type")))
        if name is None or type_ is None:
            return True
        obj = self._member(table, str(name))
        # The side the object is on: only the migrations' is reflected (compare_to None).
        reflected = difference.get("models") is None
        return self._name(str(name), type_, parents) and self._object(
            obj if obj is not None else STAND_INS[type_](name), str(name), type_, reflected
        )

    def _name(self, name: str, type_: str, parents: Mapping[str, Any]) -> bool:
        return self.include_name is None or self._call(self.include_name, name, type_, parents)

    def _object(self, obj: Any, name: str, type_: str, reflected: bool) -> bool:
        return self.include_object is None or self._call(
            self.include_object, obj, name, type_, reflected, None
        )

    @staticmethod
    def _member(table: sa.Table, name: str) -> Any:
        """The model's own index or constraint of that name, if the model has one."""
        for item in (*table.indexes, *table.constraints):
            if getattr(item, "name", None) == name:
                return item
        return None


#: Which autogenerate kinds describe the same difference as a catalog kind.
SAME_AS = {
    "modify_constraint": {"add_constraint", "remove_constraint", "add_fk", "remove_fk"},
    "modify_index": {"add_index", "remove_index"},
    "modify_identity": {"modify_default"},
}


def _same(catalog: Described, other: Described) -> bool:
    """Whether an autogenerate difference is about what a catalog difference describes."""
    kinds = {catalog["kind"], *SAME_AS.get(str(catalog["kind"]), ())}
    where = ("schema", "table")
    if other["kind"] not in kinds or any(other.get(k) != catalog.get(k) for k in where):
        return False
    if catalog.get("column") is not None or other.get("column") is not None:
        return other.get("column") == catalog.get("column")
    theirs, ours = other.get("object"), catalog.get("object")
    return theirs is None or ours is None or theirs == ours


#: Where the catalog's description says more than autogenerate's (the definitions on both
#: sides: ON DELETE, an expression, a predicate), it replaces it.
RICHER = frozenset(
    {"modify_constraint", "modify_index", "add_index", "remove_index", "add_fk", "remove_fk"}
    | {"add_constraint", "remove_constraint"}
)


def merge(
    autogenerate: Sequence[Described], catalog: Sequence[Described]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(every difference once, the catalog-only ones). A difference both passes found is
    reported as autogenerate's (``alembic check`` sees it too, and its ops fix it), in the
    catalog's words where those render both sides' definitions."""
    merged = [dict(d) for d in autogenerate]
    only_catalog = []
    for difference in catalog:
        twins = [d for d in merged if d.get("source") == "autogenerate" and _same(difference, d)]
        if not twins:
            only_catalog.append({**difference, "source": "catalog"})
            continue
        if difference["kind"] not in RICHER:
            continue
        position = merged.index(twins[0])
        merged = [d for d in merged if not any(d is twin for twin in twins)]
        merged.insert(position, {**difference, "source": "autogenerate"})
    return merged + only_catalog, only_catalog


def run_catalog_pass(
    options: Mapping[str, Any],
    migrated_url: URL,
    models_url: URL,
    autogenerate: Sequence[Described],
    built: bool = False,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """(every difference, each once; information; the lines fixing what only the catalog
    pass found). ``built``: the models' tables were created while the migrations ran."""
    metadatas = metadatas_of(options)
    with connected(migrated_url) as migrated, connected(models_url, **AUTOCOMMIT) as models:
        extensions = build_models_database(migrated, models, metadatas, built=built)
        found, information = compare(snapshot(migrated), snapshot(models))
    information = extensions + information
    filters = _Filters(options, metadatas)
    differences, only_catalog = merge(autogenerate, [d for d in found if filters.keeps(d)])
    shown = [item for item in information if filters.keeps(item)]
    return differences, shown, [line for d in only_catalog for line in fixes(d)]

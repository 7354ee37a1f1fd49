"""The catalog pass: what autogenerate cannot see, read from PostgreSQL's own catalogs.

Both databases (the migrated one and the one built by ``metadata.create_all()``) are read
with the same queries on the same server, so every rendering (types, defaults, constraint
and index definitions) is the server's, and equivalent spellings come out identical. A
snapshot is plain data (dataclasses of str/bool/int/list) so it can cross a process
boundary as JSON: ``Snapshot.to_dict()`` / ``Snapshot.from_dict()``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from . import catalog_compare, catalog_objects, catalog_sql

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


@dataclass
class Column:
    """One column: every attribute is the server's rendering, None when absent."""

    name: str
    type: str
    not_null: bool
    default: str | None  # pg_get_expr of the default (None for a generated column)
    identity: str  # attidentity: '' (none), 'a' (ALWAYS), 'd' (BY DEFAULT)
    generated: str  # attgenerated: '' (none), 's' (stored), 'v' (virtual, PostgreSQL 18)
    expression: str | None  # the generation expression of a generated column
    serial: bool  # the default is nextval() of a sequence this column owns
    collation: str | None  # only when not the type's default collation
    comment: str | None


@dataclass
class Table:
    schema: str
    name: str
    comment: str | None
    row_security: bool
    force_row_security: bool
    acl: list[str] | None  # relacl; None = the default privileges
    columns: list[Column] = field(default_factory=list)


@dataclass
class Constraint:
    schema: str
    table: str
    name: str
    contype: str  # p, f, u, c, x
    definition: str  # pg_get_constraintdef


@dataclass
class Index:
    schema: str
    table: str
    name: str
    definition: str  # pg_get_indexdef
    structure: str  # the definition without the index name: what the index is


@dataclass
class Enum:
    schema: str
    name: str
    labels: list[str]  # by enumsortorder


@dataclass
class Sequence:
    schema: str
    name: str
    increment: int


@dataclass
class CatalogObject:
    """Something models cannot express (a function, view, trigger, policy, extension)."""

    kind: str
    schema: str | None
    table: str | None
    name: str
    signature: str | None  # a function's identity arguments


@dataclass
class Snapshot:
    """Everything the catalog pass compares, for one database."""

    server_version: int
    schemas: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)
    enums: list[Enum] = field(default_factory=list)
    sequences: list[Sequence] = field(default_factory=list)
    objects: list[CatalogObject] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Snapshot:
        tables = [
            Table(**{**t, "columns": [Column(**c) for c in t["columns"]]}) for t in data["tables"]
        ]
        return cls(
            server_version=data["server_version"],
            schemas=list(data["schemas"]),
            tables=tables,
            constraints=[Constraint(**c) for c in data["constraints"]],
            indexes=[Index(**i) for i in data["indexes"]],
            enums=[Enum(**e) for e in data["enums"]],
            sequences=[Sequence(**s) for s in data["sequences"]],
            objects=[CatalogObject(**o) for o in data["objects"]],
        )


def _rows(connection: Connection, sql: str) -> list[dict[str, Any]]:
    return [dict(row) for row in connection.execute(text(sql)).mappings().fetchall()]


def _column(row: dict[str, Any]) -> Column:
    generated = row["generated"] or ""
    expression = row["expression"]
    default = None if generated else expression
    serial = bool(
        row["owns_sequence"]
        and not row["identity"]
        and default is not None
        and default.startswith("nextval(")
    )
    return Column(
        name=row["name"],
        type=row["type"],
        not_null=bool(row["not_null"]),
        default=default,
        identity=row["identity"] or "",
        generated=generated,
        expression=expression if generated else None,
        serial=serial,
        collation=row["collation"],
        comment=row["comment"],
    )


def _structure(definition: str, quoted_name: str) -> str:
    """``CREATE INDEX name ON ...`` without the name: what the index is, whatever its name."""
    return definition.replace(f" INDEX {quoted_name} ON ", " INDEX ON ", 1)


def snapshot(connection: Connection) -> Snapshot:
    """Read the catalogs of the database ``connection`` is connected to (one query per kind).

    The server qualifies names that are not on the search_path, so the search_path is pinned
    to ``public`` while reading (a migration may have changed the database's or role's
    setting): both databases then render the same objects the same way. It is restored after.
    """
    previous = connection.execute(text(catalog_sql.SEARCH_PATH)).scalar()
    connection.execute(text(catalog_sql.SET_SEARCH_PATH), {"value": "public"})
    taken = _read(connection)
    connection.execute(text(catalog_sql.SET_SEARCH_PATH), {"value": previous})
    return taken


def _read(connection: Connection) -> Snapshot:
    version = int(_rows(connection, catalog_sql.SERVER_VERSION)[0]["version"])
    tables: dict[tuple[str, str], Table] = {}
    for row in _rows(connection, catalog_sql.TABLES):
        acl = row["acl"]
        tables[(row["schema"], row["name"])] = Table(
            schema=row["schema"],
            name=row["name"],
            comment=row["comment"],
            row_security=bool(row["row_security"]),
            force_row_security=bool(row["force_row_security"]),
            acl=sorted(acl) if acl is not None else None,
        )
    for row in _rows(connection, catalog_sql.COLUMNS):
        table = tables.get((row["schema"], row["table"]))
        if table is not None:
            table.columns.append(_column(row))
    return Snapshot(
        server_version=version,
        schemas=sorted(row["name"] for row in _rows(connection, catalog_sql.SCHEMAS)),
        tables=list(tables.values()),
        constraints=[Constraint(**row) for row in _rows(connection, catalog_sql.CONSTRAINTS)],
        indexes=[
            Index(
                schema=row["schema"],
                table=row["table"],
                name=row["name"],
                definition=row["definition"],
                structure=_structure(row["definition"], row["quoted_name"]),
            )
            for row in _rows(connection, catalog_sql.INDEXES)
        ],
        enums=[
            Enum(schema=row["schema"], name=row["name"], labels=list(row["labels"]))
            for row in _rows(connection, catalog_sql.ENUMS)
        ],
        sequences=[
            Sequence(schema=row["schema"], name=row["name"], increment=int(row["increment"]))
            for row in _rows(connection, catalog_sql.SEQUENCES)
        ],
        objects=[
            CatalogObject(**row)
            for sql in catalog_sql.OBJECT_QUERIES
            for row in _rows(connection, sql)
        ],
    )


def compare(
    migrated: Snapshot, models: Snapshot
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(differences, information): what the models want that the migrations did not build,
    and the objects models cannot express. Both sorted by schema, table, kind, column/object."""
    tables = catalog_compare.common_tables(migrated, models)
    found = [
        *catalog_compare.schemas(migrated, models),
        *catalog_compare.tables(migrated, models),
        *catalog_objects.constraints(migrated, models, tables),
        *catalog_objects.indexes(migrated, models, tables),
        *catalog_objects.enums(migrated, models),
        *catalog_objects.sequences(migrated, models),
    ]
    differences = sorted(found, key=catalog_compare.sort_key)
    return differences, catalog_objects.information(migrated, models)

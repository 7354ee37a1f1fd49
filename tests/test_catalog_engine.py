"""The catalog pass's engine (snapshot + compare) against real PostgreSQL, no mocks.

Each case is written the pg-schema-diff way: the migrated database (plain SQL DDL, as
migrations write it), the models database (``metadata.create_all()`` as the real pass builds
it, or SQL where SQLAlchemy cannot say it), and the exact differences expected. Every
snapshot is also compared with itself (an identical schema must give nothing) and sent
through JSON and back (the snapshot is plain data).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from servers import PostgresServer
from sqlalchemy.dialects.postgresql import TSRANGE
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import NullPool

from drift_job.worker.catalog import Snapshot, compare, snapshot

Builder = Callable[[sa.MetaData], Any]
Side = str | Builder  # SQL DDL, or a function that declares tables on a MetaData


@contextmanager
def scratch_databases(server: PostgresServer, count: int = 2) -> Iterator[list[Engine]]:
    names = [f"catalogtest_{secrets.token_hex(4)}" for _ in range(count)]
    engines: list[Engine] = []
    try:
        for name in names:
            server.query(f'CREATE DATABASE "{name}"')
            url = URL.create(
                "postgresql+psycopg2",
                username=server.superuser,
                password=server.password,
                host=server.host,
                port=server.port,
                database=name,
            )
            engines.append(sa.create_engine(url, poolclass=NullPool))
        yield engines
    finally:
        for engine in engines:
            engine.dispose()
        for name in names:
            server.query(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build(engine: Engine, side: Side, metadata: sa.MetaData | None = None) -> None:
    if isinstance(side, str):
        if side.strip():
            with engine.begin() as conn:
                conn.exec_driver_sql(side)
        return
    metadata = metadata if metadata is not None else sa.MetaData()
    side(metadata)
    metadata.create_all(engine)


def take(engine: Engine) -> Snapshot:
    with engine.connect() as conn:
        taken = snapshot(conn)
    assert compare(taken, taken) == ([], []), "an identical schema must compare equal"
    assert Snapshot.from_dict(json.loads(json.dumps(taken.to_dict()))) == taken
    return taken


def diff(
    server: PostgresServer, migrations: Side, models: Side
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with scratch_databases(server) as (migrated, modelled):
        build(migrated, migrations)
        build(modelled, models)
        return compare(take(migrated), take(modelled))


KEYS = ("kind", "schema", "table", "column", "object", "migrations", "models", "object_type")


def rows(differences: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    for d in differences:
        assert set(d) == {*KEYS, "detail"}, d
        assert isinstance(d["detail"], str) and d["detail"]
    return [tuple(d[k] for k in KEYS) for d in differences]


def ID() -> sa.Column[Any]:
    return sa.Column("id", sa.Integer, primary_key=True)


def authors(m: sa.MetaData) -> sa.Table:
    return sa.Table("authors", m, ID())


C, T, IX = "column", "table", "index"
CHECK, UNIQUE, FK, PK = (
    "check_constraint",
    "unique_constraint",
    "foreign_key_constraint",
    "primary_key",
)
ENUM = "CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped');"
ORDERS = ENUM + " CREATE TABLE orders (id serial PRIMARY KEY, status order_status NOT NULL)"
BOOKS = "CREATE TABLE authors (id serial PRIMARY KEY); CREATE TABLE books (id serial PRIMARY KEY, title text{})"
PEOPLE = "CREATE TABLE people (id serial PRIMARY KEY, email text NOT NULL, active boolean NOT NULL, bio text);"


def people(m: sa.MetaData, *indexes: Any) -> sa.Table:
    return sa.Table(
        "people",
        m,
        ID(),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("bio", sa.Text),
        *indexes,
    )


def books(m: sa.MetaData, *columns: Any, **options: Any) -> sa.Table:
    """authors + books(id, title text, *columns): most cases change one thing of books."""
    title = (
        []
        if any(getattr(c, "name", None) == "title" for c in columns)
        else [sa.Column("title", sa.Text)]
    )
    authors(m)
    return sa.Table("books", m, ID(), *title, *columns, **options)


def title(*args: Any, **kwargs: Any) -> sa.Column[Any]:
    return sa.Column("title", *args, **kwargs)


DIFFERENT = [
    pytest.param(
        ORDERS,
        lambda m: sa.Table(
            "orders",
            m,
            ID(),
            sa.Column(
                "status",
                sa.Enum("pending", "paid", "shipped", "cancelled", name="order_status"),
                nullable=False,
            ),
        ),
        [
            (
                "modify_enum",
                None,
                None,
                None,
                "order_status",
                "(pending, paid, shipped)",
                "(pending, paid, shipped, cancelled)",
                "enum",
            )
        ],
        id="enum-new-value",
    ),
    pytest.param(
        ORDERS,
        lambda m: sa.Table(
            "orders",
            m,
            ID(),
            sa.Column(
                "status", sa.Enum("paid", "pending", "shipped", name="order_status"), nullable=False
            ),
        ),
        [
            (
                "modify_enum",
                None,
                None,
                None,
                "order_status",
                "(pending, paid, shipped)",
                "(paid, pending, shipped)",
                "enum",
            )
        ],
        id="enum-reorder",
    ),
    pytest.param(
        "CREATE TABLE products (id serial PRIMARY KEY, price_cents integer NOT NULL)",
        lambda m: sa.Table(
            "products",
            m,
            ID(),
            sa.Column("price_cents", sa.Integer, nullable=False),
            sa.CheckConstraint("price_cents >= 0", name="price_nonneg"),
        ),
        [
            (
                "add_constraint",
                None,
                "products",
                None,
                "price_nonneg",
                None,
                "CHECK ((price_cents >= 0))",
                CHECK,
            )
        ],
        id="check-added",
    ),
    pytest.param(
        "CREATE TABLE products (id serial PRIMARY KEY, price_cents integer NOT NULL CONSTRAINT price_nonneg CHECK (price_cents > 0))",
        lambda m: sa.Table(
            "products",
            m,
            ID(),
            sa.Column("price_cents", sa.Integer, nullable=False),
            sa.CheckConstraint("price_cents >= 0", name="price_nonneg"),
        ),
        [
            (
                "modify_constraint",
                None,
                "products",
                None,
                "price_nonneg",
                "CHECK ((price_cents > 0))",
                "CHECK ((price_cents >= 0))",
                CHECK,
            )
        ],
        id="check-changed",
    ),
    pytest.param(
        "CREATE TABLE products (id serial PRIMARY KEY, price_cents integer NOT NULL CHECK (price_cents > 0))",
        lambda m: sa.Table(
            "products",
            m,
            ID(),
            sa.Column(
                "price_cents", sa.Integer, sa.CheckConstraint("price_cents >= 0"), nullable=False
            ),
        ),
        [
            (
                "modify_constraint",
                None,
                "products",
                None,
                "products_price_cents_check",
                "CHECK ((price_cents > 0))",
                "CHECK ((price_cents >= 0))",
                CHECK,
            )
        ],
        id="unnamed-check-changed",
    ),
    pytest.param(
        BOOKS.format(" DEFAULT 'x'"),
        lambda m: books(m, title(sa.Text, server_default="y")),
        [("modify_default", None, "books", "title", None, "'x'::text", "'y'::text", C)],
        id="server-default-changed",
    ),
    pytest.param(
        BOOKS.format(""),
        lambda m: books(m, title(sa.Text, server_default="y")),
        [("modify_default", None, "books", "title", None, None, "'y'::text", C)],
        id="server-default-added",
    ),
    pytest.param(
        BOOKS.format(" DEFAULT 'x'"),
        books,
        [("modify_default", None, "books", "title", None, "'x'::text", None, C)],
        id="server-default-removed",
    ),
    pytest.param(
        "CREATE TABLE events (id serial PRIMARY KEY, created timestamptz DEFAULT CURRENT_TIMESTAMP)",
        lambda m: sa.Table(
            "events",
            m,
            ID(),
            sa.Column("created", sa.DateTime(timezone=True), server_default=sa.func.now()),
        ),
        # The server keeps the spelling: CURRENT_TIMESTAMP is an SQLValueFunction, now() a call.
        [("modify_default", None, "events", "created", None, "CURRENT_TIMESTAMP", "now()", C)],
        id="now-vs-current-timestamp-not-normalised",
    ),
    pytest.param(
        PEOPLE + " CREATE INDEX ix_people_email ON people (email) WHERE active",
        lambda m: people(
            m, sa.Index("ix_people_email", "email", postgresql_where=sa.text("NOT active"))
        ),
        [
            (
                "modify_index",
                None,
                "people",
                None,
                "ix_people_email",
                "CREATE INDEX ix_people_email ON public.people USING btree (email) WHERE active",
                "CREATE INDEX ix_people_email ON public.people USING btree (email) WHERE (NOT active)",
                IX,
            )
        ],
        id="partial-index-predicate",
    ),
    pytest.param(
        PEOPLE + " CREATE INDEX ix_people_email ON people (lower(email))",
        lambda m: people(m, sa.Index("ix_people_email", sa.func.upper(sa.column("email")))),
        [
            (
                "modify_index",
                None,
                "people",
                None,
                "ix_people_email",
                "CREATE INDEX ix_people_email ON public.people USING btree (lower(email))",
                "CREATE INDEX ix_people_email ON public.people USING btree (upper(email))",
                IX,
            )
        ],
        id="expression-index",
    ),
    pytest.param(
        PEOPLE + " CREATE INDEX ix_people_email ON people (email)",
        lambda m: people(m, sa.Index("ix_people_email", "email", postgresql_using="hash")),
        [
            (
                "modify_index",
                None,
                "people",
                None,
                "ix_people_email",
                "CREATE INDEX ix_people_email ON public.people USING btree (email)",
                "CREATE INDEX ix_people_email ON public.people USING hash (email)",
                IX,
            )
        ],
        id="index-method",
    ),
    pytest.param(
        PEOPLE + " CREATE INDEX ix_people_email ON people (email)",
        lambda m: people(m, sa.Index("ix_people_email", "email", unique=True)),
        [
            (
                "modify_index",
                None,
                "people",
                None,
                "ix_people_email",
                "CREATE INDEX ix_people_email ON public.people USING btree (email)",
                "CREATE UNIQUE INDEX ix_people_email ON public.people USING btree (email)",
                IX,
            )
        ],
        id="unique-index",
    ),
    pytest.param(
        PEOPLE + " CREATE INDEX ix_people_email ON people (email) INCLUDE (bio)",
        lambda m: people(m, sa.Index("ix_people_email", "email")),
        [
            (
                "modify_index",
                None,
                "people",
                None,
                "ix_people_email",
                "CREATE INDEX ix_people_email ON public.people USING btree (email) INCLUDE (bio)",
                "CREATE INDEX ix_people_email ON public.people USING btree (email)",
                IX,
            )
        ],
        id="index-include",
    ),
    pytest.param(
        PEOPLE + " CREATE INDEX ix_people_email ON people (email)",
        people,
        [
            (
                "remove_index",
                None,
                "people",
                None,
                "ix_people_email",
                "CREATE INDEX ix_people_email ON public.people USING btree (email)",
                None,
                IX,
            )
        ],
        id="index-only-in-migrations",
    ),
    pytest.param(
        PEOPLE + " CREATE INDEX ON people (email)",
        lambda m: people(m, sa.Index("ix_people_email", "email")),
        [
            (
                "rename_index",
                None,
                "people",
                None,
                "people_email_idx",
                "people_email_idx",
                "ix_people_email",
                IX,
            )
        ],
        id="index-renamed",
    ),
    pytest.param(
        "CREATE TABLE lines (order_id integer NOT NULL, n integer NOT NULL, PRIMARY KEY (order_id))",
        lambda m: sa.Table(
            "lines",
            m,
            sa.Column("order_id", sa.Integer, primary_key=True),
            sa.Column("n", sa.Integer, primary_key=True),
        ),
        [
            (
                "modify_constraint",
                None,
                "lines",
                None,
                "lines_pkey",
                "PRIMARY KEY (order_id)",
                "PRIMARY KEY (order_id, n)",
                PK,
            )
        ],
        id="primary-key-columns",
    ),
    pytest.param(
        "CREATE TABLE tickets (id serial PRIMARY KEY)",
        lambda m: sa.Table(
            "tickets", m, sa.Column("id", sa.Integer, sa.Identity(), primary_key=True)
        ),
        [
            (
                "modify_identity",
                None,
                "tickets",
                "id",
                None,
                "nextval('tickets_id_seq'::regclass)",
                "GENERATED BY DEFAULT AS IDENTITY",
                C,
            )
        ],
        id="serial-vs-identity",
    ),
    pytest.param(
        "CREATE TABLE tickets (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY)",
        lambda m: sa.Table(
            "tickets", m, sa.Column("id", sa.Integer, sa.Identity(), primary_key=True)
        ),
        [
            (
                "modify_identity",
                None,
                "tickets",
                "id",
                None,
                "GENERATED ALWAYS AS IDENTITY",
                "GENERATED BY DEFAULT AS IDENTITY",
                C,
            )
        ],
        id="identity-always-vs-by-default",
    ),
    pytest.param(
        "CREATE SEQUENCE ticket_seq; CREATE TABLE tickets (id integer PRIMARY KEY DEFAULT nextval('ticket_seq'))",
        lambda m: sa.Table(
            "tickets", m, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False)
        ),
        # A free-standing sequence is not the column's own: its nextval() is a plain default.
        [
            ("remove_sequence", None, None, None, "ticket_seq", "1", None, "sequence"),
            (
                "modify_default",
                None,
                "tickets",
                "id",
                None,
                "nextval('ticket_seq'::regclass)",
                None,
                C,
            ),
        ],
        id="free-standing-sequence-default",
    ),
    pytest.param(
        BOOKS.format(", author_id integer REFERENCES authors (id) ON DELETE CASCADE"),
        lambda m: books(m, sa.Column("author_id", sa.Integer, sa.ForeignKey("authors.id"))),
        [
            (
                "modify_constraint",
                None,
                "books",
                None,
                "books_author_id_fkey",
                "FOREIGN KEY (author_id) REFERENCES authors(id) ON DELETE CASCADE",
                "FOREIGN KEY (author_id) REFERENCES authors(id)",
                FK,
            )
        ],
        id="fk-on-delete",
    ),
    pytest.param(
        BOOKS.format(", author_id integer"),
        lambda m: books(m, sa.Column("author_id", sa.Integer, sa.ForeignKey("authors.id"))),
        [
            (
                "add_fk",
                None,
                "books",
                None,
                "books_author_id_fkey",
                None,
                "FOREIGN KEY (author_id) REFERENCES authors(id)",
                FK,
            )
        ],
        id="fk-only-in-models",
    ),
    pytest.param(
        BOOKS.format(", isbn text UNIQUE DEFERRABLE INITIALLY DEFERRED"),
        lambda m: books(m, sa.Column("isbn", sa.Text, unique=True)),
        [
            (
                "modify_constraint",
                None,
                "books",
                None,
                "books_isbn_key",
                "UNIQUE (isbn) DEFERRABLE INITIALLY DEFERRED",
                "UNIQUE (isbn)",
                UNIQUE,
            )
        ],
        id="deferrable",
    ),
    pytest.param(
        BOOKS.format(", isbn text, edition integer, UNIQUE (isbn)"),
        lambda m: books(
            m,
            sa.Column("isbn", sa.Text),
            sa.Column("edition", sa.Integer),
            sa.UniqueConstraint("isbn", "edition"),
        ),
        [
            (
                "add_constraint",
                None,
                "books",
                None,
                "books_isbn_edition_key",
                None,
                "UNIQUE (isbn, edition)",
                UNIQUE,
            ),
            (
                "remove_constraint",
                None,
                "books",
                None,
                "books_isbn_key",
                "UNIQUE (isbn)",
                None,
                UNIQUE,
            ),
        ],
        id="unique-constraint-columns",
    ),
    pytest.param(
        BOOKS.format(", isbn text CONSTRAINT uq_isbn UNIQUE"),
        lambda m: books(m, sa.Column("isbn", sa.Text, unique=True)),
        [
            (
                "rename_constraint",
                None,
                "books",
                None,
                "uq_isbn",
                "uq_isbn",
                "books_isbn_key",
                UNIQUE,
            )
        ],
        id="unique-constraint-renamed",
    ),
    pytest.param(
        "CREATE TABLE rooms (id serial PRIMARY KEY, during tsrange, EXCLUDE USING gist (during WITH &&))",
        lambda m: sa.Table("rooms", m, ID(), sa.Column("during", TSRANGE)),
        [
            (
                "remove_constraint",
                None,
                "rooms",
                None,
                "rooms_during_excl",
                "EXCLUDE USING gist (during WITH &&)",
                None,
                "exclusion_constraint",
            )
        ],
        id="exclusion-constraint",
    ),
    pytest.param(
        BOOKS.format("").replace("title text", "title varchar(100)"),
        lambda m: books(m, title(sa.String(200))),
        [
            (
                "modify_type",
                None,
                "books",
                "title",
                None,
                "character varying(100)",
                "character varying(200)",
                C,
            )
        ],
        id="varchar-length",
    ),
    pytest.param(
        BOOKS.format(", ref uuid"),
        lambda m: books(m, sa.Column("ref", sa.String(36))),
        [("modify_type", None, "books", "ref", None, "uuid", "character varying(36)", C)],
        id="uuid-vs-varchar",
    ),
    pytest.param(
        BOOKS.format(" NOT NULL"),
        books,
        [("modify_nullable", None, "books", "title", None, "NOT NULL", "NULL", C)],
        id="nullability",
    ),
    pytest.param(
        BOOKS.format(' COLLATE "C"'),
        books,
        [("modify_collation", None, "books", "title", None, '"C"', None, C)],
        id="collation",
    ),
    pytest.param(
        BOOKS.format("") + "; COMMENT ON COLUMN books.title IS 'The title'",
        lambda m: books(m, title(sa.Text, comment="Title")),
        [("modify_comment", None, "books", "title", None, "The title", "Title", C)],
        id="column-comment",
    ),
    pytest.param(
        BOOKS.format(""),
        lambda m: books(m, comment="Every book"),
        [("add_table_comment", None, "books", None, None, None, "Every book", T)],
        id="table-comment",
    ),
    pytest.param(
        BOOKS.format(", pages integer, sheets integer GENERATED ALWAYS AS (pages / 2) STORED"),
        lambda m: books(
            m,
            sa.Column("pages", sa.Integer),
            sa.Column("sheets", sa.Integer, sa.Computed("pages / 4", persisted=True)),
        ),
        [
            (
                "modify_generated",
                None,
                "books",
                "sheets",
                None,
                "GENERATED ALWAYS AS ((pages / 2)) STORED",
                "GENERATED ALWAYS AS ((pages / 4)) STORED",
                C,
            )
        ],
        id="generated-expression",
    ),
    pytest.param(
        BOOKS.format(""),
        lambda m: (books(m), sa.Sequence("order_number_seq", increment=10, metadata=m)),
        [("add_sequence", None, None, None, "order_number_seq", None, "10", "sequence")],
        id="sequence-only-in-models",
    ),
    pytest.param(
        BOOKS.format("") + "; CREATE SEQUENCE order_number_seq INCREMENT 2",
        lambda m: (books(m), sa.Sequence("order_number_seq", metadata=m)),
        [("modify_sequence", None, None, None, "order_number_seq", "2", "1", "sequence")],
        id="sequence-increment",
    ),
    pytest.param(
        "CREATE SCHEMA audit; CREATE TABLE audit.entries (id serial PRIMARY KEY)",
        "",
        [
            ("remove_schema", "audit", None, None, "audit", None, None, "schema"),
            ("remove_table", "audit", "entries", None, None, None, None, T),
        ],
        id="schema-only-in-migrations",
    ),
    pytest.param(
        BOOKS.format(""),
        authors,
        [("remove_table", None, "books", None, None, None, None, T)],
        id="table-only-in-migrations",
    ),
    pytest.param(
        BOOKS.format(", isbn text"),
        books,
        [("remove_column", None, "books", "isbn", None, "text", None, C)],
        id="column-only-in-migrations",
    ),
]


@pytest.mark.parametrize(("migrations", "models", "expected"), DIFFERENT)
def test_difference(
    any_pg_server: PostgresServer, migrations: Side, models: Side, expected: list[tuple[Any, ...]]
) -> None:
    differences, information = diff(any_pg_server, migrations, models)
    assert rows(differences) == expected
    assert information == []

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
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from servers import PostgresServer
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSRANGE, UUID
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from drift_job.worker.catalog import Snapshot, compare, snapshot

Builder = Callable[[sa.MetaData], Any]
Side = str | Builder | tuple[str, Builder]  # SQL DDL, models, or SQL first then models


@contextmanager
def scratch_databases(server: PostgresServer, count: int = 2) -> Iterator[list[Engine]]:
    names = [f"catalogtest_{secrets.token_hex(4)}" for _ in range(count)]
    engines: list[Engine] = []
    try:
        for name in names:
            server.query(f'CREATE DATABASE "{name}"')
            engines.append(sa.create_engine(server.sqlalchemy_url(name), poolclass=NullPool))
        yield engines
    finally:
        for engine in engines:
            engine.dispose()
        for name in names:
            server.query(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build(engine: Engine, side: Side) -> None:
    """Plain SQL as a migration writes it, or ``create_all()`` as the real pass does (after
    the SQL it cannot say, such as CREATE SCHEMA)."""
    sql, models = (
        side if isinstance(side, tuple) else (side, None) if isinstance(side, str) else ("", side)
    )
    if sql.strip():
        with engine.begin() as conn:
            conn.exec_driver_sql(sql)
    if models is not None:
        metadata = sa.MetaData()
        models(metadata)
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
        lambda m: books(
            m, sa.Column("isbn", sa.Text), sa.UniqueConstraint("isbn", name="uq_book_isbn")
        ),
        [
            (
                "rename_constraint",
                None,
                "books",
                None,
                "uq_isbn",
                "uq_isbn",
                "uq_book_isbn",
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
        "CREATE SCHEMA shop; CREATE TABLE shop.items (id serial PRIMARY KEY, name varchar(50));"
        " CREATE TABLE shop.orders (id serial PRIMARY KEY, item_id integer REFERENCES shop.items)",
        (
            "CREATE SCHEMA shop",
            lambda m: (
                sa.Table("items", m, ID(), sa.Column("name", sa.String(80)), schema="shop"),
                sa.Table(
                    "orders",
                    m,
                    ID(),
                    sa.Column(
                        "item_id", sa.Integer, sa.ForeignKey("shop.items.id", ondelete="CASCADE")
                    ),
                    schema="shop",
                ),
                sa.Table("notes", m, ID(), schema="shop"),
            ),
        ),
        [
            (
                "modify_type",
                "shop",
                "items",
                "name",
                None,
                "character varying(50)",
                "character varying(80)",
                C,
            ),
            ("add_table", "shop", "notes", None, None, None, None, T),
            (
                "modify_constraint",
                "shop",
                "orders",
                None,
                "orders_item_id_fkey",
                "FOREIGN KEY (item_id) REFERENCES shop.items(id)",
                "FOREIGN KEY (item_id) REFERENCES shop.items(id) ON DELETE CASCADE",
                FK,
            ),
        ],
        id="other-schema",
    ),
    pytest.param(
        BOOKS.format(", isbn text UNIQUE"),
        lambda m: books(
            m, sa.Column("isbn", sa.Text), sa.Index("ix_books_isbn", "isbn", unique=True)
        ),
        # Alike in effect, but different objects: the catalog pass reports both.
        [
            (
                "add_index",
                None,
                "books",
                None,
                "ix_books_isbn",
                None,
                "CREATE UNIQUE INDEX ix_books_isbn ON public.books USING btree (isbn)",
                IX,
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
        id="unique-constraint-vs-unique-index",
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


CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def conventional(m: sa.MetaData) -> None:
    m.naming_convention = CONVENTION
    sa.Table("authors", m, ID())
    sa.Table(
        "books",
        m,
        ID(),
        sa.Column("isbn", sa.Text, unique=True, index=False),
        sa.Column("title", sa.Text, index=True),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("authors.id")),
        sa.Column("pages", sa.Integer),
        sa.CheckConstraint("pages > 0", name="positive_pages"),
    )


def typed(m: sa.MetaData) -> None:
    sa.Table(
        "typed",
        m,
        ID(),
        sa.Column("name", sa.String(100)),
        sa.Column("amount", sa.Numeric(10, 2)),
        sa.Column("ratio", sa.Float),
        sa.Column("big", sa.BigInteger),
        sa.Column("at", sa.DateTime),
        sa.Column("at_tz", sa.DateTime(timezone=True)),
        sa.Column("day", sa.Date),
        sa.Column("tags", ARRAY(sa.Text)),
        sa.Column("ref", UUID(as_uuid=True)),
        sa.Column("raw", sa.LargeBinary),
    )


EQUAL = [
    pytest.param(
        # The model leaves it unnamed (PostgreSQL names it books_isbn_key); the migration
        # chose a name of its own: nothing to rename to, so no difference (mealie's FKs).
        BOOKS.format(", isbn text CONSTRAINT uq_isbn UNIQUE"),
        lambda m: books(m, sa.Column("isbn", sa.Text, unique=True)),
        id="unnamed-in-the-model-named-in-the-migration",
    ),
    pytest.param(
        "CREATE TABLE docs (id serial PRIMARY KEY, data jsonb NOT NULL DEFAULT '{}'::jsonb)",
        lambda m: sa.Table(
            "docs", m, ID(), sa.Column("data", JSONB, nullable=False, server_default="{}")
        ),
        id="jsonb-default-literal-vs-cast",
    ),
    pytest.param(
        "CREATE TABLE flags (id serial PRIMARY KEY, a boolean NOT NULL DEFAULT 'f', b boolean DEFAULT false)",
        lambda m: sa.Table(
            "flags",
            m,
            ID(),
            sa.Column("a", sa.Boolean, nullable=False, server_default=sa.false()),
            sa.Column("b", sa.Boolean, server_default=sa.false()),
        ),
        id="boolean-default-f-false-sa-false",
    ),
    pytest.param(
        "CREATE TABLE events (id serial PRIMARY KEY, a timestamptz DEFAULT now(), b timestamptz DEFAULT CURRENT_TIMESTAMP, c integer DEFAULT (1 + 1))",
        lambda m: sa.Table(
            "events",
            m,
            ID(),
            sa.Column("a", sa.DateTime(timezone=True), server_default=sa.func.now()),
            sa.Column("b", sa.DateTime(timezone=True), server_default=sa.text("CURRENT_TIMESTAMP")),
            sa.Column("c", sa.Integer, server_default=sa.text("1 + 1")),
        ),
        id="defaults-spelled-the-same-way",
    ),
    pytest.param(
        "CREATE TABLE authors (id serial PRIMARY KEY);"
        " CREATE TABLE books (title text, author_id integer REFERENCES authors, id serial PRIMARY KEY)",
        lambda m: books(m, sa.Column("author_id", sa.Integer, sa.ForeignKey("authors.id"))),
        id="column-order",
    ),
    pytest.param(
        "CREATE TABLE authors (id serial CONSTRAINT pk_authors PRIMARY KEY);"
        " CREATE TABLE books (id serial CONSTRAINT pk_books PRIMARY KEY, isbn text CONSTRAINT uq_books_isbn UNIQUE,"
        " title text, author_id integer CONSTRAINT fk_books_author_id_authors REFERENCES authors (id),"
        " pages integer CONSTRAINT ck_books_positive_pages CHECK (pages > 0));"
        " CREATE INDEX ix_books_title ON books (title)",
        conventional,
        id="naming-convention",
    ),
    pytest.param(
        "CREATE SCHEMA shop; CREATE TYPE shop.status AS ENUM ('new', 'done');"
        " CREATE TABLE shop.orders (id serial PRIMARY KEY, status shop.status NOT NULL DEFAULT 'new')",
        (
            "CREATE SCHEMA shop",
            lambda m: sa.Table(
                "orders",
                m,
                ID(),
                sa.Column(
                    "status",
                    sa.Enum("new", "done", name="status", schema="shop"),
                    nullable=False,
                    server_default="new",
                ),
                schema="shop",
            ),
        ),
        id="schema-qualified-enum",
    ),
    pytest.param(
        BOOKS.format(", author_id integer REFERENCES authors (id)"),
        lambda m: (
            sa.Table("authors", m, ID(), schema="public"),
            sa.Table(
                "books",
                m,
                ID(),
                sa.Column("title", sa.Text),
                sa.Column("author_id", sa.Integer, sa.ForeignKey("public.authors.id")),
                schema="public",
            ),
        ),
        id="explicit-public-schema",
    ),
    pytest.param(
        "CREATE TABLE typed (id serial PRIMARY KEY, name varchar(100), amount numeric(10,2), ratio float8, big int8,"
        " at timestamp, at_tz timestamptz, day date, tags text[], ref uuid, raw bytea)",
        typed,
        id="type-spellings",
    ),
    pytest.param(
        "CREATE TABLE old_tickets (id serial PRIMARY KEY); ALTER TABLE old_tickets RENAME TO tickets;"
        " ALTER TABLE tickets RENAME CONSTRAINT old_tickets_pkey TO tickets_pkey",
        lambda m: sa.Table("tickets", m, ID()),
        id="serial-keeps-old-sequence-name",
    ),
    pytest.param(
        "CREATE TABLE tickets (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY)",
        lambda m: sa.Table(
            "tickets", m, sa.Column("id", sa.Integer, sa.Identity(), primary_key=True)
        ),
        id="identity",
    ),
    pytest.param(
        "CREATE TABLE products (id serial PRIMARY KEY, price_cents integer NOT NULL CHECK (price_cents >= 0))",
        lambda m: sa.Table(
            "products",
            m,
            ID(),
            sa.Column(
                "price_cents", sa.Integer, sa.CheckConstraint("price_cents >= 0"), nullable=False
            ),
        ),
        id="unnamed-check",
    ),
    pytest.param(
        BOOKS.format(
            ' COLLATE "C", pages integer, sheets integer GENERATED ALWAYS AS (pages / 2) STORED'
        )
        + "; COMMENT ON TABLE books IS 'Every book'; COMMENT ON COLUMN books.pages IS 'Pages'",
        lambda m: books(
            m,
            sa.Column("title", sa.Text(collation="C")),
            sa.Column("pages", sa.Integer, comment="Pages"),
            sa.Column("sheets", sa.Integer, sa.Computed("pages / 2", persisted=True)),
            comment="Every book",
        ),
        id="collation-comment-generated",
    ),
    pytest.param(
        "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);"
        " CREATE SCHEMA tenant; CREATE TABLE tenant.alembic_version (version_num varchar(32) PRIMARY KEY)",
        "CREATE SCHEMA tenant",
        id="alembic-version-in-any-schema",
    ),
    pytest.param(
        "CREATE SCHEMA shop; CREATE TABLE shop.items (id serial PRIMARY KEY);"
        " CREATE TABLE shop.orders (id serial PRIMARY KEY, item_id integer REFERENCES shop.items);"
        " DO $$BEGIN EXECUTE format('ALTER DATABASE %%I SET search_path = shop', current_database()); END$$",
        (
            "CREATE SCHEMA shop",
            lambda m: (
                sa.Table("items", m, ID(), schema="shop"),
                sa.Table(
                    "orders",
                    m,
                    ID(),
                    sa.Column("item_id", sa.Integer, sa.ForeignKey("shop.items.id")),
                    schema="shop",
                ),
            ),
        ),
        id="search-path-changed-by-a-migration",
    ),
    pytest.param(
        "CREATE EXTENSION citext; CREATE TABLE people (id serial PRIMARY KEY, email citext)",
        "CREATE EXTENSION citext; CREATE TABLE people (id serial PRIMARY KEY, email citext)",
        id="extension-on-both-sides",
    ),
]


@pytest.mark.parametrize(("migrations", "models"), EQUAL)
def test_equal(any_pg_server: PostgresServer, migrations: Side, models: Side) -> None:
    assert diff(any_pg_server, migrations, models) == ([], [])


def test_generated_names_differing_in_suffix_are_not_drift(any_pg_server: PostgresServer) -> None:
    """PostgreSQL chose books_isbn_key1 because books_isbn_key was taken at the time."""
    migrations = (
        "CREATE TABLE taken (a integer); CREATE INDEX books_isbn_key ON taken (a);"
        + BOOKS.format(", isbn text UNIQUE")
        + "; DROP TABLE taken"
    )
    with scratch_databases(any_pg_server) as (migrated, modelled):
        build(migrated, migrations)
        build(modelled, lambda m: books(m, sa.Column("isbn", sa.Text, unique=True)))
        old, new = take(migrated), take(modelled)
    assert {c.name for c in old.constraints if c.contype == "u"} == {"books_isbn_key1"}
    assert {c.name for c in new.constraints if c.contype == "u"} == {"books_isbn_key"}
    assert compare(old, new) == ([], [])


def test_details(pg_server: PostgresServer) -> None:
    """The one-line details read as the interface shows them."""
    migrations = (
        ORDERS
        + "; CREATE TABLE products (id serial PRIMARY KEY, price_cents integer CONSTRAINT price_nonneg CHECK (price_cents > 0));"
        + BOOKS.format(" DEFAULT 'x'")
    )

    def models(m: sa.MetaData) -> None:
        sa.Table(
            "orders",
            m,
            ID(),
            sa.Column(
                "status",
                sa.Enum("pending", "paid", "shipped", "cancelled", name="order_status"),
                nullable=False,
            ),
        )
        sa.Table(
            "products",
            m,
            ID(),
            sa.Column("price_cents", sa.Integer),
            sa.CheckConstraint("price_cents >= 0", name="price_nonneg"),
        )
        books(m)

    differences, _ = diff(pg_server, migrations, models)
    assert [d["detail"] for d in differences] == [
        "enum order_status: migrations (pending, paid, shipped), models (pending, paid, shipped, cancelled)",
        "column books.title server default: migrations 'x'::text, models none",
        "check constraint products.price_nonneg: migrations (price_cents > 0), models (price_cents >= 0)",
    ]


def test_information_only_in_the_migrations(any_pg_server: PostgresServer) -> None:
    """What models cannot express is information, not drift; extension members never show."""
    migrations = BOOKS.format("") + (
        "; CREATE EXTENSION citext"
        "; CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$"
        "; CREATE VIEW recent_books AS SELECT id, title FROM books"
        "; CREATE MATERIALIZED VIEW book_count AS SELECT count(*) AS n FROM books"
        "; CREATE TRIGGER books_touch BEFORE UPDATE ON books FOR EACH ROW EXECUTE FUNCTION touch_updated_at()"
        "; ALTER TABLE books ENABLE ROW LEVEL SECURITY"
        "; CREATE POLICY books_visible ON books USING (true)"
        "; GRANT SELECT ON books TO PUBLIC"
    )
    differences, information = diff(any_pg_server, migrations, books)
    assert differences == []
    grants = information.pop(4)
    assert grants["kind"] == "grant" and grants["table"] == "books" and grants["object"] == "books"
    assert grants["detail"].startswith("grants on books: migrations {")
    assert "=r/postgres" in grants["detail"] and grants["detail"].endswith("}, models default")
    assert information == [
        {
            "kind": "extension",
            "schema": None,
            "table": None,
            "object": "citext",
            "detail": "extension citext (only in the migrations)",
        },
        {
            "kind": "function",
            "schema": None,
            "table": None,
            "object": "touch_updated_at",
            "detail": "function public.touch_updated_at() (only in the migrations)",
        },
        {
            "kind": "materialized_view",
            "schema": None,
            "table": None,
            "object": "book_count",
            "detail": "materialized view public.book_count (only in the migrations)",
        },
        {
            "kind": "view",
            "schema": None,
            "table": None,
            "object": "recent_books",
            "detail": "view public.recent_books (only in the migrations)",
        },
        {
            "kind": "policy",
            "schema": None,
            "table": "books",
            "object": "books_visible",
            "detail": "policy books_visible on books (only in the migrations)",
        },
        {
            "kind": "row_level_security",
            "schema": None,
            "table": "books",
            "object": "books",
            "detail": "row-level security on books: migrations enabled, models disabled",
        },
        {
            "kind": "trigger",
            "schema": None,
            "table": "books",
            "object": "books_touch",
            "detail": "trigger books_touch on books (only in the migrations)",
        },
    ]


def _many_tables(start: int, stop: int) -> str:
    statements = []
    for i in range(start, stop):
        parent = f"t{i - 1}" if i else "t0"
        statements.append(
            f"CREATE TABLE t{i} (id serial PRIMARY KEY, name varchar(100) NOT NULL,"
            f" parent_id integer REFERENCES {parent} (id), created timestamptz DEFAULT now(), note text);"
            f" CREATE INDEX ON t{i} (name);"
        )
    return "\n".join(statements)


def test_performance_2000_tables(pg_server: PostgresServer) -> None:
    """2,000 tables x 5 columns, an index and a foreign key each: timings are printed, not
    asserted (machines are noisy); the interface asks < 1 s per snapshot, < 0.5 s to compare."""
    count = 2000
    with scratch_databases(pg_server, count=1) as (migrated,):
        started = time.perf_counter()
        for start in range(0, count, 200):  # a transaction's locks are limited
            build(migrated, _many_tables(start, start + 200))
        built = time.perf_counter() - started
        with migrated.connect() as conn:
            started = time.perf_counter()
            old = snapshot(conn)
            snapped = time.perf_counter() - started
        new = Snapshot.from_dict(json.loads(json.dumps(old.to_dict())))
        changed = next(t for t in new.tables if t.name == "t1999")
        next(c for c in changed.columns if c.name == "name").type = "character varying(200)"
        started = time.perf_counter()
        differences, information = compare(old, new)
        compared = time.perf_counter() - started
    print(
        f"\ncatalog pass, {count} tables: build {built:.2f} s, snapshot {snapped:.3f} s, compare {compared:.3f} s"
    )
    assert (
        len(old.tables) == count and len(old.constraints) == 2 * count and len(old.indexes) == count
    )
    assert rows(differences) == [
        (
            "modify_type",
            None,
            "t1999",
            "name",
            None,
            "character varying(100)",
            "character varying(200)",
            C,
        )
    ]
    assert information == []


def test_snapshot_leaves_the_session_search_path_alone(pg_server: PostgresServer) -> None:
    with scratch_databases(pg_server, count=1) as (engine,), engine.connect() as conn:
        conn.exec_driver_sql("SET search_path = pg_temp, public")
        snapshot(conn)
        assert conn.exec_driver_sql("SHOW search_path").scalar() == "pg_temp, public"

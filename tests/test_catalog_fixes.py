"""catalog_fixes.fixes(): every kind of catalog difference, fixed for real.

Each test builds the "migrated" state in one scratch database and the "models" state in another
(same server), reads the models' renderings from the server (format_type, pg_get_expr,
pg_get_constraintdef, pg_get_indexdef, enum labels), builds the difference dict the catalog pass
reports, runs the returned lines as an upgrade() body with Alembic's Operations on the migrated
database, and asserts that both catalogs are now the same.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy
from alembic.migration import MigrationContext
from alembic.operations import Operations
from servers import PostgresServer

from drift_job.worker.catalog_fixes import fixes, ident

USER_SCHEMAS = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_t%'"
)
STATE = {
    "schemas": f"SELECT nspname FROM pg_namespace n WHERE {USER_SCHEMAS}",
    "tables": f"""SELECT n.nspname, c.relname, obj_description(c.oid, 'pg_class')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND {USER_SCHEMAS}""",
    "columns": f"""SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
            a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
            co.collname, col_description(c.oid, a.attnum)
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        LEFT JOIN pg_collation co ON co.oid = a.attcollation
        WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND {USER_SCHEMAS}""",
    "constraints": f"""SELECT n.nspname, c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid)
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE k.contype <> 'n' AND {USER_SCHEMAS}""",
    "indexes": "SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes"
    " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
    "enums": """SELECT n.nspname, t.typname, string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder)
        FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
        JOIN pg_namespace n ON n.oid = t.typnamespace GROUP BY 1, 2""",
    "sequences": "SELECT schemaname, sequencename, increment_by FROM pg_sequences",
}


class Database:
    """One scratch database: SQL through psycopg2, Alembic through a SQLAlchemy engine."""

    def __init__(self, server: PostgresServer, name: str) -> None:
        self.server, self.name = server, name
        self.engine = sqlalchemy.create_engine(
            server.sqlalchemy_url(name), poolclass=sqlalchemy.pool.NullPool
        )

    def run(self, sql: str) -> None:
        self.server.query(sql, database=self.name)

    def one(self, sql: str) -> Any:
        rows = self.server.query(sql, database=self.name)
        return rows[0][0] if rows else None

    def state(self) -> dict[str, list[tuple[object, ...]]]:
        return {
            k: sorted(self.server.query(q, database=self.name), key=repr) for k, q in STATE.items()
        }

    def apply(self, lines: list[str]) -> None:
        """The lines as the body of a migration's upgrade(), run by Alembic's Operations."""
        body = "".join(f"    {line}\n" for line in lines)
        with self.engine.begin() as conn:
            namespace: dict[str, Any] = {
                "op": Operations(MigrationContext.configure(conn)),
                "sa": sqlalchemy,
            }
            exec(f"def upgrade():\n{body}    pass\n", namespace)
            namespace["upgrade"]()

    # The server's renderings, as the catalog pass reads them.
    def type_of(self, table: str, column: str) -> str:
        return str(
            self.one(
                f"SELECT format_type(atttypid, atttypmod) FROM pg_attribute {attr(table, column)}"
            )
        )

    def default_of(self, table: str, column: str) -> str | None:
        return self.one(
            f"SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef"
            f" WHERE adrelid = '{table}'::regclass AND adnum = (SELECT attnum FROM pg_attribute {attr(table, column)})"
        )

    def constraint(self, table: str, name: str) -> str | None:
        return self.one(
            f"SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            f" WHERE conrelid = '{table}'::regclass AND conname = '{name}'"
        )

    def index(self, name: str) -> str | None:
        return self.one(f"SELECT indexdef FROM pg_indexes WHERE indexname = '{name}'")

    def enum(self, name: str) -> str | None:
        labels = self.one(
            "SELECT string_agg(enumlabel, ', ' ORDER BY enumsortorder) FROM pg_enum"
            f" WHERE enumtypid = '{name}'::regtype"
        )
        return None if labels is None else f"({labels})"


def attr(table: str, column: str) -> str:
    return f"WHERE attrelid = '{table}'::regclass AND attname = '{column}'"


@pytest.fixture
def dbs(pg_server: PostgresServer) -> Iterator[tuple[Database, Database]]:
    """(migrated, models): two scratch databases, dropped afterwards whatever happens."""
    names = [f"fixtest_{secrets.token_hex(6)}" for _ in range(2)]
    try:
        for name in names:
            pg_server.query(f'CREATE DATABASE "{name}"')
        migrated, models = (Database(pg_server, name) for name in names)
        yield migrated, models
    finally:
        for name in names:
            pg_server.query(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def difference(kind: str, object_type: str = "column", **keys: str | None) -> dict[str, Any]:
    """A difference dict as the catalog pass reports it: every key present."""
    diff: dict[str, Any] = dict.fromkeys(
        ("schema", "table", "column", "object", "migrations", "models")
    )
    diff.update(kind=kind, object_type=object_type, **keys)
    diff["detail"] = (
        f"{kind} {keys.get('table') or keys.get('object')}: migrations {diff['migrations']}, models {diff['models']}"
    )
    return diff


def both(dbs: tuple[Database, Database], sql: str) -> None:
    for db in dbs:
        db.run(sql)


def fix(migrated: Database, models: Database, *diffs: dict[str, Any]) -> list[str]:
    """Apply the fixes for ``diffs`` to the migrated database; the catalogs must now agree."""
    assert migrated.state() != models.state(), "the test's two databases should differ"
    lines = [line for diff in diffs for line in fixes(diff)]
    migrated.apply(lines)
    assert migrated.state() == models.state(), lines
    return lines


def test_enum_additions_in_place(dbs: tuple[Database, Database]) -> None:
    migrated, models = dbs
    both(dbs, 'CREATE SCHEMA "Sales"')
    migrated.run("""CREATE TYPE "Sales".order_status AS ENUM ('pending', 'paid', 'shipped')""")
    models.run(
        """CREATE TYPE "Sales".order_status AS ENUM
        ('new', 'pending', 'paid', 'on hold', 'it''s late', 'shipped', 'cancelled', 'lost')"""
    )
    diff = difference(
        "modify_enum",
        "enum",
        schema="Sales",
        object="order_status",
        migrations=migrated.enum('"Sales".order_status'),
        models=models.enum('"Sales".order_status'),
    )
    lines = fix(migrated, models, diff)
    assert len(lines) == 5
    assert (
        lines[0]
        == """op.execute('ALTER TYPE "Sales".order_status ADD VALUE \\'new\\' BEFORE \\'pending\\'')"""
    )


@pytest.mark.parametrize(
    "labels",
    ["('paid', 'pending', 'shipped')", "('pending', 'shipped')", "('pending', 'paid', 'lost')"],
)
def test_enum_removal_or_reorder_is_a_comment(dbs: tuple[Database, Database], labels: str) -> None:
    migrated, models = dbs
    migrated.run("CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped')")
    models.run(f"CREATE TYPE order_status AS ENUM {labels}")
    diff = difference(
        "modify_enum",
        "enum",
        object="order_status",
        migrations=migrated.enum("order_status"),
        models=models.enum("order_status"),
    )
    lines = fixes(diff)
    assert len(lines) == 1 and lines[0].startswith("# ") and "recreate the type" in lines[0]
    before = migrated.state()
    migrated.apply(lines)
    assert migrated.state() == before


def test_add_and_remove_enum(dbs: tuple[Database, Database]) -> None:
    migrated, models = dbs
    models.run("CREATE TYPE mood AS ENUM ('sad', 'it''s ok', 'happy')")
    migrated.run("CREATE TYPE legacy AS ENUM ('x')")
    migrated.apply(
        fixes(
            difference("remove_enum", "enum", object="legacy", migrations=migrated.enum("legacy"))
        )
    )
    fix(migrated, models, difference("add_enum", "enum", object="mood", models=models.enum("mood")))


def test_check_constraint_added_changed_and_removed(dbs: tuple[Database, Database]) -> None:
    migrated, models = dbs
    both(dbs, 'CREATE SCHEMA "Sales"')
    table = """CREATE TABLE "Sales"."Order" (price_cents integer, note text)"""
    both(dbs, table)
    migrated.run(
        """ALTER TABLE "Sales"."Order" ADD CONSTRAINT price_nonneg CHECK (price_cents > 0),
        ADD CONSTRAINT old_rule CHECK (note <> 'x')"""
    )
    models.run(
        """ALTER TABLE "Sales"."Order" ADD CONSTRAINT price_nonneg CHECK (price_cents >= 0),
        ADD CONSTRAINT "Note: no parens" CHECK (note NOT IN ('(', ' :x', 'it''s'))"""
    )
    where = '"Sales"."Order"'
    common = {"schema": "Sales", "table": "Order"}
    changed = difference(
        "add_constraint",
        "check_constraint",
        object="price_nonneg",
        **common,
        migrations=migrated.constraint(where, "price_nonneg"),
        models=models.constraint(where, "price_nonneg"),
    )
    assert changed["models"] == "CHECK ((price_cents >= 0))"
    added = difference(
        "add_constraint",
        "check_constraint",
        object="Note: no parens",
        **common,
        models=models.constraint(where, "Note: no parens"),
    )
    removed = difference(
        "remove_constraint",
        "check_constraint",
        object="old_rule",
        **common,
        migrations=migrated.constraint(where, "old_rule"),
    )
    lines = fixes(changed) + fixes(added) + fixes(removed)
    assert lines[1].startswith(
        "op.create_check_constraint(op.f('price_nonneg'), 'Order', '(price_cents"
    )
    migrated.apply(lines)
    assert migrated.state() == models.state(), lines


def test_server_defaults(dbs: tuple[Database, Database]) -> None:
    migrated, models = dbs
    migrated.run("CREATE TABLE books (title text DEFAULT 'x', added timestamptz, n int DEFAULT 1)")
    models.run(
        "CREATE TABLE books (title text DEFAULT 'it''s: :y', added timestamptz DEFAULT now(), n int)"
    )
    lines: list[str] = []
    for column in ("title", "added", "n"):
        diff = difference(
            "modify_default",
            "column",
            table="books",
            column=column,
            migrations=migrated.default_of("books", column),
            models=models.default_of("books", column),
        )
        lines += fixes(diff)
    assert lines[2] == "op.alter_column('books', 'n', server_default=None)"
    migrated.apply(lines)
    assert migrated.state() == models.state(), lines


def test_indexes_added_changed_removed_renamed(dbs: tuple[Database, Database]) -> None:
    migrated, models = dbs
    both(dbs, "CREATE TABLE books (title text, isbn text, in_print boolean, year int)")
    migrated.run(
        """CREATE INDEX ix_books_year ON books (year);
        CREATE INDEX ix_gone ON books (isbn);
        CREATE INDEX ix_old_name ON books (lower(title))"""
    )
    models.run(
        """CREATE INDEX ix_books_year ON books (year DESC) WHERE in_print;
        CREATE UNIQUE INDEX "UQ isbn" ON books (isbn) WHERE (isbn IS NOT NULL);
        CREATE INDEX ix_books_title ON books USING btree (title) WHERE (in_print);
        CREATE INDEX ix_new_name ON books (lower(title))"""
    )
    common = {"table": "books"}
    diffs = [
        difference(
            "add_index",
            "index",
            object="ix_books_year",
            **common,
            migrations=migrated.index("ix_books_year"),
            models=models.index("ix_books_year"),
        ),
        difference(
            "add_index", "index", object="UQ isbn", **common, models=models.index("UQ isbn")
        ),
        difference(
            "remove_index",
            "index",
            object="ix_gone",
            **common,
            migrations=migrated.index("ix_gone"),
        ),
        difference(
            "rename_index",
            "index",
            object="ix_new_name",
            **common,
            migrations=migrated.index("ix_old_name"),
            models=models.index("ix_new_name"),
        ),
    ]
    # The structural key (the indexdef with the name removed) still gets the models' name.
    title = models.index("ix_books_title")
    assert title == "CREATE INDEX ix_books_title ON public.books USING btree (title) WHERE in_print"
    diffs.append(
        difference(
            "add_index",
            "index",
            object="ix_books_title",
            **common,
            models=title.replace("ix_books_title ", ""),
        )
    )
    lines = [line for diff in diffs for line in fixes(diff)]
    assert lines[0] == "op.drop_index(op.f('ix_books_year'), table_name='books')"
    migrated.apply(lines)
    assert migrated.state() == models.state(), lines


def test_primary_keys(dbs: tuple[Database, Database]) -> None:
    migrated, models = dbs
    both(
        dbs,
        'CREATE TABLE "user" ("Org" int NOT NULL, id int NOT NULL); CREATE TABLE tags (id int NOT NULL)',
    )
    migrated.run("ALTER TABLE tags ADD CONSTRAINT tags_pkey PRIMARY KEY (id)")
    models.run('ALTER TABLE "user" ADD CONSTRAINT user_pk PRIMARY KEY ("Org", id)')
    added = difference(
        "add_constraint",
        "primary_key",
        table="user",
        object="user_pk",
        models=models.constraint('"user"', "user_pk"),
    )
    removed = difference(
        "remove_constraint",
        "primary_key",
        table="tags",
        object="tags_pkey",
        migrations=migrated.constraint("tags", "tags_pkey"),
    )
    lines = fixes(added) + fixes(removed)
    assert lines == [
        "op.create_primary_key(op.f('user_pk'), 'user', ['Org', 'id'])",
        "op.drop_constraint(op.f('tags_pkey'), 'tags', type_='primary')",
    ]
    migrated.apply(lines)
    assert migrated.state() == models.state(), lines


def test_foreign_unique_and_exclusion_constraints(dbs: tuple[Database, Database]) -> None:
    migrated, models = dbs
    both(
        dbs,
        """CREATE TABLE authors (id int PRIMARY KEY, email text, during tsrange);
        CREATE TABLE books (id int PRIMARY KEY, author_id int, editor_id int)""",
    )
    migrated.run(
        """ALTER TABLE books ADD CONSTRAINT books_editor_id_fkey FOREIGN KEY (editor_id) REFERENCES authors(id);
        ALTER TABLE authors ADD CONSTRAINT authors_email_key UNIQUE (email)"""
    )
    models.run(
        """ALTER TABLE books ADD CONSTRAINT fk_author FOREIGN KEY (author_id) REFERENCES authors(id) ON DELETE CASCADE;
        ALTER TABLE authors ADD CONSTRAINT uq_email UNIQUE NULLS NOT DISTINCT (email),
            ADD CONSTRAINT no_overlap EXCLUDE USING gist (during WITH &&)"""
    )
    diffs = [
        difference(
            "add_fk",
            "foreign_key_constraint",
            table="books",
            object="fk_author",
            models=models.constraint("books", "fk_author"),
        ),
        difference(
            "remove_fk",
            "foreign_key_constraint",
            table="books",
            object="books_editor_id_fkey",
            migrations=migrated.constraint("books", "books_editor_id_fkey"),
        ),
        difference(
            "add_constraint",
            "unique_constraint",
            table="authors",
            object="uq_email",
            models=models.constraint("authors", "uq_email"),
        ),
        difference(
            "remove_constraint",
            "unique_constraint",
            table="authors",
            object="authors_email_key",
            migrations=migrated.constraint("authors", "authors_email_key"),
        ),
        difference(
            "add_constraint",
            "exclusion_constraint",
            table="authors",
            object="no_overlap",
            models=models.constraint("authors", "no_overlap"),
        ),
    ]
    lines = [line for diff in diffs for line in fixes(diff)]
    assert lines[0] == (
        "op.execute('ALTER TABLE books ADD CONSTRAINT fk_author FOREIGN KEY (author_id)"
        " REFERENCES authors(id) ON DELETE CASCADE')"
    )
    assert (
        lines[1] == "op.drop_constraint(op.f('books_editor_id_fkey'), 'books', type_='foreignkey')"
    )
    migrated.apply(lines)
    assert migrated.state() == models.state(), lines


def test_column_types(dbs: tuple[Database, Database]) -> None:
    migrated, models = dbs
    migrated.run(
        "CREATE TABLE t (name varchar(50), n text, tags text); INSERT INTO t VALUES ('a', '42', '{x}')"
    )
    models.run("CREATE TABLE t (name varchar(100), n integer, tags text[])")
    lines: list[str] = []
    for column in ("name", "n", "tags"):
        lines += fixes(
            difference(
                "modify_type",
                "column",
                table="t",
                column=column,
                migrations=migrated.type_of("t", column),
                models=models.type_of("t", column),
            )
        )
    assert (
        lines[0]
        == "op.execute('ALTER TABLE t ALTER COLUMN name TYPE character varying(100) USING name::character varying(100)')"
    )
    migrated.apply(lines)
    assert migrated.state() == models.state(), lines
    assert migrated.one("SELECT n + 1 FROM t") == 43


@pytest.mark.parametrize(
    ("migrations", "models"), [("NOT NULL", "NULL"), ("NULL", "NOT NULL"), ("false", "true")]
)
def test_nullability(dbs: tuple[Database, Database], migrations: str, models: str) -> None:
    migrated, models_db = dbs
    to_null = models in ("NULL", "false")
    migrated.run(f"CREATE TABLE t (c int {'NOT NULL' if to_null else ''})")
    models_db.run(f"CREATE TABLE t (c int {'' if to_null else 'NOT NULL'})")
    diff = difference(
        "modify_nullable", "column", table="t", column="c", migrations=migrations, models=models
    )
    assert fix(migrated, models_db, diff) == [f"op.alter_column('t', 'c', nullable={to_null})"]


def test_identifiers_quoted_when_the_server_needs_it(dbs: tuple[Database, Database]) -> None:
    migrated, _ = dbs
    keywords = migrated.server.query("SELECT word, catcode FROM pg_get_keywords()")
    reserved = {str(word) for word, code in keywords if code in ("R", "T")}
    assert {word for word, _ in keywords if ident(str(word)) != word} == reserved
    names = [str(word) for word, _ in keywords] + ['we"ird', "Upper", "sp ace", "_ok$1", "1st"]
    migrated.run(";".join(f"CREATE TABLE {ident(n)} ({ident(n)} int, x int)" for n in names))
    tables = migrated.server.query(
        "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace",
        database=migrated.name,
    )
    assert sorted(str(t) for (t,) in tables) == sorted(names)


def test_columns_and_tables_added_and_removed(dbs: tuple[Database, Database]) -> None:
    migrated, models = dbs
    both(dbs, 'CREATE SCHEMA "Sales"; CREATE TABLE "Sales"."Order" (id int)')
    migrated.run(
        'ALTER TABLE "Sales"."Order" ADD COLUMN legacy text; CREATE TABLE old_stuff (id int)'
    )
    models.run(
        """ALTER TABLE "Sales"."Order" ADD COLUMN "Status" character varying(20) NOT NULL DEFAULT 'new'::character varying,
        ADD COLUMN total numeric(10,2)"""
    )
    migrated.run("""INSERT INTO "Sales"."Order" (id) VALUES (1)""")
    where = '"Sales"."Order"'
    status = (
        f"{models.type_of(where, 'Status')} NOT NULL DEFAULT {models.default_of(where, 'Status')}"
    )
    common = {"schema": "Sales", "table": "Order", "object_type": "column"}
    diffs = [
        difference("add_column", column="Status", models=status, **common),
        difference("add_column", column="total", models=models.type_of(where, "total"), **common),
        difference("remove_column", column="legacy", migrations="text", **common),
        difference("remove_table", "table", table="old_stuff"),
    ]
    lines = [line for diff in diffs for line in fixes(diff)]
    assert lines[2:] == [
        "op.drop_column('Order', 'legacy', schema='Sales')",
        "op.drop_table('old_stuff')",
    ]
    migrated.apply(lines)
    assert migrated.state() == models.state(), lines
    add_table = fixes(difference("add_table", "table", table="new_stuff"))
    assert len(add_table) == 1 and add_table[0].startswith("# ") and "create_table" in add_table[0]


def test_comments(dbs: tuple[Database, Database]) -> None:
    migrated, models = dbs
    both(dbs, "CREATE TABLE a (c int, d int); CREATE TABLE b (c int); CREATE TABLE c (c int)")
    migrated.run(
        "COMMENT ON TABLE b IS 'old'; COMMENT ON TABLE c IS 'gone'; COMMENT ON COLUMN a.d IS 'x'"
    )
    models.run(
        """COMMENT ON TABLE a IS 'it''s new: :z'; COMMENT ON TABLE b IS 'new';
        COMMENT ON COLUMN a.c IS 'the "c"'"""
    )
    diffs = [
        difference("add_table_comment", "table", table="a", models="it's new: :z"),
        difference("modify_table_comment", "table", table="b", migrations="old", models="new"),
        difference("remove_table_comment", "table", table="c", migrations="gone"),
        difference("modify_comment", "column", table="a", column="c", models='the "c"'),
        difference("modify_comment", "column", table="a", column="d", migrations="x"),
    ]
    lines = fix(migrated, models, *diffs)
    assert lines[2] == "op.drop_table_comment('c', existing_comment='gone')"
    assert lines[4] == "op.alter_column('a', 'd', comment=None)"


def test_identity(dbs: tuple[Database, Database]) -> None:
    migrated, models = dbs
    migrated.run(
        """CREATE TABLE a (id int); INSERT INTO a VALUES (1), (7);
        CREATE TABLE b (id int GENERATED ALWAYS AS IDENTITY);
        CREATE TABLE c (id int GENERATED ALWAYS AS IDENTITY)"""
    )
    models.run(
        """CREATE TABLE a (id int GENERATED BY DEFAULT AS IDENTITY);
        CREATE TABLE b (id int NOT NULL); CREATE TABLE c (id int GENERATED BY DEFAULT AS IDENTITY)"""
    )
    diffs = [
        difference("modify_identity", "column", table="a", column="id", migrations="", models="d"),
        difference("modify_identity", "column", table="b", column="id", migrations="a", models=""),
        difference(
            "modify_identity",
            "column",
            table="c",
            column="id",
            migrations="always",
            models="by default",
        ),
    ]
    fix(migrated, models, *diffs)
    migrated.run("INSERT INTO a DEFAULT VALUES")
    assert migrated.one("SELECT max(id) FROM a") == 8


def test_generated_columns(dbs: tuple[Database, Database]) -> None:
    migrated, models = dbs
    migrated.run(
        """CREATE TABLE t (p int, twice int GENERATED ALWAYS AS (p * 2) STORED,
        was int GENERATED ALWAYS AS (p + 1) STORED, plain int)"""
    )
    models.run(
        "CREATE TABLE t (p int, twice int GENERATED ALWAYS AS (p * 3) STORED, was int, plain int)"
    )
    expr = "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 't'::regclass AND adnum = {}"
    old, new = migrated.one(expr.format(2)), models.one(expr.format(2))
    assert (old, new) == ("(p * 2)", "(p * 3)")
    diffs = [
        difference(
            "modify_generated", "column", table="t", column="twice", migrations=old, models=new
        ),
        difference("modify_generated", "column", table="t", column="was", migrations="(p + 1)"),
    ]
    if migrated.server.version < 17:
        pytest.skip("SET EXPRESSION needs PostgreSQL 17+")
    fix(migrated, models, *diffs)
    make = fixes(
        difference("modify_generated", "column", table="t", column="plain", models="(p - 1)")
    )
    assert (
        len(make) == 1
        and make[0].startswith("# ")
        and "GENERATED ALWAYS AS ((p - 1)) STORED" in make[0]
    )


def test_collation(dbs: tuple[Database, Database]) -> None:
    migrated, models = dbs
    migrated.run(
        'CREATE TABLE t (a varchar(20), b text COLLATE "C", c text[]); CREATE SCHEMA s; CREATE TABLE s."T" ("A" text)'
    )
    models.run(
        'CREATE TABLE t (a varchar(20) COLLATE "C", b text, c text[] COLLATE "POSIX"); CREATE SCHEMA s; CREATE TABLE s."T" ("A" text COLLATE "C")'
    )
    diffs = [
        difference("modify_collation", "column", table="t", column="a", models="C"),
        difference("modify_collation", "column", table="t", column="b", migrations="C"),
        difference("modify_collation", "column", table="t", column="c", models='"POSIX"'),
        difference(
            "modify_collation", "column", schema="s", table="T", column="A", models='pg_catalog."C"'
        ),
    ]
    fix(migrated, models, *diffs)


def test_schemas_and_sequences(dbs: tuple[Database, Database]) -> None:
    migrated, models = dbs
    migrated.run(
        "CREATE SCHEMA legacy; CREATE SEQUENCE counter; CREATE SEQUENCE old_seq; CREATE SCHEMA s"
    )
    models.run(
        """CREATE SCHEMA "Reports"; CREATE SEQUENCE counter INCREMENT BY 10; CREATE SCHEMA s;
        CREATE SEQUENCE s."Tickets" INCREMENT BY -1"""
    )
    diffs = [
        difference("add_schema", "schema", schema="Reports", object="Reports"),
        difference("remove_schema", "schema", schema="legacy", object="legacy"),
        difference("modify_sequence", "sequence", object="counter", migrations="1", models="10"),
        difference("remove_sequence", "sequence", object="old_seq", migrations="1"),
        difference("add_sequence", "sequence", schema="s", object="Tickets", models="-1"),
    ]
    lines = fix(migrated, models, *diffs)
    assert lines[0] == """op.execute('CREATE SCHEMA "Reports"')"""


def test_renames(dbs: tuple[Database, Database]) -> None:
    migrated, models = dbs
    both(dbs, 'CREATE SCHEMA "Sales"; CREATE TABLE "Sales".books (title text, isbn text)')
    migrated.run(
        """ALTER TABLE "Sales".books ADD CONSTRAINT books_title_key UNIQUE (title);
        CREATE INDEX ix_a ON "Sales".books (isbn)"""
    )
    models.run(
        """ALTER TABLE "Sales".books ADD CONSTRAINT "UQ title" UNIQUE (title);
        CREATE INDEX "IX isbn" ON "Sales".books (isbn)"""
    )
    definition = models.constraint('"Sales".books', "UQ title")
    common = {"schema": "Sales", "table": "books"}
    diffs = [
        difference(
            "rename_constraint",
            "unique_constraint",
            object="UQ title",
            migrations=definition,
            models=definition,
            **common,
        ),
        difference(
            "rename_index",
            "index",
            object="IX isbn",
            migrations=migrated.index("ix_a"),
            models=models.index("IX isbn"),
            **common,
        ),
    ]
    diffs[0]["detail"] = 'unique constraint books: migrations books_title_key, models "UQ title"'
    lines = fix(migrated, models, *diffs)
    assert lines == [
        """op.execute('ALTER TABLE "Sales".books RENAME CONSTRAINT books_title_key TO "UQ title"')""",
        """op.execute('ALTER INDEX "Sales".ix_a RENAME TO "IX isbn"')""",
    ]


def test_unknown_kind_is_a_comment() -> None:
    lines = fixes(difference("modify_weather", "table", table="t"))
    assert len(lines) == 1 and lines[0].startswith("# ")

"""The catalog pass's acceptance cases: one tiny project per case.

As in pg-schema-diff's and migra's fixtures, each case is an old schema (what the migrations
build), a new schema (the models) and the expected result: drift-check's exit code with the
default passes, and the differences it must report. ``autogenerate_code`` records what
``--compare autogenerate`` (Alembic autogenerate alone, with the mini project's env.py options,
so no ``compare_server_default``) says: a 0 on a drift case is why the catalog pass exists.

An :class:`Expect` names a difference by (kind, table, column-or-object). Where the spec leaves
the shape of a change open (a constraint or index whose definition changed under the same name
may be one difference or a remove/add pair), ``kind`` lists the accepted kinds as ``"a|b"``.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

#: The mini project's env.py, with room for more ``context.configure()`` options.
ENV_PY = """
from alembic import context
import mini_models

{functions}
connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=mini_models.metadata{options})
with context.begin_transaction():
    context.run_migrations()
"""

COMPARE_TYPE_OFF = ENV_PY.format(
    functions=(
        "def compare_type(context, inspected_column, metadata_column, inspected_type,"
        " metadata_type):\n"
        "    return False  # the project silenced type comparison\n"
    ),
    options=", compare_type=compare_type",
)

#: Autogenerate compares a schema other than the default one only with include_schemas.
ALL_SCHEMAS = ENV_PY.format(functions="", options=", include_schemas=True")

SKIP_LEGACY_AUDIT = ENV_PY.format(
    functions=(
        "def include_object(obj, name, type_, reflected, compare_to):\n"
        '    return not (type_ == "table" and name == "legacy_audit")\n'
    ),
    options=", include_object=include_object",
)


@dataclass(frozen=True)
class Expect:
    """One expected difference: ``kind`` (``"a|b"``: either), the bare table, the column or
    object name, and substrings that must occur in the detail of a difference so named."""

    kind: str
    table: str | None
    name: str | None
    details: tuple[str, ...] = ()
    schema: str | None = None

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self.kind.split("|"))

    @property
    def key(self) -> tuple[str | None, str | None, str | None]:
        return (self.schema, self.table, self.name)


@dataclass(frozen=True)
class Case:
    id: str
    #: mini_models.py (must define ``metadata``).
    models: str
    #: upgrade() bodies of revisions 0001, 0002, ... in order.
    migrations: tuple[str, ...]
    #: Exit code with the default passes (both).
    code: int
    expected: tuple[Expect, ...] = ()
    #: Exit code of ``--compare autogenerate``.
    autogenerate_code: int = 0
    #: env.py, when the case needs other configure() options than the mini project's.
    env_py: str | None = None
    #: (kind, object) of every expected ``information`` entry.
    information: tuple[tuple[str, str], ...] = ()
    #: Exit code with ``--strict``, for the cases that test it.
    strict_code: int | None = None
    #: Why no fix can bring the migrated database to the models (the case stays drifted).
    no_safe_fix: str | None = None

    @property
    def drift(self) -> bool:
        return self.code == 1


def _models(body: str, *, imports: str = "") -> str:
    body = textwrap.dedent(body).strip()
    return f"import sqlalchemy as sa\n{imports}\nmetadata = sa.MetaData()\n\n{body}\n"


def _orm(body: str, *, imports: str = "") -> str:
    return (
        "import sqlalchemy as sa\n"
        "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n"
        f"{imports}\n\n"
        "class Base(DeclarativeBase):\n    pass\n\n\n"
        f"{textwrap.dedent(body).strip()}\n\n\nmetadata = Base.metadata\n"
    )


JSONB = "from sqlalchemy.dialects.postgresql import JSONB"

# --- drift the catalog pass must find ------------------------------------------------------

ORDER_STATUS = """
orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("status", sa.Enum({labels}, name="order_status"), nullable=False),
)
"""
ORDER_STATUS_MIGRATION = """
op.create_table(
    "orders",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("status", sa.Enum("pending", "paid", "shipped", name="order_status"), nullable=False),
)
"""

PRODUCT_ORM = """
class Product(Base):
    __tablename__ = "product"
    __table_args__ = (sa.CheckConstraint("price_cents >= 0", name="price_nonneg"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    price_cents: Mapped[int] = mapped_column(sa.Integer)
"""
PRODUCT_MIGRATION = """
op.create_table(
    "product",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("price_cents", sa.Integer, nullable=False),{check}
)
"""

BOOKS_DEFAULT = """
books = sa.Table(
    "books",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("title", sa.Text, nullable=False, server_default="{default}"),
)
"""

AUTHORS_BOOKS = """
authors = sa.Table("authors", metadata, sa.Column("id", sa.Integer, primary_key=True))
books = sa.Table(
    "books",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "author_id",
        sa.Integer,
        sa.ForeignKey("authors.id", name="books_author_id_fkey", ondelete="CASCADE"),
        nullable=False,
    ),
)
"""
AUTHORS_BOOKS_MIGRATION = """
op.create_table("authors", sa.Column("id", sa.Integer, primary_key=True))
op.create_table(
    "books",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("author_id", sa.Integer, nullable=False),
    sa.ForeignKeyConstraint(["author_id"], ["authors.id"], name="books_author_id_fkey"),
)
"""

PEOPLE = """
people = sa.Table(
    "people",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", {type_}, nullable=False{extra}),
)
"""
PEOPLE_MIGRATION = """
op.create_table(
    "people",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String({length}), nullable=False),
)
"""

NOTES = """
notes = sa.Table(
    "notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("body", sa.String(200), nullable=False),
)
"""
TAGS = """
tags = sa.Table(
    "tags",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("label", sa.String(40), nullable=False, unique=True),
)
"""
NOTES_MIGRATION = """
op.create_table(
    "notes",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("body", sa.String(200), nullable=False),
)
"""

DRIFT = [
    Case(
        "enum_new_value",
        _models(ORDER_STATUS.format(labels='"pending", "paid", "shipped", "cancelled"')),
        (ORDER_STATUS_MIGRATION,),
        1,
        (
            Expect(
                "modify_enum",
                None,
                "order_status",
                (
                    "migrations (pending, paid, shipped)",
                    "models (pending, paid, shipped, cancelled)",
                ),
            ),
        ),
    ),
    Case(
        "enum_values_reordered",
        _models(ORDER_STATUS.format(labels='"paid", "pending", "shipped"')),
        (ORDER_STATUS_MIGRATION,),
        1,
        (
            Expect(
                "modify_enum",
                None,
                "order_status",
                ("migrations (pending, paid, shipped)", "models (paid, pending, shipped)"),
            ),
        ),
        no_safe_fix="PostgreSQL cannot reorder the labels of an enum type in place: the type "
        "must be recreated and every column using it rewritten",
    ),
    Case(
        "check_added_in_models",
        _orm(PRODUCT_ORM),
        (PRODUCT_MIGRATION.format(check=""),),
        1,
        (Expect("add_constraint", "product", "price_nonneg", ("price_cents >= 0",)),),
    ),
    Case(
        "check_expression_changed",
        _orm(PRODUCT_ORM),
        (
            PRODUCT_MIGRATION.format(
                check='\n    sa.CheckConstraint("price_cents > 0", name="price_nonneg"),'
            ),
        ),
        1,
        (
            Expect(
                "add_constraint|remove_constraint|modify_constraint",
                "product",
                "price_nonneg",
                ("price_cents > 0", "price_cents >= 0"),
            ),
        ),
    ),
    Case(
        "server_default_changed",
        _models(BOOKS_DEFAULT.format(default="untitled")),
        (
            """
            op.create_table(
                "books",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("title", sa.Text, nullable=False, server_default="draft"),
            )
            """,
        ),
        1,
        (Expect("modify_default", "books", "title", ("'draft'::text", "'untitled'::text")),),
    ),
    Case(
        "partial_index_predicate_changed",
        _models(
            """
            orders = sa.Table(
                "orders",
                metadata,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("status", sa.String(20), nullable=False),
                sa.Index("ix_orders_open", "id", postgresql_where=sa.text("status = 'open'")),
            )
            """
        ),
        (
            """
            op.create_table(
                "orders",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("status", sa.String(20), nullable=False),
            )
            op.create_index(
                "ix_orders_open", "orders", ["id"], postgresql_where=sa.text("status <> 'closed'")
            )
            """,
        ),
        1,
        (
            Expect(
                "add_index|remove_index|modify_index",
                "orders",
                "ix_orders_open",
                ("'open'::text", "'closed'::text"),
            ),
        ),
    ),
    Case(
        "expression_index_changed",
        _models(
            """
            users = sa.Table(
                "users",
                metadata,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("email", sa.Text, nullable=False),
            )
            sa.Index("ix_users_email_ci", sa.func.lower(users.c.email))
            """
        ),
        (
            """
            op.create_table(
                "users",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("email", sa.Text, nullable=False),
            )
            op.execute("CREATE INDEX ix_users_email_ci ON users (upper(email))")
            """,
        ),
        1,
        (
            Expect(
                "add_index|remove_index|modify_index",
                "users",
                "ix_users_email_ci",
                ("lower(email)", "upper(email)"),
            ),
        ),
        autogenerate_code=1,
    ),
    Case(
        "primary_key_columns_changed",
        _models(
            """
            accounts = sa.Table(
                "accounts",
                metadata,
                sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                sa.Column("tenant_id", sa.Integer, nullable=False),
            )
            """
        ),
        (
            """
            op.create_table(
                "accounts",
                sa.Column("id", sa.Integer, nullable=False),
                sa.Column("tenant_id", sa.Integer, nullable=False),
                sa.PrimaryKeyConstraint("tenant_id", "id"),
            )
            """,
        ),
        1,
        (
            Expect(
                "add_constraint|remove_constraint|modify_constraint",
                "accounts",
                "accounts_pkey",
                ("PRIMARY KEY (id)", "PRIMARY KEY (tenant_id, id)"),
            ),
        ),
    ),
    Case(
        "identity_vs_serial",
        _models(
            """
            events = sa.Table(
                "events",
                metadata,
                sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
                sa.Column("name", sa.Text, nullable=False),
            )
            """
        ),
        (
            """
            op.create_table(
                "events",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("name", sa.Text, nullable=False),
            )
            """,
        ),
        1,
        (
            # serial's nextval() default against the identity column (one difference, or the
            # identity and the default apart)
            Expect("modify_identity|modify_default", "events", "id", ("nextval(",)),
        ),
    ),
    Case(
        "fk_on_delete_changed",
        _models(AUTHORS_BOOKS),
        (AUTHORS_BOOKS_MIGRATION,),
        1,
        (
            Expect(
                "add_fk|remove_fk|modify_constraint",
                "books",
                "books_author_id_fkey",
                ("ON DELETE CASCADE",),
            ),
        ),
        autogenerate_code=1,
    ),
    Case(
        "unique_constraint_added",
        _models(
            """
            users = sa.Table(
                "users",
                metadata,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("email", sa.String(200), nullable=False),
                sa.UniqueConstraint("email", name="users_email_key"),
            )
            """
        ),
        (
            """
            op.create_table(
                "users",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("email", sa.String(200), nullable=False),
            )
            """,
        ),
        1,
        (Expect("add_constraint", "users", "users_email_key", ("users_email_key",)),),
        autogenerate_code=1,
    ),
    Case(
        "index_method_btree_to_gin",
        _models(
            """
            docs = sa.Table(
                "docs",
                metadata,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("data", JSONB, nullable=False),
                sa.Index("ix_docs_data", "data", postgresql_using="gin"),
            )
            """,
            imports=JSONB,
        ),
        (
            f"""
            {JSONB}

            op.create_table(
                "docs",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("data", JSONB, nullable=False),
            )
            op.create_index("ix_docs_data", "docs", ["data"])
            """,
        ),
        1,
        (
            Expect(
                "add_index|remove_index|modify_index",
                "docs",
                "ix_docs_data",
                ("USING gin", "USING btree"),
            ),
        ),
    ),
    Case(
        "column_collation",
        _models(PEOPLE.format(type_='sa.String(50, collation="POSIX")', extra="")),
        (PEOPLE_MIGRATION.format(length=50),),
        1,
        (Expect("modify_collation", "people", "name", ("POSIX",)),),
    ),
    Case(
        "column_comment",
        _models(PEOPLE.format(type_="sa.String(50)", extra=', comment="shown on the badge"')),
        (PEOPLE_MIGRATION.format(length=50),),
        1,
        (Expect("modify_comment", "people", "name", ("shown on the badge",)),),
        autogenerate_code=1,
    ),
    Case(
        "varchar_length_behind_compare_type_false",
        _models(PEOPLE.format(type_="sa.String(100)", extra="")),
        (PEOPLE_MIGRATION.format(length=50),),
        1,
        (
            Expect(
                "modify_type",
                "people",
                "name",
                ("character varying(50)", "character varying(100)"),
            ),
        ),
        env_py=COMPARE_TYPE_OFF,
    ),
    Case(
        "table_only_in_models",
        _models(NOTES + TAGS),
        (NOTES_MIGRATION,),
        1,
        (Expect("add_table", "tags", None, ("tags",)),),
        autogenerate_code=1,
    ),
    Case(
        "table_only_in_migrations",
        _models(NOTES),
        (
            NOTES_MIGRATION,
            """
            op.create_table(
                "legacy",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("note_id", sa.Integer, sa.ForeignKey("notes.id"), nullable=False),
                sa.Column("code", sa.String(10), nullable=False, unique=True),
            )
            op.create_index("ix_legacy_note_id", "legacy", ["note_id"])
            """,
        ),
        1,
        (
            Expect("remove_table", "legacy", None, ("legacy",)),
            # autogenerate drops the table's explicit index first; the catalog adds nothing
            Expect("remove_index", "legacy", "ix_legacy_note_id"),
        ),
        autogenerate_code=1,
    ),
]

# --- look-alikes that must stay clean -------------------------------------------------------

CLEAN = [
    Case(
        "jsonb_default_with_and_without_cast",
        _models(
            """
            docs = sa.Table(
                "docs",
                metadata,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("data", JSONB, nullable=False, server_default=sa.text("'{}'")),
            )
            """,
            imports=JSONB,
        ),
        (
            f"""
            {JSONB}

            op.create_table(
                "docs",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("data", JSONB, nullable=False, server_default=sa.text("'{{}}'::jsonb")),
            )
            """,
        ),
        0,
    ),
    Case(
        "boolean_false_spellings",
        _models(
            """
            flags = sa.Table(
                "flags",
                metadata,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
                sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
            )
            """
        ),
        (
            """
            op.create_table(
                "flags",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("archived", sa.Boolean, nullable=False, server_default="f"),
                sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.text("false")),
            )
            """,
        ),
        0,
    ),
    Case(
        "now_default_both_sides",
        _models(
            """
            events = sa.Table(
                "events",
                metadata,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column(
                    "created_at",
                    sa.DateTime(timezone=True),
                    nullable=False,
                    server_default=sa.func.now(),
                ),
            )
            """
        ),
        (
            """
            op.create_table(
                "events",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column(
                    "created_at",
                    sa.DateTime(timezone=True),
                    nullable=False,
                    server_default=sa.text("now()"),
                ),
            )
            """,
        ),
        0,
    ),
    Case(
        # PostgreSQL names them items_price_check and items_price_check1 in creation order
        "unnamed_constraints_in_another_order",
        _models(
            """
            items = sa.Table(
                "items",
                metadata,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("price", sa.Integer, nullable=False),
                sa.Column("owner_id", sa.Integer, nullable=False),
                sa.Column("buyer_id", sa.Integer),
                sa.CheckConstraint("price > 0"),
                sa.CheckConstraint("price < 100000"),
                sa.UniqueConstraint("owner_id", "buyer_id"),
                sa.UniqueConstraint("owner_id", "price"),
            )
            """
        ),
        (
            """
            op.create_table(
                "items",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("price", sa.Integer, nullable=False),
                sa.Column("owner_id", sa.Integer, nullable=False),
                sa.Column("buyer_id", sa.Integer),
                sa.CheckConstraint("price < 100000"),
                sa.CheckConstraint("price > 0"),
                sa.UniqueConstraint("owner_id", "price"),
                sa.UniqueConstraint("owner_id", "buyer_id"),
            )
            """,
        ),
        0,
    ),
    Case(
        "column_order_differs",
        _models(
            """
            notes = sa.Table(
                "notes",
                metadata,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("body", sa.String(200), nullable=False),
                sa.Column("title", sa.String(80), nullable=False),
            )
            """
        ),
        (
            """
            op.create_table(
                "notes",
                sa.Column("title", sa.String(80), nullable=False),
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("body", sa.String(200), nullable=False),
            )
            """,
        ),
        0,
    ),
    Case(
        "naming_convention_both_sides",
        """
import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
authors = sa.Table("authors", metadata, sa.Column("id", sa.Integer, primary_key=True))
books = sa.Table(
    "books",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("author_id", sa.Integer, sa.ForeignKey("authors.id"), nullable=False),
    sa.Column("isbn", sa.String(13), nullable=False, unique=True),
    sa.Column("title", sa.String(200), nullable=False, index=True),
    sa.Column("pages", sa.Integer, nullable=False),
    sa.CheckConstraint("pages > 0", name="positive_pages"),
)
""",
        (
            """
            op.create_table(
                "authors",
                sa.Column("id", sa.Integer),
                sa.PrimaryKeyConstraint("id", name=op.f("pk_authors")),
            )
            op.create_table(
                "books",
                sa.Column("id", sa.Integer),
                sa.Column("author_id", sa.Integer, nullable=False),
                sa.Column("isbn", sa.String(13), nullable=False),
                sa.Column("title", sa.String(200), nullable=False),
                sa.Column("pages", sa.Integer, nullable=False),
                sa.PrimaryKeyConstraint("id", name=op.f("pk_books")),
                sa.ForeignKeyConstraint(
                    ["author_id"], ["authors.id"], name=op.f("fk_books_author_id_authors")
                ),
                sa.UniqueConstraint("isbn", name=op.f("uq_books_isbn")),
                sa.CheckConstraint("pages > 0", name=op.f("ck_books_positive_pages")),
            )
            op.create_index(op.f("ix_books_title"), "books", ["title"])
            """,
        ),
        0,
    ),
    Case(
        "enum_in_a_non_public_schema",
        _models(
            """
            tickets = sa.Table(
                "tickets",
                metadata,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column(
                    "state",
                    sa.Enum("open", "closed", name="ticket_state", schema="app"),
                    nullable=False,
                ),
                schema="app",
            )
            """
        ),
        (
            """
            op.execute("CREATE SCHEMA app")
            op.create_table(
                "tickets",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column(
                    "state",
                    sa.Enum("open", "closed", name="ticket_state", schema="app"),
                    nullable=False,
                ),
                schema="app",
            )
            """,
        ),
        0,
        env_py=ALL_SCHEMAS,
    ),
    Case(
        "public_schema_named_on_the_model",
        _models(NOTES.replace("nullable=False),\n)", 'nullable=False),\n    schema="public",\n)')),
        (NOTES_MIGRATION,),
        0,
    ),
]

# --- what models cannot express: information, drift only with --strict ---------------------

INFORMATION = [
    Case(
        "function_view_trigger_only_in_migrations",
        _models(
            """
            notes = sa.Table(
                "notes",
                metadata,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("body", sa.Text, nullable=False),
                sa.Column("updated_at", sa.DateTime(timezone=True)),
            )
            """
        ),
        (
            """
            op.create_table(
                "notes",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("body", sa.Text, nullable=False),
                sa.Column("updated_at", sa.DateTime(timezone=True)),
            )
            op.execute(
                "CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$"
            )
            op.execute(
                "CREATE TRIGGER notes_touch BEFORE UPDATE ON notes "
                "FOR EACH ROW EXECUTE FUNCTION touch_updated_at()"
            )
            op.execute("CREATE VIEW recent_notes AS SELECT id, body FROM notes")
            """,
        ),
        0,
        information=(
            ("function", "touch_updated_at"),
            ("trigger", "notes_touch"),
            ("view", "recent_notes"),
        ),
        strict_code=1,
    ),
]

# --- the project's filters apply to the catalog pass too ------------------------------------

FILTERS = [
    Case(
        "include_object_excludes_a_migrations_only_table",
        _models(NOTES),
        (
            NOTES_MIGRATION,
            """
            op.create_table(
                "legacy_audit",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("note_id", sa.Integer, sa.ForeignKey("notes.id"), nullable=False),
                sa.Column("happened", sa.Text, nullable=False, server_default="x"),
                sa.CheckConstraint("length(happened) > 0", name="legacy_audit_nonempty"),
            )
            op.create_index("ix_legacy_audit_note_id", "legacy_audit", ["note_id"])
            """,
        ),
        0,
        env_py=SKIP_LEGACY_AUDIT,
    ),
]

CASES = DRIFT + CLEAN + INFORMATION + FILTERS
BY_ID = {case.id: case for case in CASES}
assert len(BY_ID) == len(CASES), "case ids must be unique"

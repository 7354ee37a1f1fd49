"""Table models for the bookshop.

Every column is declared with an explicit SQLAlchemy ``Column`` (``sa_column=``) so the
database types do not depend on how a given SQLModel release maps Python annotations
(for example ``str`` to ``VARCHAR`` vs. ``AutoString``, or ``datetime`` with or without a
time zone). That keeps the schema identical on SQLModel 0.0.8 through current releases
and on SQLAlchemy 1.4 and 2.x, which is what lets ``alembic check`` stay clean at head.
"""

import enum
import uuid
from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlmodel import Field, Relationship, SQLModel

__all__ = [
    "Author",
    "Book",
    "BookTag",
    "Customer",
    "Order",
    "OrderItem",
    "OrderStatus",
    "Publisher",
    "Review",
    "Tag",
]


def _created_at() -> Column[datetime]:
    """A ``created_at`` column filled in by the database."""
    return Column(DateTime(timezone=True), nullable=False, server_default=text("now()"))


class OrderStatus(enum.StrEnum):
    """Lifecycle of an order; stored as the PostgreSQL enum type ``order_status``."""

    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class Author(SQLModel, table=True):
    __tablename__ = "authors"
    __table_args__ = (UniqueConstraint("email", name="uq_authors_email"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    name: str = Field(sa_column=Column(String(120), nullable=False))
    email: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    bio: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime | None = Field(default=None, sa_column=_created_at())

    books: list["Book"] = Relationship(back_populates="author")


class Publisher(SQLModel, table=True):
    __tablename__ = "publishers"
    __table_args__ = (UniqueConstraint("name", name="uq_publishers_name"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    name: str = Field(sa_column=Column(String(120), nullable=False))
    country_code: str | None = Field(default=None, sa_column=Column(String(2), nullable=True))
    website: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))

    books: list["Book"] = Relationship(back_populates="publisher")


class BookTag(SQLModel, table=True):
    """Association between books and tags (composite primary key)."""

    __tablename__ = "book_tags"

    book_id: int = Field(
        sa_column=Column(Integer, ForeignKey("books.id", ondelete="CASCADE"), primary_key=True)
    )
    tag_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("tags.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        )
    )


class Book(SQLModel, table=True):
    __tablename__ = "books"
    __table_args__ = (UniqueConstraint("isbn", name="uq_books_isbn"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    title: str = Field(sa_column=Column(String(200), nullable=False, index=True))
    isbn: str = Field(sa_column=Column(String(13), nullable=False))
    author_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("authors.id", ondelete="RESTRICT"),
            nullable=False,
            index=True,
        )
    )
    publisher_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("publishers.id", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
    )
    price_cents: int = Field(sa_column=Column(Integer, nullable=False))
    published_on: date | None = Field(
        default=None, sa_column=Column(Date, nullable=True, index=True)
    )
    in_print: bool = Field(
        default=True,
        sa_column=Column(Boolean, nullable=False, server_default=text("true")),
    )
    created_at: datetime | None = Field(default=None, sa_column=_created_at())

    author: Optional["Author"] = Relationship(back_populates="books")
    publisher: Optional["Publisher"] = Relationship(back_populates="books")
    tags: list["Tag"] = Relationship(back_populates="books", link_model=BookTag)
    reviews: list["Review"] = Relationship(back_populates="book")


class Tag(SQLModel, table=True):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("name", name="uq_tags_name"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    name: str = Field(sa_column=Column(String(50), nullable=False))

    books: list["Book"] = Relationship(back_populates="tags", link_model=BookTag)


class Customer(SQLModel, table=True):
    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("email", name="uq_customers_email"),)

    id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        sa_column=Column(
            UUID(as_uuid=True),
            primary_key=True,
            server_default=text("gen_random_uuid()"),
        ),
    )
    email: str = Field(sa_column=Column(String(255), nullable=False))
    full_name: str = Field(sa_column=Column(String(120), nullable=False))
    preferences: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    is_active: bool = Field(
        default=True,
        sa_column=Column(Boolean, nullable=False, server_default=text("true")),
    )
    created_at: datetime | None = Field(default=None, sa_column=_created_at())

    orders: list["Order"] = Relationship(back_populates="customer")
    reviews: list["Review"] = Relationship(back_populates="customer")


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_customer_id_placed_at", "customer_id", "placed_at"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    customer_id: uuid.UUID = Field(
        sa_column=Column(
            UUID(as_uuid=True),
            ForeignKey("customers.id", ondelete="RESTRICT"),
            nullable=False,
        )
    )
    status: OrderStatus = Field(
        default=OrderStatus.PENDING,
        sa_column=Column(
            SAEnum(
                OrderStatus,
                name="order_status",
                values_callable=lambda members: [member.value for member in members],
            ),
            nullable=False,
            server_default=text("'pending'::order_status"),
        ),
    )
    shipping_address: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSONB(none_as_null=True), nullable=True)
    )
    placed_at: datetime | None = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=text("now()")),
    )
    shipped_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )

    customer: Optional["Customer"] = Relationship(back_populates="orders")
    items: list["OrderItem"] = Relationship(
        back_populates="order",
        sa_relationship_kwargs={"cascade": "all, delete-orphan"},
    )


class OrderItem(SQLModel, table=True):
    __tablename__ = "order_items"
    __table_args__ = (
        UniqueConstraint("order_id", "book_id", name="uq_order_items_order_id_book_id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    order_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("orders.id", ondelete="CASCADE"),
            nullable=False,
        )
    )
    book_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("books.id", ondelete="RESTRICT"),
            nullable=False,
            index=True,
        )
    )
    quantity: int = Field(
        default=1,
        sa_column=Column(Integer, nullable=False, server_default=text("1")),
    )
    unit_price_cents: int = Field(sa_column=Column(Integer, nullable=False))

    order: Optional["Order"] = Relationship(back_populates="items")
    book: Optional["Book"] = Relationship()


class Review(SQLModel, table=True):
    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("book_id", "customer_id", name="uq_reviews_book_id_customer_id"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="ck_reviews_rating_range"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    book_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("books.id", ondelete="CASCADE"),
            nullable=False,
        )
    )
    customer_id: uuid.UUID = Field(
        sa_column=Column(
            UUID(as_uuid=True),
            ForeignKey("customers.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    rating: int = Field(sa_column=Column(SmallInteger, nullable=False))
    body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime | None = Field(default=None, sa_column=_created_at())

    book: Optional["Book"] = Relationship(back_populates="reviews")
    customer: Optional["Customer"] = Relationship(back_populates="reviews")

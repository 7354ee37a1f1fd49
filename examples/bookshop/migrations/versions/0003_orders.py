"""orders and order items

Revision ID: 0003
Revises: 0002
Create Date: 2024-03-19 10:05:58.260471

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

order_status = sa.Enum("pending", "paid", "shipped", "delivered", "cancelled", name="order_status")


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column(
            "status",
            order_status,
            server_default=sa.text("'pending'::order_status"),
            nullable=False,
        ),
        sa.Column("shipping_address", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "placed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_orders_customer_id_placed_at",
        "orders",
        ["customer_id", "placed_at"],
        unique=False,
    )
    op.create_table(
        "order_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("book_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("unit_price_cents", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["book_id"], ["books.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", "book_id", name="uq_order_items_order_id_book_id"),
    )
    op.create_index(op.f("ix_order_items_book_id"), "order_items", ["book_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_order_items_book_id"), table_name="order_items")
    op.drop_table("order_items")
    op.drop_index("ix_orders_customer_id_placed_at", table_name="orders")
    op.drop_table("orders")
    # create_table() created the enum type implicitly; drop_table() leaves it behind.
    order_status.drop(op.get_bind(), checkfirst=True)

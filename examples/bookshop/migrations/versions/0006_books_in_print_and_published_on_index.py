"""books.in_print flag and an index on books.published_on

Revision ID: 0006
Revises: 0005
Create Date: 2024-05-06 08:54:29.647015

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "books",
        sa.Column("in_print", sa.Boolean(), server_default=sa.text("true"), nullable=False),
    )
    op.create_index(op.f("ix_books_published_on"), "books", ["published_on"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_books_published_on"), table_name="books")
    op.drop_column("books", "in_print")

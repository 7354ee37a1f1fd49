"""Bookshop: a small SQLModel application used as drift-check's reference project.

The ORM models live in :mod:`bookshop.models`; the Alembic migrations that build the
matching PostgreSQL schema live in ``bookshop/migrations`` and are wired up by the
``alembic.ini`` at the repository root.
"""

__version__ = "1.0.0"

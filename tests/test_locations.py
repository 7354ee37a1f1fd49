"""Where differences are placed in the models' source (the worker's locator), on modules
imported for real: declarative classes (with a renamed attribute), ``Table(...)`` calls,
``__table_args__``, enums, and env.py's ``target_metadata`` line for the rest."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

from drift_job.worker.locations import SourceIndex

MODELS = """
import enum
import sqlalchemy as sa
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Status(enum.Enum):
    NEW = "new"


class Customer(Base):
    __tablename__ = "customer"
    __table_args__ = (sa.Index("ix_customer_phone", "phone"),)

    id = sa.Column(sa.Integer, primary_key=True)
    nick = sa.Column("nickname", sa.String(20))
    phone = sa.Column(sa.String(20))
    status = sa.Column(sa.Enum(Status, name="customer_status"))


notes = sa.Table(
    "notes",
    Base.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("body", sa.Text),
)
"""


def _index(tmp_path: Path, name: str) -> tuple[SourceIndex, Path]:
    source = tmp_path / f"{name}.py"
    source.write_text(MODELS)
    env_py = tmp_path / "env.py"
    env_py.write_text(
        textwrap.dedent(f"""
        from alembic import context
        import {name}
        target_metadata = {name}.Base.metadata
    """)
    )
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))
    return SourceIndex([module.Base.metadata], env_py), source


def _line(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_each_difference_gets_its_models_line_or_env_py(tmp_path: Path) -> None:
    index, source = _index(tmp_path, "located_models")
    cases = {
        "renamed column": ({"table": "customer", "column": "nickname"}, "nick = "),
        "column": ({"table": "customer", "column": "phone"}, "phone = "),
        "index": ({"table": "customer", "object": "ix_customer_phone"}, "sa.Index("),
        "table": ({"table": "customer"}, "class Customer"),
        "Table column": ({"table": "notes", "column": "body"}, 'sa.Column("body"'),
        "enum": ({"table": None, "object": "customer_status"}, 'name="customer_status"'),
    }
    for name, (item, text) in cases.items():
        index.locate(item)
        assert (item["file"], item["line"]) == (str(source.resolve()), _line(source, text)), name
    only_in_migrations = {"table": "legacy_audit_log"}
    index.locate(only_in_migrations)
    env_py = tmp_path / "env.py"
    assert (only_in_migrations["file"], only_in_migrations["line"]) == (str(env_py.resolve()), 4)

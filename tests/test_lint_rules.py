"""Each lint rule on a small project of its own: a flagged and a safe variant of one new
revision on top of the same base revision, recorded offline by the worker's recorder (real
Alembic, PostgreSQL dialect) and judged by the rules. No server is needed: the lint never
touches a database."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from drift_job.lint import judge
from drift_job.lint_report import apply_lint
from drift_job.lint_rules import RULES, LintFinding
from drift_job.lint_sql import type_change
from drift_job.report import CheckResult, render_json
from drift_job.worker.lint_record import record

BASE = """
op.create_table(
    "orders",
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(200), nullable=True),
    sa.Column("qty", sa.BigInteger, nullable=True),
    sa.Column("price", sa.Numeric(10, 2), nullable=True),
    sa.Column("status", sa.Enum("new", "paid", "shipped", name="order_status")),
)
op.create_index("ix_orders_code", "orders", ["code"])
op.create_table("customers", sa.Column("id", sa.Integer, primary_key=True))
"""
TIMEOUT = "op.execute(\"SET lock_timeout = '5s'\")\n"

#: rule → (flagged upgrade() body, safe upgrade() body).
CASES: dict[str, tuple[str, str]] = {
    "ban-drop-table": (
        'op.drop_table("customers")',
        'op.create_table("scratch", sa.Column("id", sa.Integer))\nop.drop_table("scratch")',
    ),
    "ban-drop-column": (
        'op.drop_column("orders", "code")',
        'op.add_column("orders", sa.Column("note", sa.Text))',
    ),
    "ban-drop-index": (
        'op.drop_index("ix_orders_code", table_name="orders")',
        'op.create_index("ix_tmp", "orders", ["qty"], postgresql_concurrently=True)\n'
        'op.drop_index("ix_tmp", table_name="orders")',
    ),
    "narrowing-column-type": (
        'op.alter_column("orders", "code", existing_type=sa.String(200), type_=sa.String(100))',
        'op.alter_column("orders", "code", existing_type=sa.String(200), type_=sa.String(300))',
    ),
    "ban-truncate": (
        'op.execute("TRUNCATE orders")',
        'op.execute("DELETE FROM orders WHERE id < 0")',
    ),
    "require-concurrent-index-creation": (
        'op.create_index("ix_orders_qty", "orders", ["qty"])',
        "with op.get_context().autocommit_block():\n"
        '    op.create_index("ix_orders_qty", "orders", ["qty"], postgresql_concurrently=True)',
    ),
    "require-concurrent-index-deletion": (
        'op.drop_index("ix_orders_code", table_name="orders")',
        "with op.get_context().autocommit_block():\n"
        '    op.drop_index("ix_orders_code", table_name="orders", postgresql_concurrently=True)',
    ),
    "adding-required-field": (
        'op.add_column("orders", sa.Column("region", sa.Text, nullable=False))',
        'op.add_column("orders", sa.Column("region", sa.Text, nullable=False, server_default="eu"))',
    ),
    "adding-not-nullable-field": (
        'op.alter_column("orders", "code", existing_type=sa.String(200), nullable=False)',
        'op.execute("ALTER TABLE orders ADD CONSTRAINT code_nn CHECK (code IS NOT NULL) NOT VALID")',
    ),
    "adding-field-with-default": (
        'op.add_column("orders", sa.Column("ref", sa.Text, server_default=sa.text("gen_random_uuid()::text")))',
        'op.add_column("orders", sa.Column("at", sa.DateTime, server_default=sa.func.now()))',
    ),
    "changing-column-type": (
        'op.alter_column("orders", "qty", existing_type=sa.BigInteger, type_=sa.Numeric(20))',
        'op.alter_column("orders", "code", existing_type=sa.String(200), type_=sa.Text)',
    ),
    "constraint-missing-not-valid": (
        'op.create_foreign_key("fk_orders_customer", "orders", "customers", ["qty"], ["id"])',
        'op.execute("ALTER TABLE orders ADD CONSTRAINT fk_orders_customer FOREIGN KEY (qty) '
        'REFERENCES customers (id) NOT VALID")\n'
        'op.execute("ALTER TABLE orders VALIDATE CONSTRAINT fk_orders_customer")',
    ),
    "disallowed-unique-constraint": (
        'op.create_unique_constraint("uq_orders_code", "orders", ["code"])',
        "with op.get_context().autocommit_block():\n"
        '    op.execute("CREATE UNIQUE INDEX CONCURRENTLY uq_orders_code ON orders (code)")\n'
        'op.execute("ALTER TABLE orders ADD CONSTRAINT uq_orders_code UNIQUE USING INDEX uq_orders_code")',
    ),
    "removing-enum-value": (
        'op.execute("ALTER TYPE order_status RENAME TO order_status_old")\n'
        "op.execute(\"CREATE TYPE order_status AS ENUM ('new', 'shipped')\")\n"
        'op.execute("DROP TYPE order_status_old")',
        "op.execute(\"ALTER TYPE order_status ADD VALUE 'cancelled' AFTER 'paid'\")",
    ),
    "reordering-enum-values": (
        'op.execute("ALTER TYPE order_status RENAME TO order_status_old")\n'
        "op.execute(\"CREATE TYPE order_status AS ENUM ('paid', 'new', 'shipped')\")\n"
        'op.execute("DROP TYPE order_status_old")',
        "op.execute(\"ALTER TYPE order_status ADD VALUE 'draft' BEFORE 'new'\")\n"
        'op.execute("ALTER TYPE order_status RENAME TO order_status_old")\n'
        "op.execute(\"CREATE TYPE order_status AS ENUM ('draft', 'new', 'paid', 'shipped')\")\n"
        'op.execute("DROP TYPE order_status_old")',
    ),
    "renaming-enum-value": (
        "op.execute(\"ALTER TYPE order_status RENAME VALUE 'paid' TO 'settled'\")",
        "op.execute(\"ALTER TYPE order_status ADD VALUE 'settled'\")",
    ),
    "renaming-column": (
        'op.alter_column("orders", "code", new_column_name="reference")',
        'op.add_column("orders", sa.Column("reference", sa.String(200)))',
    ),
    "renaming-table": (
        'op.rename_table("customers", "clients")',
        'op.create_table("clients", sa.Column("id", sa.Integer, primary_key=True))\n'
        'op.rename_table("clients", "buyers")',
    ),
    "require-lock-timeout": (
        'op.add_column("orders", sa.Column("note", sa.Text))',
        TIMEOUT + 'op.add_column("orders", sa.Column("note", sa.Text))',
    ),
    "revision-not-rendered": (
        'rows = op.get_bind().execute(sa.text("SELECT 1")).fetchall()\nassert rows',
        "from alembic import context\n"
        'if not context.is_offline_mode():\n    op.get_bind().execute(sa.text("SELECT 1"))',
    ),
}


def _revision(versions: Path, revision: str, down: str | None, body: str) -> None:
    code = textwrap.indent(textwrap.dedent(body).strip(), "    ")
    (versions / f"{revision}_change.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f"revision = {revision!r}\ndown_revision = {down!r}\n\n\n"
        f"def upgrade() -> None:\n{code}\n"
    )


def lint_project(root: Path, body: str) -> list[LintFinding]:
    """A base revision and one new revision whose upgrade() is ``body``, linted."""
    versions = root / "versions"
    versions.mkdir(parents=True)
    _revision(versions, "0001", None, BASE)
    _revision(versions, "0002", "0001", body)
    script = ScriptDirectory(str(root), version_locations=[str(versions)])
    revisions = []
    for one in [s for s in script.walk_revisions() if s is not None][::-1]:
        recorded = record(one, Config(), script)
        recorded["new"] = one.revision == "0002"
        revisions.append(recorded)
    return judge({"revisions": revisions, "env_py_sets_timeouts": False})


def test_every_rule_has_a_case() -> None:
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_flagged(rule: str, tmp_path: Path) -> None:
    findings = lint_project(tmp_path, CASES[rule][0])
    flagged = [f for f in findings if f.rule == rule]
    assert flagged, [f.detail for f in findings]
    assert all(f.file == "0002_change.py" and f.revision == "0002" for f in flagged)
    if rule != "revision-not-rendered":
        assert all(f.line is not None and f.line >= 8 for f in flagged), flagged


#: What a safe variant is still flagged for: a concurrent drop is still a dropped index.
STILL_FLAGGED = {"require-concurrent-index-deletion": {"ban-drop-index"}}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_safe_variant(rule: str, tmp_path: Path) -> None:
    findings = lint_project(tmp_path, TIMEOUT + CASES[rule][1])
    assert {f.rule for f in findings} == STILL_FLAGGED.get(rule, set()), findings


def test_a_table_created_in_the_same_revision_is_not_existing(tmp_path: Path) -> None:
    body = """
        op.create_table("events", sa.Column("id", sa.Integer, primary_key=True),
                        sa.Column("kind", sa.String(50)))
        op.create_index("ix_events_kind", "events", ["kind"])
        op.add_column("events", sa.Column("at", sa.DateTime, nullable=False))
        op.alter_column("events", "kind", existing_type=sa.String(50), type_=sa.String(20))
        op.create_foreign_key("fk_events_orders", "events", "orders", ["id"], ["id"])
        op.drop_column("events", "at")
    """
    findings = lint_project(tmp_path, body)
    assert [f.detail for f in findings] == []


def test_old_revisions_get_no_findings_and_lines_point_at_the_call(tmp_path: Path) -> None:
    findings = lint_project(tmp_path, 'x = 1\nop.drop_column("orders", "qty")')
    assert [(f.rule, f.line, f.target) for f in findings] == [
        ("ban-drop-column", 10, "orders.qty"),
        ("require-lock-timeout", 10, None),
    ]
    assert findings[0].key == "ban-drop-column:0002:orders.qty"
    assert findings[1].key == "require-lock-timeout:0002:"


def test_narrowing_is_also_a_rewrite(tmp_path: Path) -> None:
    body = 'op.alter_column("orders", "qty", existing_type=sa.BigInteger, type_=sa.Integer)'
    rules = {f.rule for f in lint_project(tmp_path, TIMEOUT + body)}
    assert rules == {"narrowing-column-type", "changing-column-type"}


def test_every_rule_is_documented() -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "lint.md").read_text()
    rows = {line.split("`")[1] for line in docs.splitlines() if line.startswith("| `")}
    assert rows == set(RULES)


@pytest.mark.parametrize(
    ("old", "new", "change"),
    [
        ("VARCHAR(200)", "VARCHAR(100)", "narrowing"),
        ("VARCHAR(100)", "VARCHAR(200)", "safe"),
        ("VARCHAR(100)", "TEXT", "safe"),
        ("TEXT", "VARCHAR(100)", "narrowing"),
        ("BIGINT", "INTEGER", "narrowing"),
        ("INTEGER", "BIGINT", "rewrite"),
        ("NUMERIC(10, 2)", "NUMERIC(12, 2)", "safe"),
        ("NUMERIC(10, 2)", "NUMERIC(10, 4)", "narrowing"),
        ("NUMERIC(10, 2)", "INTEGER", "narrowing"),
        ("DOUBLE PRECISION", "REAL", "narrowing"),
        ("TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP WITH TIME ZONE", "rewrite"),
        (None, "VARCHAR(100)", "unknown"),
    ],
)
def test_type_changes(old: str | None, new: str, change: str) -> None:
    assert type_change(old, new) == change


def test_what_a_revision_raised_offline_is_redacted(tmp_path: Path) -> None:
    password = "s3cr3t-Pa55word-value"
    body = f'raise RuntimeError("cannot log in as ci:{password}@db")'
    versions = tmp_path / "versions"
    versions.mkdir()
    _revision(versions, "0001", None, body)
    directory = ScriptDirectory(str(tmp_path), version_locations=[str(versions)])
    [script] = directory.walk_revisions()
    recorded = {"revisions": [{**record(script, Config(), directory), "new": True}]}
    result = CheckResult(status="clean", exit_code=0, message="no drift")
    apply_lint(result, recorded, "error", (password,))
    assert result.lint is not None and result.exit_code == 1
    [finding] = result.lint.findings
    assert finding.rule == "revision-not-rendered"
    assert password not in render_json(result) and password not in finding.message

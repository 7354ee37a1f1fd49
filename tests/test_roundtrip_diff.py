"""The round trip's exact snapshot comparison on real PostgreSQL: one state, the same state
after an upgrade and an incomplete downgrade, and each trace named with a stable identity."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from servers import PostgresServer
from sqlalchemy.pool import NullPool

from drift_job.worker.catalog import Snapshot, snapshot
from drift_job.worker.roundtrip_diff import Where, traces

BEFORE = "CREATE TABLE notes (id int PRIMARY KEY, body varchar(200))"
UP = """
CREATE SCHEMA archive;
CREATE TABLE archive.old (id int);
CREATE TYPE mood AS ENUM ('ok', 'bad');
ALTER TABLE notes ADD COLUMN m mood;
ALTER TABLE notes ALTER COLUMN body TYPE text;
CREATE INDEX notes_m ON notes (m);
CREATE SEQUENCE counter;
CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42';
CREATE VIEW note_ids AS SELECT id FROM notes;
CREATE TABLE tags (id int PRIMARY KEY, label text UNIQUE);
CREATE INDEX tags_label ON tags (label);
ALTER TABLE notes DROP CONSTRAINT notes_pkey;
"""
#: Undoes only some of it: the view, the column (and its index), the archived table.
DOWN = "DROP VIEW note_ids; ALTER TABLE notes DROP COLUMN m; DROP TABLE archive.old"


def test_each_trace_once_with_its_identity(pg_server: PostgresServer) -> None:
    name = f"roundtriptest_{secrets.token_hex(4)}"
    pg_server.query(f'CREATE DATABASE "{name}"')
    engine = sa.create_engine(pg_server.sqlalchemy_url(name), poolclass=NullPool)
    try:

        def run(sql: str) -> Snapshot:
            with engine.begin() as connection:
                connection.exec_driver_sql(sql)
            with engine.connect() as connection:
                return snapshot(connection)

        before = run(BEFORE)
        assert traces(before, before, Where("nothing", "before")) == []
        run(UP)
        after = run(DOWN)
    finally:
        engine.dispose()
        pg_server.query(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    found = traces(after, before, Where("downgrade of 0002 (0002_x.py)", "before 0002"))
    identities = {(f["kind"], f["object_type"], f["path"]) for f in found}
    assert identities == {
        ("roundtrip_leftover", "schema", "archive"),
        ("roundtrip_leftover", "enum", "mood"),
        ("roundtrip_leftover", "sequence", "counter"),
        ("roundtrip_leftover", "function", "answer()"),
        # One finding for the table, none for its columns, constraints and index.
        ("roundtrip_leftover", "table", "tags"),
        ("roundtrip_missing", "constraint", "notes.notes_pkey"),
        ("roundtrip_changed", "column", "notes.body"),
    }, found
    details = {f["path"]: f["detail"] for f in found}
    assert details["mood"] == (
        "downgrade of 0002 (0002_x.py) leaves enum mood (ok, bad) behind (not there before 0002)"
    )
    assert details["notes.notes_pkey"] == (
        "downgrade of 0002 (0002_x.py) removes constraint notes_pkey on notes (there before 0002)"
    )
    assert details["notes.body"] == (
        "downgrade of 0002 (0002_x.py) changes column notes.body: "
        "type character varying(200) before 0002, text now"
    )

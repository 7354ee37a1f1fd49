"""The migration cache on the server: migrated databases kept as templates, cloned with
``CREATE DATABASE … TEMPLATE``.

A template is ours only with both our name pattern (``<prefix>_cache_<24 hex>`` for a migrated
database, ``<prefix>_cache_models_<19 hex>`` for a models' one; never a run's) and our cache
marker comment, which holds the whole key; it is trusted only once
sealed (the marker is written last, after ``ALLOW_CONNECTIONS false``, so no session, the
project's code included, can ever connect to it). Session-level advisory locks on the
maintenance database order the runs: a build holds its template's lock exclusively, a clone
holds it shared, and a drop (the KEEP bound, ``sweep --cache``) only takes it if it is free.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg2
import psycopg2.errors
from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection

from drift_job import database
from drift_job.cache_key import (
    CACHE_FORMAT,
    MODELS_NAME_DIGITS,
    NAME_DIGITS,
    Chain,
    Position,
    models_template_name,
    template_name,
)
from drift_job.database import TOOL_NAME

#: What a template holds: the chain migrated up to a revision, or the models' tables.
MIGRATIONS, MODELS = "migrations", "models"
#: classid of our advisory locks ("drif"); the objid is a hash of the template's name.
LOCK_CLASS = 0x64726966
TEMPLATES_SQL = """
SELECT d.datname, shobj_description(d.oid, 'pg_database'), d.datallowconn,
       pg_has_role(current_user, d.datdba, 'USAGE')
       OR coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false)
FROM pg_database d WHERE d.datname LIKE %s ORDER BY d.datname
"""


@dataclass(frozen=True)
class Template:
    """A sealed template of ours on the server."""

    name: str
    key: str
    project: str
    revision: str
    #: When it was built or last cloned (the KEEP bound keeps the most recently used).
    used: datetime
    may_drop: bool
    kind: str = MIGRATIONS

    @property
    def what(self) -> str:
        return "the models' tables" if self.kind == MODELS else f"revision {self.revision}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def template_marker(key: str, project: str, revision: str, kind: str = MIGRATIONS) -> str:
    """The comment that seals a template (it names no run: no run's guard accepts it)."""
    return json.dumps(
        {
            "tool": TOOL_NAME,
            "cache": CACHE_FORMAT,
            "key": key,
            "project": project,
            "revision": revision,
            "kind": kind,
            "used": _now(),
        }
    )


def _template(name: str, comment: str | None, allow: bool, may_drop: bool) -> Template | None:
    if allow or not comment:  # connectable, or not sealed: not a template of ours
        return None
    try:
        data = json.loads(comment)
        if data.get("tool") != TOOL_NAME or data.get("cache") != CACHE_FORMAT:
            return None
        used = datetime.strptime(str(data["used"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        kind = str(data.get("kind", MIGRATIONS))
        key, project, revision = str(data["key"]), str(data["project"]), str(data["revision"])
        return Template(name, key, project, revision, used, may_drop, kind)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def templates(conn: PgConnection, prefix: str, kind: str = MIGRATIONS) -> list[Template]:
    """Every sealed template of ours of ``kind`` on the server (for this name prefix)."""
    infix, digits, naming = "cache_", NAME_DIGITS, template_name
    if kind == MODELS:
        infix, digits, naming = "cache_models_", MODELS_NAME_DIGITS, models_template_name
    pattern = re.compile(rf"^{re.escape(prefix)}_{infix}[0-9a-f]{{{digits}}}$")
    with conn.cursor() as cur:
        cur.execute(TEMPLATES_SQL, (f"{prefix}_{infix}".replace("_", r"\_") + "%",))
        rows = cur.fetchall()
    found = (_template(str(n), c, bool(a), bool(d)) for n, c, a, d in rows if pattern.match(n))
    return [
        t for t in found if t is not None and t.kind == kind and t.name == naming(prefix, t.key)
    ]


def _lock_args(name: str) -> tuple[int, int]:
    digest = hashlib.sha256(name.encode()).digest()
    return LOCK_CLASS, int.from_bytes(digest[:4], "big", signed=True)


def lock(conn: PgConnection, name: str, *, shared: bool, wait: bool) -> bool:
    """Take the template's advisory lock; False if it is held elsewhere (for ``wait``: for
    longer than the session's lock_timeout)."""
    function = ("pg_advisory_lock" if wait else "pg_try_advisory_lock") + (
        "_shared" if shared else ""
    )
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT {function}(%s, %s)", _lock_args(name))
            row = cur.fetchone()
    except psycopg2.errors.LockNotAvailable:
        return False
    return bool(row and row[0] is not False)


def unlock(conn: PgConnection, name: str, *, shared: bool) -> None:
    function = "pg_advisory_unlock" + ("_shared" if shared else "")
    with conn.cursor() as cur:
        cur.execute(f"SELECT {function}(%s, %s)", _lock_args(name))


def clone_strategy(conn: PgConnection) -> str | None:
    """WAL_LOG on PostgreSQL 15+ (older servers have one way only). FILE_COPY needs two
    checkpoints, which on a durable server flush everything any session wrote: measured on
    PostgreSQL 15 with fsync on, WAL_LOG was faster at every size (26 tables 0.06 s against
    0.15 s, 200 tables 0.20 s against 0.44 s, 1,000 tables 2.6 s against 14.9 s under load,
    a 19 MB database of 1,400 relations 1.5-2.3 s against 2.0-2.9 s);
    only on a server without fsync did FILE_COPY win, for 2,000 tables."""
    return "WAL_LOG" if conn.server_version >= 150000 else None


def database_level_changes(conn: PgConnection, name: str) -> str | None:
    """What a copy (or a dump) would lose: settings and grants on the database itself,
    which ``CREATE DATABASE … TEMPLATE`` and pg_dump without --create leave behind."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT d.datacl IS NOT NULL, EXISTS (SELECT 1 FROM pg_db_role_setting s "
            "WHERE s.setdatabase = d.oid) FROM pg_database d WHERE d.datname = %s",
            (name,),
        )
        row = cur.fetchone()
    if row and row[1]:
        return "the migrations set options on the database (ALTER DATABASE … SET)"
    if row and row[0]:
        return "the migrations granted privileges on the database"
    return None


def copy_database(conn: PgConnection, name: str, source: str, strategy: str | None) -> None:
    """``CREATE DATABASE name TEMPLATE source`` (with the strategy, where there is one)."""
    statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
        sql.Identifier(name), sql.Identifier(source)
    )
    if strategy is not None:
        statement += sql.SQL(" STRATEGY {}").format(sql.SQL(strategy))
    with conn.cursor() as cur:
        cur.execute(statement)


def seal(conn: PgConnection, name: str, marker: str) -> None:
    """No connections from now on, then the marker: only a sealed template is trusted."""
    identifier = sql.Identifier(name)
    with conn.cursor() as cur:
        cur.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(identifier))
        cur.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(identifier, sql.Literal(marker)))


def touch(conn: PgConnection, template: Template) -> None:
    """Record a clone, so the KEEP bound drops the least recently used first."""
    marker = template_marker(template.key, template.project, template.revision, template.kind)
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(template.name), sql.Literal(marker)
            )
        )


def drop_unused(conn: PgConnection, template: Template) -> bool:
    """Drop a template no run is cloning (or building); False if one is."""
    if not lock(conn, template.name, shared=False, wait=False):
        return False
    try:
        database.drop_database(conn, template.name)
    finally:
        unlock(conn, template.name, shared=False)
    return True


def prune(
    conn: PgConnection,
    prefix: str,
    project: str,
    keep: int,
    log: Callable[[str], None],
    *,
    kind: str = MIGRATIONS,
) -> list[str]:
    """Keep the ``keep`` most recently used templates of ``project`` (of ``kind``); drop the
    others."""
    mine = sorted(
        (t for t in templates(conn, prefix, kind) if t.project == project and t.may_drop),
        key=lambda t: (t.used, t.name),
        reverse=True,
    )
    dropped = []
    for template in mine[keep:]:
        if drop_unused(conn, template):
            dropped.append(template.name)
        else:
            log(f"cache: kept {template.name} beyond DRIFT_CACHE_KEEP: a run is cloning it")
    return dropped


def find(conn: PgConnection, prefix: str, chain: Chain) -> tuple[Position, Template] | None:
    """The newest sealed template on the current chain, locked (shared) for the clone."""
    starts = {template_name(prefix, p.key): p for p in chain.starts()}
    sealed = {t.name: t for t in templates(conn, prefix) if t.name in starts}
    for position in chain.starts():
        name = template_name(prefix, position.key)
        found = sealed.get(name)
        if found is None or found.key != position.key:
            continue
        locked = _locked_for_clone(conn, prefix, name, position.key, MIGRATIONS)
        if locked is not None:
            return position, locked
    return None


def find_models(conn: PgConnection, prefix: str, key: str) -> Template | None:
    """The sealed models' template of ``key``, locked (shared) for the clone."""
    name = models_template_name(prefix, key)
    if not any(t.name == name and t.key == key for t in templates(conn, prefix, MODELS)):
        return None
    return _locked_for_clone(conn, prefix, name, key, MODELS)


def _locked_for_clone(
    conn: PgConnection, prefix: str, name: str, key: str, kind: str
) -> Template | None:
    """The template ``name`` with its shared lock taken, if it is still sealed with ``key``
    once the lock is ours (None, unlocked, if it is being dropped or was replaced)."""
    if not lock(conn, name, shared=True, wait=True):  # being dropped
        return None
    again = {t.name: t for t in templates(conn, prefix, kind)}.get(name)
    if again is not None and again.key == key:
        return again
    unlock(conn, name, shared=True)
    return None


def sweep_templates(
    conn: PgConnection, prefix: str, *, dry_run: bool, log: Callable[[str], None]
) -> tuple[list[str], list[str]]:
    """``sweep --cache``: drop every sealed template of ours that no run is using (and
    nothing else). Returns (dropped or, with ``dry_run``, droppable; in use or foreign)."""
    dropped, left = [], []
    for template in templates(conn, prefix) + templates(conn, prefix, MODELS):
        if not template.may_drop:
            log(f"left alone: cache template {template.name} belongs to another role")
            left.append(template.name)
        elif dry_run:
            log(f"would drop cache template {template.name} ({template.what})")
            dropped.append(template.name)
        elif drop_unused(conn, template):
            log(f"dropped cache template {template.name} ({template.what})")
            dropped.append(template.name)
        else:
            log(f"skipped cache template {template.name}: a run is using it")
            left.append(template.name)
    return dropped, left

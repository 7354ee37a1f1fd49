"""Helpers of the reliability suite: running the real CLI while recording everything it
writes, injecting faults, scanning for the password, and the decoy databases.

Every ``drift-check`` process of the suite is started through :func:`start` (or :func:`run`),
which records its stdout, stderr, the report/summary/termination files it was told to write,
and the command lines of the process and all its descendants (sampled from ``/proc`` while it
runs). At the end of every test the new recordings are scanned for every encoding of the
test servers' password, and the session summary reports the totals.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, quote_plus

import psycopg2
import pytest
from sqlalchemy.engine import URL

TESTS_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = TESTS_DIR.parent
MIGRATIONS = Path("examples/bookshop/migrations")
ENV_PY = MIGRATIONS / "env.py"


# --------------------------------------------------------------------------------------------
# Session statistics (printed by the summary hook in conftest.py).
# --------------------------------------------------------------------------------------------


@dataclass
class Recording:
    """One piece of text a drift-check process produced or exposed."""

    test: str
    label: str
    text: str


@dataclass
class Stats:
    runs: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    bad_inputs: int = 0
    bad_input_ids: set[str] = field(default_factory=set)
    leftovers: int = 0
    leftover_names: list[str] = field(default_factory=list)
    secret_occurrences: int = 0
    secret_places: list[str] = field(default_factory=list)
    decoy_changes: int = 0
    decoy_details: list[str] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)
    current_test: str = "(session)"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fault(self, kind: str, count: int = 1) -> None:
        with self.lock:
            self.faults[kind] += count

    def record(self, label: str, text: str) -> None:
        if text:
            with self.lock:
                self.recordings.append(Recording(self.current_test, label, text))

    def bad_input(self, case_id: str) -> None:
        with self.lock:
            if case_id not in self.bad_input_ids:
                self.bad_input_ids.add(case_id)
                self.bad_inputs += 1


STATS = Stats()


# --------------------------------------------------------------------------------------------
# The password in every shape it could leak in.
# --------------------------------------------------------------------------------------------


def _sqlalchemy_form(secret: str) -> str:
    rendered = URL.create("postgresql", username="u", password=secret, host="h").render_as_string(
        hide_password=False
    )
    return rendered.removeprefix("postgresql://u:").removesuffix("@h")


def secret_forms(secret: str) -> list[str]:
    """Every encoding of ``secret`` a message, URL, ini file or JSON document may carry."""
    url_forms = {
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        _sqlalchemy_form(secret),
    }
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        secret.encode("unicode_escape").decode("ascii"),
        *url_forms,
        *(form.replace("%", "%%") for form in url_forms),
    }
    return sorted(forms, key=len, reverse=True)


def secret_fragments(secret: str) -> list[str]:
    """Distinctive pieces of ``secret`` (a truncated or partly redacted leak)."""
    head = secret[: max(6, len(secret) // 3)]
    return sorted(
        {head, quote(head, safe=""), _sqlalchemy_form(head), json.dumps(head)[1:-1]},
        key=len,
        reverse=True,
    )


def count_secret(text: str, secret: str) -> int:
    """Occurrences of ``secret`` in any of its forms; fragments count once each."""
    count = 0
    for form in secret_forms(secret):
        count += text.count(form)
        text = text.replace(form, "\0")
    for fragment in secret_fragments(secret):
        count += text.count(fragment)
        text = text.replace(fragment, "\0")
    return count


# --------------------------------------------------------------------------------------------
# Running the real CLI.
# --------------------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


class _CmdlineSampler:
    """One thread samples the command lines of every running drift-check and its descendants."""

    def __init__(self) -> None:
        self._roots: dict[int, set[str]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, pid: int) -> None:
        with self._lock:
            self._roots[pid] = set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, daemon=True)
                self._thread.start()

    def collect(self, pid: int) -> set[str]:
        self.sample_once()
        with self._lock:
            return self._roots.pop(pid, set())

    def sample_once(self) -> None:
        with self._lock:
            roots = list(self._roots)
        if not roots:
            return
        tree = _children()
        for root in roots:
            pending, seen = [root], set()
            while pending:
                pid = pending.pop()
                if pid in seen:
                    continue
                seen.add(pid)
                pending.extend(tree.get(pid, []))
                try:
                    raw = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if raw:
                    with self._lock:
                        if root in self._roots:
                            self._roots[root].add(raw.replace(b"\0", b" ").decode(errors="replace"))

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._roots:
                    self._thread = None
                    return
            self.sample_once()
            time.sleep(0.1)


SAMPLER = _CmdlineSampler()


@dataclass
class Result:
    """The outcome of one drift-check process."""

    code: int
    stdout: str
    stderr: str
    elapsed: float
    files: dict[str, str] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def stderr_lines(self) -> list[str]:
        return self.stderr.strip().splitlines()

    def describe(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


class Process:
    """A running ``drift-check``; stdout/stderr are read continuously so tests can wait on them."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, files: Iterable[Path]):
        self.args = args
        self.files = list(files)
        self.started = time.monotonic()
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "drift_job", *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        with STATS.lock:
            STATS.runs += 1
        SAMPLER.watch(self.popen.pid)
        self._out: list[str] = []
        self._err: list[str] = []
        self._arrivals: list[tuple[float, str]] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.popen.stdout, self._out), daemon=True),
            threading.Thread(target=self._read, args=(self.popen.stderr, self._err), daemon=True),
        ]
        self.finished_at: float | None = None
        for reader in self._readers:
            reader.start()
        self.signalled_at: float | None = None
        self._result: Result | None = None

    def _read(self, stream: IO[str] | None, sink: list[str]) -> None:
        assert stream is not None
        for line in stream:
            self._arrivals.append((time.monotonic(), line))
            sink.append(line)

    def arrival_of(self, text: str) -> float:
        """When the first output line containing ``text`` was read (monotonic clock)."""
        return next(at for at, line in self._arrivals if text in line)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def stdout_so_far(self) -> str:
        return "".join(self._out)

    @property
    def output_so_far(self) -> str:
        return "".join(self._out) + "".join(self._err)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_for_output(self, text: str, timeout: float = 60) -> None:
        wait_until(lambda: text in self.output_so_far, timeout, f"output {text!r}", self)

    def send(self, sig: signal.Signals) -> None:
        """Send ``sig`` and count it as an injected fault."""
        self.signalled_at = time.monotonic()
        self.popen.send_signal(sig)
        STATS.fault(sig.name)

    def finish(self, timeout: float = 120) -> Result:
        if self._result is not None:
            return self._result
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        ended = self.finished_at = time.monotonic()
        for reader in self._readers:
            reader.join(timeout=10)
        cmdlines = SAMPLER.collect(self.pid)
        stdout, stderr = "".join(self._out), "".join(self._err)
        files = {}
        for path in self.files:
            if path.is_file():
                files[path.name] = path.read_text(encoding="utf-8", errors="replace")
        label = " ".join(self.args)[:80]
        STATS.record(f"stdout of `{label}`", stdout)
        STATS.record(f"stderr of `{label}`", stderr)
        for name, text in files.items():
            STATS.record(f"{name} of `{label}`", text)
        for line in cmdlines:
            STATS.record(f"/proc cmdline during `{label}`", line)
        start = self.signalled_at if self.signalled_at is not None else self.started
        self._result = Result(self.popen.returncode, stdout, stderr, ended - start, files)
        return self._result

    def kill(self) -> None:
        if self.alive():
            self.popen.kill()
        self.finish()


_ARTIFACT_COUNTER = [0]


def artifact_paths(directory: Path) -> tuple[Path, Path]:
    """Fresh summary-file and termination-message paths for one run."""
    _ARTIFACT_COUNTER[0] += 1
    number = _ARTIFACT_COUNTER[0]
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"summary-{number}.json", directory / f"termination-{number}.log"


ARTIFACTS_DIR: list[Path] = []


def start(
    *args: str, env: dict[str, str], cwd: Path, files: Iterable[Path] = (), capture: bool = True
) -> Process:
    """Start the real CLI. Unless the test sets them, every run also writes a summary file and
    a termination message, so both are scanned for the password too."""
    env = dict(env)
    extra = list(files)
    if capture and ARTIFACTS_DIR:
        summary, termination = artifact_paths(ARTIFACTS_DIR[0])
        env.setdefault("DRIFT_SUMMARY_FILE", str(summary))
        env.setdefault("DRIFT_TERMINATION_MESSAGE_PATH", str(termination))
        extra += [Path(env["DRIFT_SUMMARY_FILE"]), Path(env["DRIFT_TERMINATION_MESSAGE_PATH"])]
    env.setdefault("NO_COLOR", "1")
    if "DRIFT_OUTPUT" in env:
        extra.append(Path(cwd, env["DRIFT_OUTPUT"]))
    for option in ("--output", "--summary-file"):
        if option in args[:-1]:
            extra.append(Path(cwd, args[args.index(option) + 1]))
    return Process(list(args), env, cwd, extra)


def run(
    *args: str,
    env: dict[str, str],
    cwd: Path,
    files: Iterable[Path] = (),
    timeout: float = 120,
    capture: bool = True,
) -> Result:
    return start(*args, env=env, cwd=cwd, files=files, capture=capture).finish(timeout)


def wait_until(
    condition: Callable[[], object],
    timeout: float,
    what: str,
    process: Process | None = None,
    interval: float = 0.05,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and not process.alive():
            result = process.finish()
            pytest.fail(f"drift-check ended before {what}:\n{result.describe()}")
        time.sleep(interval)
    detail = ""
    if process is not None:
        detail = f"\noutput so far:\n{process.output_so_far}"
    pytest.fail(f"timed out after {timeout} s waiting for {what}{detail}")


# --------------------------------------------------------------------------------------------
# Servers and databases.
# --------------------------------------------------------------------------------------------


def query(
    server: Any, sql: str, params: tuple[object, ...] = (), database: str = "postgres"
) -> list[tuple[Any, ...]]:
    result: list[tuple[Any, ...]] = server.query(sql, params, database=database)
    return result


def running(server: Any) -> bool:
    """Whether a test server (top-level PostgresServer) currently accepts connections."""
    if server.server.workdir is None:
        return False
    try:
        server.connect().close()
    except psycopg2.OperationalError:
        return False
    return True


def sessions_running(server: Any, text: str) -> int:
    """How many sessions are executing a statement containing ``text``."""
    rows = query(
        server,
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s "
        "AND pid <> pg_backend_pid()",
        (f"%{text}%",),
    )
    return int(rows[0][0])


def temporary_databases(server: Any, exclude: Iterable[str] = ()) -> list[str]:
    skip = set(exclude)
    return [name for name in server.temporary_databases() if name not in skip]


@contextmanager
def template_locked(server: Any) -> Iterator[psycopg2.extensions.connection]:
    """Hold a lock on template1 that makes every CREATE DATABASE wait (COMMENT ON DATABASE
    takes a SHARE UPDATE EXCLUSIVE lock, which conflicts with CREATE DATABASE's SHARE lock)."""
    conn = server.connect()
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            cur.execute("COMMENT ON DATABASE template1 IS 'held by the reliability suite'")
        yield conn
    finally:
        conn.rollback()
        conn.close()


@contextmanager
def database_locked(server: Any, name: str) -> Iterator[None]:
    """Hold a lock on database ``name`` (from another database) so DROP DATABASE waits."""
    conn = server.connect()
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            cur.execute(f'COMMENT ON DATABASE "{name}" IS NULL')
        yield
    finally:
        conn.rollback()
        conn.close()


# --------------------------------------------------------------------------------------------
# Projects.
# --------------------------------------------------------------------------------------------


def copy_reference_app(directory: Path) -> Path:
    """A private copy of the reference app (alembic.ini + examples/)."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "alembic.ini", directory / "alembic.ini")
    shutil.copytree(
        REPO_ROOT / "examples",
        directory / "examples",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return directory


HOOK = '''

def _reliability_hook(connection: Connection) -> None:
    """Test hook: act at the start of the migrate or the compare run of this env.py.

    The stage is told apart by the database itself: before the migrations run, the fresh
    temporary database has no alembic_version table.
    """
    import time
    from pathlib import Path

    migrated = connection.exec_driver_sql("SELECT to_regclass('alembic_version')").scalar()
    stage = "compare" if migrated else "migrate"
    if os.environ.get("RELIABILITY_HOOK_STAGE") != stage:
        return
    marker = os.environ.get("RELIABILITY_HOOK_MARKER")
    if marker:
        Path(marker).write_text(stage)
    statement = os.environ.get("RELIABILITY_HOOK_SQL")
    if statement:
        connection.exec_driver_sql(statement)
    seconds = os.environ.get("RELIABILITY_HOOK_SLEEP")
    if seconds:
        time.sleep(float(seconds))
    message = os.environ.get("RELIABILITY_HOOK_RAISE")
    if message:
        raise RuntimeError(message)
'''


def install_stage_hook(project: Path) -> None:
    """Make the copy's env.py call :data:`HOOK` at the start of each of its runs."""
    env_py = project / ENV_PY
    text = env_py.read_text()
    anchor = "def do_run_migrations(connection: Connection) -> None:\n"
    assert text.count(anchor) == 1
    text = text.replace(anchor, anchor + "    _reliability_hook(connection)\n")
    marker = "\n\ndef run_migrations_offline"
    assert text.count(marker) == 1
    env_py.write_text(text.replace(marker, HOOK + marker))


def kill_process(process: Process) -> None:
    """SIGKILL: the one signal drift-check cannot clean up after."""
    process.send(signal.SIGKILL)
    process.finish(timeout=30)


# --------------------------------------------------------------------------------------------
# Decoy databases: things drift-check did not create and must never touch.
# --------------------------------------------------------------------------------------------

OUR_OLD_MARKER = '{"tool": "drift-check", "run_id": "decoy", "created": "2000-01-01T00:00:00Z"}'
FOREIGN_MARKER = '{"tool": "another-tool", "created": "2000-01-01T00:00:00Z"}'

#: name -> comment. Everywhere: an application database, and one that carries our own (old)
#: marker comment but not our name pattern.
DECOYS: dict[str, str | None] = {
    "reliability_decoy": None,
    "reliability_marked_decoy": OUR_OLD_MARKER,
}
#: On the suite's own servers only (the top-level conftest drops anything named like a
#: temporary database after every test on the shared servers): our name pattern, but no
#: marker, or another tool's marker.
LOOKALIKE_DECOYS: dict[str, str | None] = {
    "drift_check_20000101000000_deadbeef": None,
    "drift_check_20000101000000_c0ffee00": FOREIGN_MARKER,
}

DECOY_CONTENT = """
CREATE SCHEMA ledger;
CREATE TABLE public.customers (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    balance numeric(12, 2) NOT NULL DEFAULT 0
);
CREATE INDEX customers_balance ON public.customers (balance);
INSERT INTO public.customers (name, balance)
    SELECT 'customer ' || g, g * 1.25 FROM generate_series(1, 200) AS g;
CREATE TABLE ledger.entries (
    id bigint PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES public.customers (id),
    amount numeric NOT NULL,
    note text
);
INSERT INTO ledger.entries SELECT g, 1 + g % 200, g, 'entry ' || g FROM generate_series(1, 500) AS g;
CREATE VIEW public.rich_customers AS SELECT id, name FROM public.customers WHERE balance > 100;
CREATE TABLE public.alembic_version (version_num varchar(32) PRIMARY KEY);
INSERT INTO public.alembic_version VALUES ('0003');
COMMENT ON TABLE public.customers IS 'decoy: must stay as it is';
"""


def create_decoy(server: Any, name: str, comment: str | None) -> None:
    query(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    query(server, f'CREATE DATABASE "{name}"')
    if comment is not None:
        query(server, f"COMMENT ON DATABASE \"{name}\" IS '{comment}'")
    conn = server.connect(name)
    try:
        with conn.cursor() as cur:
            cur.execute(DECOY_CONTENT)
    finally:
        conn.close()


def fingerprint(server: Any, name: str) -> dict[str, str]:
    """Catalogue and data of database ``name``, as comparable strings."""
    rows = query(
        server,
        "SELECT pg_get_userbyid(datdba), shobj_description(oid, 'pg_database'), datallowconn, "
        "datconnlimit FROM pg_database WHERE datname = %s",
        (name,),
    )
    if not rows:
        return {"database": "missing"}
    prints = {"database": repr(rows[0])}
    conn = server.connect(name)
    try:
        with conn.cursor() as cur:
            catalogue = {
                "relations": "SELECT n.nspname, c.relname, c.relkind, "
                "obj_description(c.oid, 'pg_class') FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN "
                "('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%' "
                "ORDER BY 1, 2",
                "columns": "SELECT table_schema, table_name, column_name, data_type, "
                "is_nullable, column_default FROM information_schema.columns WHERE "
                "table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3",
                "constraints": "SELECT conrelid::regclass::text, conname, "
                "pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace NOT IN "
                "('pg_catalog'::regnamespace, 'information_schema'::regnamespace) ORDER BY 1, 2",
                "indexes": "SELECT schemaname, indexname, indexdef FROM pg_indexes WHERE "
                "schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
                "views": "SELECT schemaname, viewname, definition FROM pg_views WHERE "
                "schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
                # Names only: crash recovery after an immediate shutdown advances a
                # sequence's last_value by design (values are WAL-logged ahead).
                "sequences": "SELECT schemaname, sequencename FROM pg_sequences ORDER BY 1, 2",
            }
            tables = []
            for key, sql in catalogue.items():
                cur.execute(sql)
                result = cur.fetchall()
                prints[key] = repr(result)
                if key == "relations":
                    tables = [(schema, rel) for schema, rel, kind, _ in result if kind == "r"]
            for schema, table in tables:
                cur.execute(
                    f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM \"{schema}\".\"{table}\" t"
                )
                prints[f"data {schema}.{table}"] = repr(cur.fetchone())
    finally:
        conn.close()
    return prints


@dataclass
class DecoySet:
    """The decoys on one server and their fingerprints when they were made."""

    server: Any
    label: str
    baseline: dict[str, dict[str, str]] = field(default_factory=dict)

    def create(self, decoys: dict[str, str | None]) -> None:
        for name, comment in decoys.items():
            create_decoy(self.server, name, comment)
            self.baseline[name] = fingerprint(self.server, name)

    def changes(self) -> list[str]:
        found = []
        for name, before in self.baseline.items():
            after = fingerprint(self.server, name)
            for key in sorted(set(before) | set(after)):
                if before.get(key) != after.get(key):
                    found.append(f"{self.label}: decoy {name}: {key} changed")
        return found


DECOY_SETS: list[DecoySet] = []
#: The suite's own servers (for fault injection); the shared ones live in tests/conftest.py.
OWN_SERVERS: list[Any] = []

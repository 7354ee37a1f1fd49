"""The portable level of the migration cache (``DRIFT_CACHE_DIR``): a plain ``pg_dump`` of the
migrated database (schema, the ``alembic_version`` row and whatever rows the migrations
inserted), stored under the chain's key and restored with ``psql`` in one transaction, for
CI whose server is new every run.

pg_dump refuses servers newer than itself, and its output is meant for the psql of the same
release, so both come from one directory holding a pg_dump at least as new as the server.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from drift_job.cache_key import Chain, Position
from drift_job.database import ServerAddress
from drift_job.errors import ConfigError, InfrastructureError
from drift_job.server import find_binaries

VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")
HEADER = "-- drift-check migration cache"
SYSTEM_BINDIRS = "/usr/lib/postgresql/*/bin"


@dataclass(frozen=True)
class DumpTools:
    pg_dump: Path
    psql: Path
    major: int


def _major(pg_dump: Path) -> int | None:
    try:
        out = subprocess.run(  # noqa: S603 - a fixed binary, list arguments
            [str(pg_dump), "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except OSError:
        return None
    match = VERSION.search(out)
    return int(match.group(1)) if match else None


def _candidate_dirs() -> list[Path]:
    dirs = []
    with contextlib.suppress(ConfigError):
        dirs.append(find_binaries({"PATH": ""}).bindir)
    dirs += [Path(d) for d in sorted(glob.glob(SYSTEM_BINDIRS))]
    on_path = shutil.which("pg_dump")
    if on_path:
        dirs.append(Path(on_path).parent)
    return dirs


def find_tools(server_major: int) -> DumpTools:
    """pg_dump and psql of one release, the oldest that is not older than the server."""
    found = []
    for bindir in _candidate_dirs():
        pg_dump, psql = bindir / "pg_dump", bindir / "psql"
        if pg_dump.is_file() and psql.is_file():
            major = _major(pg_dump)
            if major is not None:
                found.append(DumpTools(pg_dump, psql, major))
    usable = sorted((t for t in found if t.major >= server_major), key=lambda t: t.major)
    if usable:
        return usable[0]
    seen = ", ".join(f"{t.major} in {t.pg_dump.parent}" for t in found) or "none"
    raise ConfigError(
        f"DRIFT_CACHE_DIR: needs pg_dump and psql of PostgreSQL {server_major} or newer "
        f"(found: {seen}); install postgresql-client-{server_major} or unset DRIFT_CACHE_DIR"
    )


#: libpq's environment variable for each connection keyword drift-check uses.
LIBPQ_VARIABLES = {
    "host": "PGHOST",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "sslmode": "PGSSLMODE",
}


def _environment(address: ServerAddress, database: str) -> dict[str, str]:
    """libpq settings through the environment: the password never appears in arguments."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for keyword, value in address.connect_kwargs(database).items():
        env[LIBPQ_VARIABLES[keyword]] = str(value)
    env.update(PGCONNECT_TIMEOUT="10", PGAPPNAME="drift-check cache")
    return env


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "error" in line]
    return (errors or lines or ["no output"])[0]


class DumpCache:
    """Dumps in ``directory``, named ``<project>-<key>.sql``; at most ``keep`` per project."""

    def __init__(self, directory: Path, tools: DumpTools, keep: int, timeout: float) -> None:
        self.directory = directory
        self.tools = tools
        self.keep = keep
        self.timeout = timeout

    def _path(self, chain: Chain, position: Position) -> Path:
        return self.directory / f"{chain.project}-{position.key}.sql"

    def find(self, chain: Chain) -> tuple[Position, Path] | None:
        """The newest dump on the current chain whose header names its key."""
        for position in chain.starts():
            path = self._path(chain, position)
            try:
                with path.open("r", encoding="utf-8") as dump:
                    header = dump.readline()
            except OSError:
                continue
            if header.strip() == f"{HEADER} {position.key} {position.revision}":
                return position, path
        return None

    def restore(self, path: Path, address: ServerAddress, database: str) -> str | None:
        """Load a dump into the (empty) temporary database in one transaction; the reason if
        it failed (the database is then still empty: nothing of a failed load remains)."""
        completed = subprocess.run(  # noqa: S603 - our binary, list arguments, no secrets
            [str(self.tools.psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", str(path)],
            env=_environment(address, database),
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        if completed.returncode != 0:
            return _first_error(completed.stderr)
        with contextlib.suppress(OSError):
            os.utime(path)  # most recently used: kept by the KEEP bound
        return None

    def store(self, chain: Chain, address: ServerAddress, database: str) -> Path:
        """Dump the migrated database under the head's key (written whole, then renamed)."""
        head = chain.head
        if head is None:
            raise InfrastructureError("migration cache: nothing to store")
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self._path(chain, head)
        partial = target.with_suffix(f".partial-{os.getpid()}")
        try:
            with partial.open("w", encoding="utf-8") as out:
                out.write(f"{HEADER} {head.key} {head.revision}\n")
                out.flush()
                completed = subprocess.run(  # noqa: S603 - our binary, list arguments
                    [str(self.tools.pg_dump), "--no-owner", "--format=plain"],
                    env=_environment(address, database),
                    stdout=out,
                    stderr=subprocess.PIPE,
                    text=True,
                    timeout=self.timeout,
                    check=False,
                )
            if completed.returncode != 0:
                raise InfrastructureError(
                    f"migration cache: pg_dump failed: {_first_error(completed.stderr)}"
                )
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        self._prune(chain.project)
        return target

    def _prune(self, project: str) -> None:
        dumps = sorted(
            self.directory.glob(f"{project}-*.sql"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for old in dumps[self.keep :]:
            old.unlink(missing_ok=True)

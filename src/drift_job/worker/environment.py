"""What the project's code sees: environment variables pointing at the temporary database.

The worker sets them before any of the project's modules is imported, because projects read
their settings at import time. The password is put into the environment only when the
project needs it there (a template or URL variable that carries it, or sources that read
``POSTGRES_PASSWORD``): whatever is in the environment, a subprocess of the project can print.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import URL, make_url

SYNC_DRIVERS = ("psycopg2", "psycopg", "pg8000")
PASSWORD_VARIABLE = "POSTGRES_PASSWORD"  # noqa: S105 - a variable name, not a secret
#: Bounds of the scan for sources that read POSTGRES_PASSWORD (large repositories stay cheap).
SCAN_MAX_FILES = 4000
SCAN_MAX_BYTES = 1 << 20
SCAN_SECONDS = 0.5
SKIPPED_DIRS = frozenset(
    {"node_modules", "site-packages", "venv", "env", "build", "dist", "__pycache__", "tests"}
)


def driver_of(url_text: str | None) -> str | None:
    """The DBAPI driver named in a PostgreSQL URL (``postgresql+asyncpg://`` → ``asyncpg``)."""
    if not url_text or "://" not in url_text:
        return None
    try:
        url = make_url(url_text)
    except exc.ArgumentError:
        return None
    if url.get_backend_name() != "postgresql":
        return None
    return url.get_driver_name() or "psycopg2"


def _installed(driver: str) -> bool:
    return importlib.util.find_spec(driver) is not None


def choose_driver(job: Mapping[str, Any], ini_url: str | None) -> str:
    """Keep the project's own driver: DRIFT_DRIVER, else its URL (env var or ini), else the
    first PostgreSQL driver installed where the project's code runs (psycopg2 first, as
    SQLAlchemy's ``postgresql://`` means)."""
    if job["driver"]:
        return str(job["driver"])
    candidates = [os.environ.get(job["url_env"]) if job["url_env"] else None]
    candidates += [os.environ.get(name) for name, template in job["set_env"] if "{url}" in template]
    candidates.append(ini_url)
    named = next((d for d in map(driver_of, candidates) if d), None)
    if named is not None:
        return named
    return next((d for d in (*SYNC_DRIVERS, "asyncpg") if _installed(d)), "psycopg2")


def target_url(server: Mapping[str, Any], database: str, driver: str) -> URL:
    """The temporary database's URL for ``driver`` (a Unix socket goes in the query)."""
    host: str | None = server["host"]
    port: int | None = server["port"]
    query: dict[str, str] = {}
    if str(host).startswith("/"):
        query.update(host=str(host), port=str(port))
        host = port = None
    if server["sslmode"]:
        query["ssl" if driver == "asyncpg" else "sslmode"] = server["sslmode"]
    return URL.create(
        f"postgresql+{driver}",
        username=server["user"],
        password=server["password"],
        host=host,
        port=port,
        database=database,
        query=query,
    )


def sync_driver(driver: str) -> str:
    """The driver of the connection we share with env.py: it has to be synchronous (an
    async project's code may have psycopg 3, which is both, rather than psycopg2)."""
    if driver in SYNC_DRIVERS:
        return driver
    return next((d for d in SYNC_DRIVERS if _installed(d)), "psycopg2")


def _python_sources(root: Path) -> Iterator[Path]:
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [d for d in subdirs if not d.startswith(".") and d not in SKIPPED_DIRS]
        for name in files:
            if name.endswith(".py"):
                yield Path(directory, name)


def reads_password_variable(project_dir: Path, env_py: Path) -> bool:
    """Whether env.py or the project's sources mention POSTGRES_PASSWORD (bounded scan)."""
    deadline = time.monotonic() + SCAN_SECONDS
    candidates = itertools.chain([env_py], _python_sources(project_dir))
    for path in itertools.islice(candidates, SCAN_MAX_FILES):
        if time.monotonic() > deadline:
            return False
        try:
            with path.open("rb") as source:
                if PASSWORD_VARIABLE.encode() in source.read(SCAN_MAX_BYTES):
                    return True
        except OSError:
            continue
    return False


def assignments(
    job: Mapping[str, Any], url: URL, *, password_in_environment: bool
) -> dict[str, str]:
    """The variables env.py may read its database from, pointing at the temporary database."""
    server = job["server"]
    rendered = url.render_as_string(hide_password=False)
    values = {
        "url": rendered,
        "database": job["database"],
        "host": str(server["host"]),
        "port": str(server["port"]),
        "user": server["user"] or "",
        "password": server["password"] or "",
        "driver": url.get_driver_name() or "",
    }
    result: dict[str, str] = {"POSTGRES_DB": job["database"]}
    if not str(server["host"]).startswith("/"):
        result.update(POSTGRES_HOST=values["host"], POSTGRES_PORT=values["port"])
        if server["user"]:
            result["POSTGRES_USER"] = server["user"]
        if password_in_environment and server["password"] is not None:
            result[PASSWORD_VARIABLE] = server["password"]
    if job["url_env"]:
        result[job["url_env"]] = rendered
    for name, template in job["set_env"]:
        result[name] = template.format(**values)
    return result


def needs_password(job: Mapping[str, Any], project_dir: Path, env_py: Path) -> bool:
    """POSTGRES_PASSWORD goes into the environment only when the project's code reads it
    (templates that need the password get it through their own variables)."""
    if job["server"]["password"] is None:
        return False
    return reads_password_variable(project_dir, env_py)


def _writable(path: str | None) -> bool:
    return bool(path) and os.path.isdir(str(path)) and os.access(str(path), os.W_OK)


def private_home_if_needed() -> dict[str, str]:
    """HOME and TMPDIR pointing at a private writable directory when theirs are read-only
    (a read-only container or checkout), because models and env.py write caches there."""
    changes: dict[str, str] = {}
    scratch: str | None = None
    for name, current in (("HOME", os.environ.get("HOME")), ("TMPDIR", tempfile.gettempdir())):
        if not _writable(current):
            scratch = scratch or tempfile.mkdtemp(prefix="drift-check-home-", dir=_scratch_root())
            changes[name] = scratch
    return changes


def _scratch_root() -> str | None:
    for candidate in ("/tmp", "/var/tmp", "/dev/shm"):  # noqa: S108 - only when writable
        if _writable(candidate):
            return candidate
    return None

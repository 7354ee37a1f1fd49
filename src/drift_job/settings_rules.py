"""Rules that involve several keys: which server, which Alembic configuration, which
interpreter. Each appends its problems to the resolver's list instead of raising."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from drift_job.envfile import FileProblem, read_small_text
from drift_job.settings_sources import Layers, Resolver
from drift_job.settings_values import resolve_python

SERVERS = ("embedded", "configured")
#: Keys that only make sense for a configured server: set without a host, they are an error
#: rather than silently ignored by a throwaway server (libpq's PG* variables do not count).
SERVER_KEYS = (
    "POSTGRES_USER",
    "POSTGRES_USER_FILE",
    "POSTGRES_PORT",
    "POSTGRES_PASSWORD",
    "POSTGRES_PASSWORD_FILE",
    "POSTGRES_DB",
)


def _tool_alembic(project_dir: Path) -> tuple[Path | None, str | None]:
    """The project's pyproject.toml if it has a ``[tool.alembic]`` table (Alembic ≥ 1.16
    reads its configuration from there), and why it could not be read, if so."""
    path = project_dir / "pyproject.toml"
    if not path.exists():
        return None, None
    try:
        data = tomllib.loads(read_small_text(path))
    except FileProblem as problem:
        return None, f"{path} {problem}"
    except tomllib.TOMLDecodeError as exc:
        return None, f"{path} is not valid TOML ({exc})"
    tool = data.get("tool")
    found = isinstance(tool, dict) and isinstance(tool.get("alembic"), dict)
    return (path if found else None), None


def alembic_files(layers: Layers, project_dir: Path) -> tuple[Path | None, Path | None]:
    """(alembic.ini or None, pyproject.toml with [tool.alembic] or None)."""
    named = layers.get("ALEMBIC_CONFIG")
    ini = project_dir / (named or "alembic.ini")
    if not project_dir.is_dir():
        return ini, None
    toml_file, toml_problem = _tool_alembic(project_dir)
    if ini.is_file():
        return ini, toml_file
    if named:
        layers.problems.append(f"ALEMBIC_CONFIG: {ini} not found")
    elif toml_problem:
        layers.problems.append(f"ALEMBIC_CONFIG: {ini} not found, and {toml_problem}")
    elif toml_file is None:
        layers.problems.append(
            f"ALEMBIC_CONFIG: {ini} not found (and no [tool.alembic] in pyproject.toml)"
        )
    else:
        return None, toml_file
    return ini, toml_file


def server_kind(resolve: Resolver, host: str | None, env_file: str) -> str:
    """``configured`` with a host, else ``embedded``, refusing to silently ignore settings
    that were clearly meant for a server of the user's."""
    layers, problems = resolve.layers, resolve.problems
    requested = resolve.choice("DRIFT_SERVER", SERVERS)
    where = layers.sources.get("DRIFT_SERVER", "default")
    if host is not None:
        if requested == "embedded":
            host_key = layers.sources["POSTGRES_HOST"].partition(":")[2] or "POSTGRES_HOST"
            problems.append(
                f"DRIFT_SERVER: embedded ({where}) conflicts with {host_key}={host}; "
                "unset one of them"
            )
        return "configured"
    if requested == "embedded" or "POSTGRES_HOST" in layers.rejected:
        return "embedded"
    if requested == "configured":
        problems.append(
            f"POSTGRES_HOST: not set, but DRIFT_SERVER=configured ({where}) needs a server; "
            "set POSTGRES_HOST=…"
        )
        return "configured"
    found = layers.defining(SERVER_KEYS)
    if found:
        labels = [layer if layer != "env file" else f"env file {env_file}" for _, layer in found]
        if len(set(labels)) == 1:
            listed = f"{', '.join(key for key, _ in found)} {'is' if len(found) == 1 else 'are'}"
            listed += f" ({labels[0]})"
        else:
            listed = ", ".join(
                f"{key} ({label})" for (key, _), label in zip(found, labels, strict=True)
            )
            listed += " are"
        problems.append(
            f"POSTGRES_HOST: not set, but {listed}; set POSTGRES_HOST=… to check against that "
            "server, or DRIFT_SERVER=embedded to use a throwaway PostgreSQL and ignore them"
        )
    return "embedded"


def interpreter(resolve: Resolver, environ: Mapping[str, str]) -> str | None:
    text = resolve.layers.get("DRIFT_PYTHON")
    if text is None:
        return None
    try:
        return resolve_python(text, resolve.base_dir, environ.get("PATH"))
    except ValueError as exc:
        resolve.problems.append(f"DRIFT_PYTHON: {text!r} {exc}")
        return None

"""The project's own settings file: ``[tool.drift-check]`` in pyproject.toml, or a
``drift-check.toml`` (the same keys at its top level), plus an ``--ignore-file``.

It holds what a team would otherwise repeat on every command line, and its ignore rules. Its
values are the lowest settings layer: flags, the environment and the env file override them.
Every key is checked: an unknown one, or a value of the wrong type, is reported naming the
file and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drift_job.envfile import FileProblem, read_small_text
from drift_job.ignore_rules import IgnoreRule, parse_rules

PYPROJECT = "pyproject.toml"
OWN_FILE = "drift-check.toml"
#: File key → settings key, and the TOML type it takes.
KEYS: dict[str, tuple[str, str]] = {
    "url-env": ("DRIFT_URL_ENV", "string"),
    "set-env": ("DRIFT_SET_ENV", "list"),
    "compare": ("DRIFT_COMPARE", "string"),
    "strict": ("DRIFT_STRICT", "boolean"),
    "format": ("DRIFT_FORMAT", "string"),
    "python": ("DRIFT_PYTHON", "string"),
    "report": ("DRIFT_REPORT", "list"),
    "strict-ignores": ("DRIFT_STRICT_IGNORES", "boolean"),
}


@dataclass
class SettingsFile:
    """What the project's settings file (if any) and the ignore file (if any) hold."""

    path: Path | None = None
    #: The settings it sets, by settings key, as text (as the environment would give them).
    values: dict[str, str | None] = field(default_factory=dict)
    rules: list[IgnoreRule] = field(default_factory=list)
    #: Every file the ignore rules came from.
    rule_files: list[Path] = field(default_factory=list)

    @property
    def layer(self) -> str:
        """The name ``drift-check config`` shows as the source of its values."""
        return self.path.name if self.path is not None else OWN_FILE


def _toml(path: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        return tomllib.loads(read_small_text(path))
    except FileProblem as problem:
        problems.append(f"{path}: {problem}")
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{path}: not valid TOML ({exc})")
    return None


def _text(key: str, kind: str, value: Any, where: str, base: Path) -> str:
    """A file value as the environment would spell it; ValueError names what is wrong."""
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"{where}: {key} must be true or false")
        return "1" if value else "0"
    if kind == "list":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ValueError(f"{where}: {key} must be a string or an array of strings")
        return "\n".join(items)
    if not isinstance(value, str):
        raise ValueError(f"{where}: {key} must be a string")
    if key == "python" and "/" in value and not Path(value).is_absolute():
        return str(base / value)  # a project's .venv/bin/python is relative to the project
    return value


def _table(data: dict[str, Any], path: Path) -> tuple[dict[str, Any], str] | None:
    if path.name != PYPROJECT:
        return data, path.name
    tool = data.get("tool")
    table = tool.get("drift-check") if isinstance(tool, dict) else None
    return (table, f"{path.name} [tool.drift-check]") if isinstance(table, dict) else None


def _read(path: Path, found: SettingsFile, problems: list[str]) -> None:
    data = _toml(path, problems)
    table = _table(data, path) if data is not None else None
    if table is None:
        return
    values, where = table
    found.path = path
    for key, value in values.items():
        if key == "ignore":
            found.rules += parse_rules(value, f"{where} ignore", problems)
            found.rule_files.append(path)
            continue
        if key not in KEYS:
            allowed = ", ".join([*KEYS, "ignore"])
            problems.append(f"{where}: unknown key {key!r} (allowed: {allowed})")
            continue
        name, kind = KEYS[key]
        try:
            found.values[name] = _text(key, kind, value, where, path.parent)
        except ValueError as exc:
            problems.append(str(exc))


def _holds_settings(path: Path) -> bool:
    """Whether a pyproject.toml has a ``[tool.drift-check]`` table (read leniently: a broken
    pyproject.toml is reported when it is read for real)."""
    try:
        data = tomllib.loads(read_small_text(path))
    except (FileProblem, tomllib.TOMLDecodeError):
        return True
    tool = data.get("tool")
    return isinstance(tool, dict) and "drift-check" in tool


def read_settings_file(
    project_dir: Path, ignore_file: Path | None, problems: list[str]
) -> SettingsFile:
    """The project's settings file and the ignore file; problems are appended, not raised."""
    found = SettingsFile()
    own, pyproject = project_dir / OWN_FILE, project_dir / PYPROJECT
    if own.is_file() and pyproject.is_file() and _holds_settings(pyproject):
        problems.append(
            f"{own} and {pyproject} [tool.drift-check] both hold drift-check settings; "
            "keep one of them"
        )
    elif own.is_file():
        _read(own, found, problems)
    elif pyproject.is_file():
        _read(pyproject, found, problems)
    if ignore_file is not None:
        _read_ignore_file(ignore_file, found, problems)
    return found


def _read_ignore_file(path: Path, found: SettingsFile, problems: list[str]) -> None:
    """An ``--ignore-file``: ``[[ignore]]`` tables only."""
    if not path.is_file():
        problems.append(f"DRIFT_IGNORE_FILE: {path} not found")
        return
    data = _toml(path, problems)
    if data is None:
        return
    unknown = sorted(set(data) - {"ignore"})
    if unknown:
        problems.append(
            f"{path}: unknown key {', '.join(unknown)} (an ignore file holds "
            "[[ignore]] tables only)"
        )
    if "ignore" in data:
        found.rules += parse_rules(data["ignore"], f"{path.name} ignore", problems)
        found.rule_files.append(path)

"""Parsers for single setting values: durations, sizes, booleans, lists, interpreters.

Each raises ``ValueError`` (or returns a problem text); :mod:`drift_job.settings` turns that
into one line naming the key.
"""

from __future__ import annotations

import os
import re
import shutil
import string
import unicodedata
from pathlib import Path

from drift_job.envfile import ENV_NAME_PATTERN

TEMPLATE_FIELDS = frozenset({"url", "database", "host", "port", "user", "password", "driver"})
DURATION_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
DURATION_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
SIZE_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*$", re.IGNORECASE)
MIN_WORKER_MEMORY = 64 << 20
TRUE_WORDS = ("1", "true", "yes")
FALSE_WORDS = ("0", "false", "no")
#: Keys whose values are lists separated by newlines (or ``;``).
MULTILINE_KEYS = frozenset({"DRIFT_SET_ENV", "DRIFT_ALEMBIC_X", "DRIFT_REPORT"})


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``6h``, ``1d`` → seconds; ValueError otherwise."""
    match = DURATION_PATTERN.match(text)
    if not match:
        raise ValueError(text)
    seconds = float(match.group(1)) * DURATION_UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError(text)
    return seconds


def parse_size(text: str) -> int:
    """Bytes from ``800MB`` (SI: powers of 1000), ``512M``, ``512Mi``, ``1.5GiB`` (powers of
    1024, as Docker, the JVM and Kubernetes read them), or a plain number of bytes."""
    match = SIZE_PATTERN.match(text)
    if not match:
        raise ValueError(text)
    number, unit, binary, byte = match.groups()
    power = " kmgt".index(unit.lower()) if unit else 0
    if binary and not unit:
        raise ValueError(text)
    base = 1000 if (byte and not binary and unit) else 1024
    return int(float(number) * base**power)


def parse_bool(text: str) -> bool:
    """``1``/``true``/``yes`` or ``0``/``false``/``no`` (any case)."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(text)


def split_entries(text: str, *, semicolons: bool = True) -> list[str]:
    """Non-empty entries separated by newlines (and ``;`` unless they came from flags, where
    each occurrence is already one entry)."""
    return [
        item.strip() for item in re.split(r"[;\n]" if semicolons else r"\n", text) if item.strip()
    ]


def parse_set_env(text: str) -> list[tuple[str, str]]:
    """Split ``NAME=TEMPLATE`` entries separated by newlines or ``;``."""
    entries = []
    for item in split_entries(text):
        name, sep, template = item.partition("=")
        if not sep:
            raise ValueError(item)
        entries.append((name.strip(), template.strip()))
    return entries


def template_problem(name: str, template: str) -> str | None:
    """Why one DRIFT_SET_ENV entry cannot work, or None."""
    if not ENV_NAME_PATTERN.match(name):
        return f"DRIFT_SET_ENV: {name!r} is not a valid environment variable name"
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        return f"DRIFT_SET_ENV: template for {name} is malformed ({exc})"
    unknown = fields - TEMPLATE_FIELDS
    if unknown:
        allowed = ", ".join("{" + f + "}" for f in sorted(TEMPLATE_FIELDS))
        return f"DRIFT_SET_ENV: {name} uses unknown field(s) {sorted(unknown)}; allowed: {allowed}"
    return None


def unusable_character(key: str, value: str) -> str | None:
    """What makes ``value`` unusable (a NUL byte, a control character, bytes that are not
    UTF-8), without showing the value: it may be a password."""
    for char in value:
        if char == "\t" or (char == "\n" and key in MULTILINE_KEYS):
            continue
        if char == "\0":
            return "contains a NUL byte"
        category = unicodedata.category(char)
        if category == "Cs":  # os.environ's surrogateescape of undecodable bytes
            return "contains bytes that are not UTF-8"
        if category == "Cc":
            return f"contains a control character (U+{ord(char):04X})"
    return None


def resolve_python(text: str, base_dir: Path, path_env: str | None) -> str:
    """An interpreter given as a path (relative to ``base_dir``) or a command name on PATH,
    as an absolute path. Symlinks are kept: a virtualenv's python is one."""
    if os.sep in text or (os.altsep and os.altsep in text):
        candidate = Path(os.path.abspath(base_dir / text))
        if not candidate.exists():
            raise ValueError("not found")
        if not candidate.is_file():
            raise ValueError("is not a file")
        if not os.access(candidate, os.X_OK):
            raise ValueError("is not executable")
        return str(candidate)
    found = shutil.which(text, path=path_env if path_env is not None else os.defpath)
    if found is None:
        raise ValueError("is neither a path nor a command on PATH")
    return os.path.abspath(found)

"""The small files settings come from: env files and ``*_FILE`` secrets.

Only regular files of at most :data:`MAX_BYTES` are read, and never without a bound: a FIFO,
a device (``--env-file /dev/zero``) or a huge file must fail at once with one message naming
it, not hang or fill memory.
"""

from __future__ import annotations

import io
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

MAX_BYTES = 1 << 20
#: A file that is not an env file at all is named once, not line by line.
MAX_LINE_PROBLEMS = 5
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: python-dotenv's own pattern for ``${NAME}`` and ``${NAME:-default}``.
_POSIX_VARIABLE = re.compile(r"\$\{(?P<name>[^\}:]*)(?::-(?P<default>[^\}]*))?\}")
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class FileProblem(Exception):
    """Why a settings file cannot be used; the caller prefixes the key or file."""


def _not_regular(mode: int) -> FileProblem:
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    return FileProblem(f"is not a regular file ({kind})")


def read_small_text(path: Path, limit: int = MAX_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes, else :class:`FileProblem`.

    ``stat`` comes first so that nothing else is even opened; the open itself is
    non-blocking and re-checked with ``fstat`` in case the path was swapped meanwhile.
    """
    try:
        if not stat.S_ISREG(mode := os.stat(path).st_mode):
            raise _not_regular(mode)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        raise FileProblem("not found") from None
    except OSError as exc:
        raise FileProblem(f"cannot be read ({exc.__class__.__name__})") from None
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(mode := os.fstat(file.fileno()).st_mode):
            raise _not_regular(mode)
        try:
            data = file.read(limit + 1)
        except OSError as exc:
            raise FileProblem(f"cannot be read ({exc.__class__.__name__})") from None
    if len(data) > limit:
        raise FileProblem(f"is larger than {limit // (1 << 20)} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FileProblem("cannot be read (UnicodeDecodeError: not UTF-8)") from None


def interpolate(
    values: Mapping[str, str | None], environ: Mapping[str, str]
) -> dict[str, str | None]:
    """``${NAME}`` / ``${NAME:-default}`` expanded as python-dotenv's ``dotenv_values`` does by
    default: from the keys above in the file, then the environment; unknown names expand to
    the default or "". Done here so that it uses the given ``environ``, not ``os.environ``."""
    resolved: dict[str, str | None] = {}
    for name, value in values.items():
        if value is None:
            resolved[name] = None
            continue
        scope: dict[str, str | None] = {**environ, **resolved}

        def expand(match: re.Match[str], scope: dict[str, str | None] = scope) -> str:
            found = scope.get(match["name"], match["default"] or "")
            return found if found is not None else ""

        resolved[name] = _POSIX_VARIABLE.sub(expand, value)
    return resolved


def read_env_file(
    path: Path, environ: Mapping[str, str], problems: list[str]
) -> dict[str, str | None]:
    """The file's values (python-dotenv syntax), or {} with every malformed line reported."""
    try:
        text = read_small_text(path)
    except FileProblem as problem:
        problems.append(f"env file {path}: {problem}")
        return {}
    seen: set[str] = set()
    found: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        body = stripped.removeprefix("export ").strip()
        key, sep, _ = body.partition("=")
        key = key.strip()
        if not sep or not ENV_NAME_PATTERN.match(key):
            found.append(f"env file {path}, line {number}: expected KEY=VALUE")
            continue
        if key in seen:
            found.append(f"env file {path}, line {number}: {key} is set twice")
        seen.add(key)
    if found:  # (python-dotenv would log its own complaint as well)
        shown = found[:MAX_LINE_PROBLEMS]
        more = len(found) - len(shown)
        problems.extend(shown + ([f"env file {path}: {more} more bad line(s)"] if more else []))
        return {}
    from dotenv import dotenv_values  # noqa: PLC0415 - only with an env file: a fast start

    return interpolate(dotenv_values(stream=io.StringIO(text), interpolate=False), environ)


def read_secret_file(path_text: str, key: str, problems: list[str]) -> str | None:
    """A ``*_FILE`` value (a mounted Secret key): one trailing newline is not part of it."""
    path = Path(path_text)
    try:
        content = read_small_text(path)
    except FileProblem as problem:
        problems.append(f"{key}: file {path} {problem}")
        return None
    value = content.removesuffix("\n").removesuffix("\r")
    if not value:
        problems.append(f"{key}: file {path} is empty")
        return None
    return value

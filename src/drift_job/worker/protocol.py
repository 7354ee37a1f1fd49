"""The messages between the supervisor and the worker: one JSON object a line, versioned.

The worker writes events on a pipe of their own (never on stdout, which belongs to the
project's output), and reads the supervisor's commands on another. A run is complete only
when the worker has sent ``result`` or ``error``; anything else that ends the pipe is a
failed check, whatever the worker's exit status says.
"""

from __future__ import annotations

import json
import os
from typing import Any

PROTOCOL_VERSION = 1

#: Worker → supervisor.
HELLO = "hello"  # the worker is up: its Python, Alembic and SQLAlchemy versions
REVISIONS = "revisions"  # the migration graph loaded: head, and the revision files
STAGE = "stage"  # a stage started ("start") or finished ("end", with a note)
APPLIED = "applied"  # one revision was applied during the upgrade
RESULT = "result"  # the differences, the suggested migration, the lint's records, the round trip's
ERROR = "error"  # a classified failure: stage, category, one-line message, traceback
#: The upgrade is done and its connection closed (the cache copies it, unless
#: ``models_changed``: running the migrations changed env.py's models).
MIGRATED = "migrated"
#: With the cache on a server: the models' database is asked for by the digest of the DDL the
#: models send (null: none could be rendered), and, once built, offered to be kept.
MODELS_WANTED = "models_wanted"
MODELS_BUILT = "models_built"  # built from scratch and its connection closed (with the digest)
#: Supervisor → worker.
JOB = "job"  # what to check (``roundtrip``: to, skip) and how to reach the temporary database
GO = "go"  # the temporary database exists: migrate and compare
MODELS = "models"  # the models' database exists (``cloned``: already built): build it meanwhile
RESUME = "resume"  # the migrated database was copied into the cache: go on comparing
MODELS_KEPT = "models_kept"  # the models' database was copied into the cache (or not)
#: What the worker accepts once it watches the command pipe.
COMMANDS = (GO, MODELS, RESUME, MODELS_KEPT)

#: Error categories the worker reports; the supervisor maps each onto an exit code.
CATEGORIES = ("config", "guard", "migration", "infrastructure", "login")
#: Round-trip findings that are a migration raising, not a trace it left.
DOWNGRADE_FAILED = "roundtrip_downgrade_failed"
UPGRADE_FAILED = "roundtrip_upgrade_failed"


class ProtocolError(Exception):
    """A line that is not a message of this protocol version."""


def encode(kind: str, **fields: Any) -> bytes:
    """One message as a line of JSON."""
    return json.dumps({"v": PROTOCOL_VERSION, "type": kind, **fields}).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """Parse one line; anything but a message of our version is a protocol error."""
    try:
        message = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"not a message: {line[:80]!r}") from exc
    if not isinstance(message, dict) or message.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(f"unsupported message: {line[:80]!r}")
    if not isinstance(message.get("type"), str):
        raise ProtocolError(f"message without a type: {line[:80]!r}")
    return message


def write_all(fd: int, data: bytes) -> None:
    """Write every byte (a pipe may take a large result in several writes)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class LineBuffer:
    """Splits bytes read from a pipe into complete lines."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        return lines

    def rest(self) -> bytes:
        """What arrived after the last newline (a message cut short by the worker's death)."""
        rest, self._pending = self._pending, b""
        return rest

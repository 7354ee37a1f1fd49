"""The worker's side of the pipes: events out, commands in, and stage timing."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import protocol

SUPERVISOR_GONE = 70  # the command pipe closed: the supervisor died; stop at once


class Channel:
    """The events pipe, written from the main thread and from Alembic's callbacks."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self.token: str | None = None  # the job's token, carried by every later message

    def send(self, kind: str, **fields: Any) -> None:
        if self.token is not None:
            fields["token"] = self.token
        with self._lock:
            protocol.write_all(self._fd, protocol.encode(kind, **fields))


class Commands:
    """The supervisor's commands; end of file means the supervisor is gone, and from
    :meth:`watch` on a thread notices that at once, wherever the main thread is.

    Once watched, commands are delivered by kind: the early models' build waits for MODELS on
    a thread of its own while the main thread may wait for RESUME, in either order. Anything
    that is not a command is a protocol error for every waiter."""

    def __init__(self, fd: int) -> None:
        self._stream = os.fdopen(fd, "rb", buffering=0)
        self._watched = False
        self._arrived = threading.Condition()
        self._inbox: dict[str, list[dict[str, Any]]] = {}
        self._fault: str | None = None

    def expect(self, kind: str) -> dict[str, Any]:
        if not self._watched:
            message = self._read()
            if message["type"] != kind:
                raise protocol.ProtocolError(f"expected {kind}, got {message['type']}")
            return message
        with self._arrived:
            while True:
                if self._fault is not None:
                    raise protocol.ProtocolError(self._fault)
                if self._inbox.get(kind):
                    return self._inbox[kind].pop(0)
                self._arrived.wait()

    def _read(self) -> dict[str, Any]:
        line = self._stream.readline()
        if not line:
            os._exit(SUPERVISOR_GONE)
        return protocol.decode(line)

    def watch(self) -> None:
        """Read commands on a thread from now on: a closed pipe ends the process even while
        the project's code runs (an orphaned worker must not go on migrating)."""

        def read() -> None:
            while True:
                try:
                    message = self._read()
                    fault = None
                    if message["type"] not in protocol.COMMANDS:
                        fault = f"not a command: {message['type']}"
                except protocol.ProtocolError as exc:
                    fault = str(exc)
                with self._arrived:
                    if fault is not None:
                        self._fault = self._fault or fault
                    else:
                        self._inbox.setdefault(message["type"], []).append(message)
                    self._arrived.notify_all()

        self._watched = True
        threading.Thread(target=read, name="drift-check-watchdog", daemon=True).start()


class Stages:
    """Times each stage and tells the supervisor where the worker is."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.current = "start"

    @contextmanager
    def stage(self, name: str) -> Iterator[list[str]]:
        self.current = name
        self.channel.send(protocol.STAGE, name=name, event="start")
        started = time.monotonic()
        note: list[str] = []
        yield note
        self.channel.send(
            protocol.STAGE,
            name=name,
            event="end",
            seconds=time.monotonic() - started,
            note=" ".join(note),
        )

"""A Kubernetes API stand-in over real HTTP, for the ``drift-check k8s`` client tests.

No Kubernetes API server can run on these machines (no kube-apiserver, kind or k3s), so the
client is tested against this server: the official ``kubernetes`` client talks to it over a
real socket through a kubeconfig, exactly as it would to a cluster. It serves what the client
uses — create/read/list/delete of ConfigMaps, Secrets, ServiceAccounts, Jobs and Pods, watch
streams (``?watch=true``) and followed pod logs — with objects shaped as the API returns them
(metadata.uid/resourceVersion/creationTimestamp, the Job controller's pod labels, conditions
with their timestamps). A test's *scenario* plays the Job controller and the kubelet: it adds
pods and moves them through their states, writes log lines, sets the Job's conditions.
(PyPI ``kmock`` serves from an asyncio loop for async tests; this client is synchronous, and a
scenario is clearer as plain sequential code.)
"""

from __future__ import annotations

import copy
import itertools
import json
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from fake_states import COLLECTIONS, ClusterStates, Json, PodLog


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-stream is what clients do; anything else is a bug."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class FakeApi(ClusterStates):
    """The objects of one namespace, served at ``self.url``."""

    def __init__(self, namespace: str = "ci") -> None:
        self.namespace = namespace
        self.objects: dict[tuple[str, str], Json] = {}
        self.created: list[Json] = []
        self.deleted: list[tuple[str, str, str | None]] = []
        self.logs: dict[str, PodLog] = {}
        self.changed = threading.Condition()
        self.version = itertools.count(1000)
        self.scenario: Callable[[FakeApi, Json], None] | None = None
        self.scenario_error: BaseException | None = None
        self.server = _Server(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.closing = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeApi:
        self.thread.start()
        return self

    def close(self) -> None:
        if self.closing:
            return
        self.closing = True
        with self.changed:
            self.changed.notify_all()
        self.server.shutdown()
        self.server.server_close()

    def kubeconfig(self, path: Path) -> Path:
        """A kubeconfig whose current context is this server and namespace."""
        path.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "tester", "user": {"token": "not-a-secret"}}],
                    "contexts": [
                        {
                            "name": "fake",
                            "context": {
                                "cluster": "fake",
                                "user": "tester",
                                "namespace": self.namespace,
                            },
                        }
                    ],
                    "current-context": "fake",
                }
            )
        )
        return path


def _status(code: int, reason: str, message: str) -> Json:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _matches(obj: Json, query: dict[str, list[str]]) -> bool:
    labels = obj["metadata"].get("labels") or {}
    for selector in query.get("labelSelector", []):
        for term in selector.split(","):
            key, _, value = term.partition("=")
            if labels.get(key) != value:
                return False
    for selector in query.get("fieldSelector", []):
        key, _, value = selector.partition("=")
        if key == "metadata.name" and obj["metadata"]["name"] != value:
            return False
    return True


def _handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # streams are chunked, as the API server sends them

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, code: int, body: Json) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self) -> tuple[str, str | None, str | None, dict[str, list[str]]]:
            parsed = urlparse(self.path)
            parts = parsed.path.strip("/").split("/")
            parts = parts[2:] if parts[0] == "api" else parts[3:]  # drop api/v1, apis/batch/v1
            assert parts[0] == "namespaces" and parts[1] == api.namespace, self.path
            collection = parts[2]
            name = parts[3] if len(parts) > 3 else None
            sub = parts[4] if len(parts) > 4 else None
            return collection, name, sub, parse_qs(parsed.query)

        def do_POST(self) -> None:
            collection, _, _, _ = self._route()
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if (collection, body["metadata"]["name"]) in api.objects:
                self._send(409, _status(409, "AlreadyExists", "already exists"))
                return
            api.created.append(copy.deepcopy(body))
            obj = api.store(collection, body)
            self._send(201, obj)
            if collection == "jobs" and api.scenario is not None:
                threading.Thread(target=self._play, args=(obj,), daemon=True).start()

        def _play(self, job: Json) -> None:
            try:
                assert api.scenario is not None
                api.scenario(api, job)
            except BaseException as error:  # reported by the test; the client sees a dead API
                api.scenario_error = error
                api.close()

        def do_DELETE(self) -> None:
            collection, name, _, query = self._route()
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else {}
            policy = (query.get("propagationPolicy") or [body.get("propagationPolicy")])[0]
            obj = api.objects.pop((collection, name or ""), None)
            if obj is None:
                self._send(404, _status(404, "NotFound", f"{collection} {name!r} not found"))
                return
            api.deleted.append((obj["kind"], obj["metadata"]["name"], policy))
            if collection == "jobs":
                for pod in api.pods_of(obj):  # the kubelet stops them: their logs end
                    api.objects.pop(("pods", pod["metadata"]["name"]), None)
                    api.logs[pod["metadata"]["name"]].ended = True
            api._touch(obj)
            self._send(200, obj)

        def do_GET(self) -> None:
            collection, name, sub, query = self._route()
            if sub == "log":
                self._log(name or "", query)
                return
            if name is not None:
                obj = api.objects.get((collection, name))
                if obj is None:
                    self._send(404, _status(404, "NotFound", f"{collection} {name!r} not found"))
                else:
                    self._send(200, obj)
                return
            if query.get("watch") == ["true"]:
                self._watch(collection, query)
                return
            items = [
                o for (c, _), o in api.objects.items() if c == collection and _matches(o, query)
            ]
            kind = COLLECTIONS[collection][1]
            self._send(
                200,
                {
                    "kind": f"{kind}List",
                    "apiVersion": COLLECTIONS[collection][0],
                    "metadata": {"resourceVersion": str(next(api.version))},
                    "items": items,
                },
            )

        def _stream_start(self, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _stream_end(self) -> None:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _drop(self) -> None:
            """The connection ends mid-stream, without the last chunk."""
            self.close_connection = True

        def _watch(self, collection: str, query: dict[str, list[str]]) -> None:
            """ADDED for what exists, then MODIFIED/DELETED as it changes, one JSON per line."""
            self._stream_start("application/json")
            deadline = time.monotonic() + float((query.get("timeoutSeconds") or ["30"])[0])
            seen: dict[str, str] = {}
            while time.monotonic() < deadline and not api.closing:
                current = {
                    n: o
                    for (c, n), o in list(api.objects.items())
                    if c == collection and _matches(o, query)
                }
                events = []
                for n, o in current.items():
                    version = o["metadata"]["resourceVersion"]
                    if seen.get(n) != version:
                        events.append(
                            {"type": "ADDED" if n not in seen else "MODIFIED", "object": o}
                        )
                        seen[n] = version
                for n in [n for n in seen if n not in current]:
                    seen.pop(n)
                    events.append({"type": "DELETED", "object": {"metadata": {"name": n}}})
                try:
                    for event in events:
                        self._chunk(json.dumps(event).encode() + b"\n")
                except OSError:
                    return self._drop()
                with api.changed:
                    api.changed.wait(0.5)
            self._stream_end()

        def _log(self, pod: str, query: dict[str, list[str]]) -> None:
            """The container's log; followed until it ends, or cut where a test says."""
            log = api.logs.get(pod)
            if log is None:
                self._send(404, _status(404, "NotFound", f'pods "{pod}" not found'))
                return
            if not log.started:
                message = (
                    f'container "drift-check" in pod "{pod}" is waiting to start: ContainerCreating'
                )
                self._send(400, _status(400, "BadRequest", message))
                return
            log.connections += 1
            cut = log.drop_after.pop(0) if log.drop_after else None
            follow = query.get("follow") == ["true"]
            self._stream_start("text/plain")
            sent = 0
            while True:
                ended = log.ended  # read before sending: lines written before the end go out
                try:
                    while sent < len(log.lines):
                        if cut is not None and sent >= cut:
                            return self._drop()  # while the container still runs
                        self._chunk(log.lines[sent].encode() + b"\n")
                        sent += 1
                except OSError:
                    return self._drop()
                if not follow or ended or api.closing:
                    return self._stream_end()
                with api.changed:
                    api.changed.wait(0.2)

    return Handler

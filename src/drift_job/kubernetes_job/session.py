"""Waiting for a Job's verdict while its pods' logs stream, one attempt after another.

The watch streams only say *that* something changed; every decision is taken on freshly read
objects, so a dropped watch or log connection delays the verdict but never changes it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from drift_job.errors import InfrastructureError
from drift_job.kubernetes_job.verdict import (
    Verdict,
    container_name,
    container_state,
    judge,
    ordered_pods,
)

#: Seconds between reads when no watch event arrives.
POLL_SECONDS = 5.0
#: After the verdict, how long the log of the last attempt may take to drain.
LOG_DRAIN_SECONDS = 10.0
RECONNECT_PAUSE = 1.0

Json = dict[str, Any]


class Api(Protocol):
    """What waiting needs from :class:`drift_job.kubernetes_job.client.Cluster`."""

    def job(self, name: str) -> Json | None: ...
    def pods(self, job: Json) -> list[Json]: ...
    def log_lines(self, pod: str, container: str, *, follow: bool) -> Any: ...
    def on_change(self, job: str, changed: threading.Event, stop: threading.Event) -> None: ...


class LogFollower:
    """Streams each attempt's log once, in order, labelled; reconnects a dropped stream and
    skips the lines it already printed."""

    def __init__(self, api: Api, container: str, sink: Callable[[str], None]) -> None:
        self.api = api
        self.container = container
        self.sink = sink
        self.pods: list[str] = []
        self.finished: set[str] = set()
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._follow_all, daemon=True)
        self.started = False

    def update(self, pods: Sequence[Mapping[str, Any]]) -> None:
        """Note new attempts and which have ended (from the waiting loop's fresh read)."""
        with self.lock:
            for pod in pods:
                name = pod["metadata"]["name"]
                if name not in self.pods:
                    self.pods.append(name)
                state = container_state(pod, self.container)
                if state.get("terminated") is not None or pod.get("status", {}).get("phase") in (
                    "Succeeded",
                    "Failed",
                ):
                    self.finished.add(name)
        if self.pods and not self.started:
            self.started = True
            self.thread.start()

    def stop(self, timeout: float = LOG_DRAIN_SECONDS) -> None:
        self.done.set()
        if self.started:
            self.thread.join(timeout)

    def _follow_all(self) -> None:
        index = 0
        while True:
            with self.lock:
                pod = self.pods[index] if index < len(self.pods) else None
            if pod is None:
                if self.done.is_set():
                    return
                time.sleep(RECONNECT_PAUSE)
                continue
            self.sink(f"--- attempt {index + 1}: pod {pod} ---")
            self._follow(pod)
            index += 1

    def _follow(self, pod: str) -> None:
        """Follow one attempt until it ends (or a newer one starts, or the verdict is in),
        then read it once more without following: the rest of the log, if anything."""
        printed = 0
        while True:
            printed = self._read(pod, printed, follow=True)
            with self.lock:
                ended = pod in self.finished
                newer = self.pods.index(pod) < len(self.pods) - 1
            if ended or newer or self.done.is_set():
                self._read(pod, printed, follow=False)
                return
            self.done.wait(RECONNECT_PAUSE)

    def _read(self, pod: str, printed: int, *, follow: bool) -> int:
        """One connection: print the lines after the first ``printed``; returns the count."""
        seen = 0
        try:
            for line in self.api.log_lines(pod, self.container, follow=follow):
                seen += 1
                if seen > printed:
                    self.sink(line)
                    printed = seen
        except Exception as error:
            self.sink(f"--- log stream of {pod} interrupted ({error.__class__.__name__}) ---")
        return printed


def wait_for_verdict(
    api: Api,
    job_name: str,
    *,
    pending_timeout: float | None,
    on_stage: Callable[[str, float, Verdict], None],
    log_sink: Callable[[str], None] | None,
    poll: float = POLL_SECONDS,
    wait: bool = True,
) -> Verdict:
    """Read the Job until its verdict is final (or once, when ``wait`` is false)."""
    changed, stop = threading.Event(), threading.Event()
    if wait:
        api.on_change(job_name, changed, stop)
    started = time.monotonic()
    pending_since, pending_pod = started, None
    follower: LogFollower | None = None
    stage = ""
    drain = LOG_DRAIN_SECONDS
    try:
        while True:
            job = api.job(job_name)
            if job is None:
                raise InfrastructureError(
                    f"Job/{job_name} is gone (deleted, or removed by ttlSecondsAfterFinished) "
                    "before its verdict could be read"
                )
            pods = ordered_pods(api.pods(job))
            if log_sink is not None and follower is None:
                follower = LogFollower(api, container_name(job), log_sink)
            if follower is not None:
                follower.update(pods)
            current = pods[-1]["metadata"]["name"] if pods else None
            if current != pending_pod:
                pending_since, pending_pod = time.monotonic(), current
            verdict = judge(
                job,
                pods,
                pending_for=time.monotonic() - pending_since,
                pending_timeout=pending_timeout if wait else None,
            )
            if verdict.stage == "running":
                pending_since = time.monotonic()
            if verdict.stage != stage or verdict.finished:
                stage = verdict.stage
                on_stage(stage, time.monotonic() - started, verdict)
            if verdict.finished or not wait:
                return verdict
            pending_left = (pending_timeout or poll) - (time.monotonic() - pending_since)
            changed.wait(min(poll, max(0.1, pending_left + 0.05)))
            changed.clear()
    except BaseException:
        drain = 0.0  # interrupted or failed: the log's end is not worth waiting for
        raise
    finally:
        stop.set()
        if follower is not None:
            follower.stop(drain)

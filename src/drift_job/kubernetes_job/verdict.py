"""A Job's verdict from its status and its pods', as the API returns them (plain JSON).

The check's own exit codes (1 drift, 2 bad input, 3 transient, 4 migrations) come from the
container's terminated state and pass through unchanged. Everything Kubernetes does to the
Job instead (deadline, eviction, an image that cannot be pulled, a missing Secret key, a pod
that is never scheduled, an OOM kill) becomes 3 with the reason named. Exit 0 is returned
only when the Job says it succeeded and nothing the check left behind says otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from drift_job.errors import ExitCode

#: The container of the chart's Job; a Job without one is judged by its first container.
CONTAINER = "drift-check"
#: The check's own verdicts, returned as they are.
CHECK_CODES = frozenset({0, 1, 2, 3, 4})
#: Waiting reasons that do not resolve by waiting: the Job would only run into its deadline.
STUCK_REASONS = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "ErrImageNeverPull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)
#: Waiting reasons while the kubelet prepares the container (the image pull included).
STARTING_REASONS = frozenset({"ContainerCreating", "PodInitializing"})
#: "... failed with exit code 1 matching FailJob rule at index 0" (the podFailurePolicy message).
EXIT_CODE_IN_MESSAGE = re.compile(r"exit code (\d+)")

Json = Mapping[str, Any]


@dataclass(frozen=True)
class Verdict:
    """Where the Job stands; ``exit_code`` is meaningful once ``finished``."""

    finished: bool
    exit_code: int
    #: pending, pulling image, running or finished (shown as progress).
    stage: str
    #: One line: why the Job ended (or what it is waiting for).
    reason: str
    #: The check's one-line JSON summary from the termination message, when there is one.
    summary: dict[str, Any] | None = None
    #: The termination message when it is not the summary (e.g. the log tail of a crash).
    message: str = ""
    pod: str | None = None
    attempts: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def true_condition(obj: Json, kind: str) -> Json | None:
    """The condition ``kind`` of ``obj`` when its status is "True"."""
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            found: Json = condition
            return found
    return None


def container_name(job: Json) -> str:
    """The check's container in the Job's pod template."""
    containers = job.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []
    names = [c.get("name", "") for c in containers]
    return CONTAINER if CONTAINER in names or not names else str(names[0])


def ordered_pods(pods: Sequence[Json]) -> list[Json]:
    """The Job's pods, one per attempt, oldest first."""
    return sorted(
        pods,
        key=lambda p: (
            p.get("metadata", {}).get("creationTimestamp") or "",
            p.get("metadata", {}).get("name") or "",
        ),
    )


def container_state(pod: Json, container: str) -> Json:
    """``state`` of the check's container in ``pod`` ({} before the kubelet reports it)."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            state: Json = status.get("state") or {}
            return state
    return {}


def parse_summary(message: str) -> dict[str, Any] | None:
    """The check's one-line JSON summary in a termination message (its last such line)."""
    for line in reversed(message.strip().splitlines()):
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict) and isinstance(parsed.get("exit_code"), int):
            return parsed
    return None


def judge(
    job: Json,
    pods: Sequence[Json],
    *,
    pending_for: float = 0.0,
    pending_timeout: float | None = None,
) -> Verdict:
    """The verdict of ``job`` given its pods; ``pending_for`` is how long the current
    attempt has been waiting to run (measured by the caller)."""
    container = container_name(job)
    attempts = ordered_pods(pods)
    last = attempts[-1] if attempts else None
    terminated = container_state(last, container).get("terminated") if last else None
    ended = _ended(job, last, terminated, len(attempts))
    if ended is not None:
        return ended
    return _in_progress(
        job,
        last,
        container=container,
        attempts=len(attempts),
        pending_for=pending_for,
        pending_timeout=pending_timeout,
    )


def _pod_name(pod: Json | None) -> str | None:
    return None if pod is None else pod.get("metadata", {}).get("name")


def _ended(job: Json, last: Json | None, terminated: Json | None, attempts: int) -> Verdict | None:
    """The verdict of a Job that has a final (or, with FailureTarget, an early final) condition."""
    message = str((terminated or {}).get("message") or "")
    summary = parse_summary(message)
    common: dict[str, Any] = {
        "finished": True,
        "stage": "finished",
        "summary": summary,
        "message": "" if summary else message.strip(),
        "pod": _pod_name(last),
        "attempts": attempts,
    }
    failed = true_condition(job, "FailureTarget") or true_condition(job, "Failed")
    succeeded = true_condition(job, "SuccessCriteriaMet") or true_condition(job, "Complete")
    if failed is None and succeeded is not None:
        return _succeeded(terminated, summary, common)
    if failed is None:
        return None
    reason = str(failed.get("reason") or "Failed")
    condition_message = str(failed.get("message") or "")
    code = (terminated or {}).get("exitCode")
    if code is None:
        found = EXIT_CODE_IN_MESSAGE.search(condition_message)
        code = int(found.group(1)) if found and reason == "PodFailurePolicy" else None
    if code in CHECK_CODES - {0}:
        what = f"{reason}: the check exited with {code}"
        return Verdict(exit_code=int(code), reason=what, **common)
    why = [reason]
    if condition_message:
        why.append(condition_message)
    if terminated:
        why.append(f"last attempt: {terminated.get('reason') or 'Error'}, exit code {code}")
    return Verdict(
        exit_code=ExitCode.INFRASTRUCTURE, reason=": ".join(why[:2]) + _tail(why), **common
    )


def _tail(parts: list[str]) -> str:
    return f" ({parts[2]})" if len(parts) > 2 else ""


def _succeeded(
    terminated: Json | None, summary: dict[str, Any] | None, common: dict[str, Any]
) -> Verdict:
    """A Job that reports success: 0, unless the container or the summary disagree."""
    code = (terminated or {}).get("exitCode")
    if code not in (None, 0):
        exit_code = int(code) if code in CHECK_CODES else ExitCode.INFRASTRUCTURE
        reason = f"the Job reports success but its container exited with {code}"
        return Verdict(exit_code=exit_code, reason=reason, **common)
    if summary is not None and summary["exit_code"] != 0:
        code = summary["exit_code"]
        exit_code = code if code in CHECK_CODES else ExitCode.INFRASTRUCTURE
        reason = f"the Job reports success but the check's summary says exit code {code}"
        return Verdict(exit_code=exit_code, reason=reason, **common)
    return Verdict(exit_code=ExitCode.CLEAN, reason="Complete", **common)


def _in_progress(
    job: Json,
    last: Json | None,
    *,
    container: str,
    attempts: int,
    pending_for: float,
    pending_timeout: float | None,
) -> Verdict:
    """A Job still running: its stage, or a stuck state that ends the wait with 3."""
    common: dict[str, Any] = {"pod": _pod_name(last), "attempts": attempts}
    too_long = pending_timeout is not None and pending_for > pending_timeout
    if last is None:
        reason = "waiting for the Job to create its pod"
        if too_long:
            return _stuck(f"no pod created after {pending_for:.0f}s", common)
        return Verdict(finished=False, exit_code=0, stage="pending", reason=reason, **common)
    state = container_state(last, container)
    waiting = state.get("waiting") or {}
    waiting_reason = str(waiting.get("reason") or "")
    if waiting_reason in STUCK_REASONS:
        detail = str(waiting.get("message") or "").strip()
        return _stuck(f"{waiting_reason}: {detail}" if detail else waiting_reason, common)
    if state.get("running") is not None:
        return Verdict(finished=False, exit_code=0, stage="running", reason="running", **common)
    if state.get("terminated") is not None:
        reason = "the pod ended; waiting for the Job's condition"
        if true_condition(last, "DisruptionTarget"):
            reason = "the pod was disrupted (DisruptionTarget); the Job starts another"
        return Verdict(finished=False, exit_code=0, stage="finished", reason=reason, **common)
    scheduled = _condition(last, "PodScheduled")
    if scheduled is not None and scheduled.get("status") == "False":
        reason = f"{scheduled.get('reason') or 'not scheduled'}: {scheduled.get('message') or ''}"
        if too_long:
            return _stuck(f"{reason.strip(': ')} (for more than {pending_timeout:g}s)", common)
        return Verdict(finished=False, exit_code=0, stage="pending", reason=reason, **common)
    stage = "pulling image" if waiting_reason in STARTING_REASONS else "pending"
    if too_long:
        return _stuck(f"the pod did not start within {pending_timeout:g}s ({stage})", common)
    return Verdict(
        finished=False, exit_code=0, stage=stage, reason=waiting_reason or stage, **common
    )


def _condition(obj: Json, kind: str) -> Json | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            found: Json = condition
            return found
    return None


def _stuck(reason: str, common: dict[str, Any]) -> Verdict:
    return Verdict(
        finished=True,
        exit_code=ExitCode.INFRASTRUCTURE,
        stage="finished",
        reason=reason,
        **common,
    )

"""What the Job controller and the kubelet do in each test: sequences of state changes on
the fake API, with the short pauses a real cluster would have between them."""

from __future__ import annotations

import time
from collections.abc import Callable

from fake_api import FakeApi, Json

from drift_job.report import CheckResult, summary_line

Scenario = Callable[[FakeApi, Json], None]
STEP = 0.05
POD_FAILED_BY_RULE = (
    "Container drift-check for pod ci/{pod} failed with exit code {code} matching FailJob rule "
    "at index 0"
)


def summary(status: str, exit_code: int, message: str, differences: int = 0) -> str:
    """The one-line summary the check writes to its termination message."""
    line = summary_line(CheckResult(status=status, exit_code=exit_code, message=message))
    return line.replace('"differences":0', f'"differences":{differences}')


def pause(seconds: float = STEP) -> None:
    time.sleep(seconds)


def start(api: FakeApi, job: Json, attempt: int = 1) -> Json:
    """A pod is created, scheduled, its image pulled, and it runs."""
    pod = api.add_pod(job, attempt)
    pause()
    api.waiting(pod, "ContainerCreating")
    pause()
    api.running(pod)
    pause()
    return pod


def finish(api: FakeApi, job: Json, pod: Json, code: int, line: str) -> None:
    """The container exits with ``code`` and its summary; the Job's conditions follow as
    Kubernetes 1.31+ sets them (SuccessCriteriaMet/FailureTarget first)."""
    api.terminated(pod, code, message=line + "\n")
    pause()
    if code == 0:
        api.condition(
            job,
            "SuccessCriteriaMet",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
        )
        api.condition(
            job, "Complete", "CompletionsReached", "Reached expected number of succeeded pods"
        )
        return
    message = POD_FAILED_BY_RULE.format(pod=pod["metadata"]["name"], code=code)
    api.condition(job, "FailureTarget", "PodFailurePolicy", message)
    pause()
    api.condition(job, "Failed", "PodFailurePolicy", message)


def verdict(code: int, lines: tuple[str, ...] = ()) -> Scenario:
    """One attempt that prints ``lines`` and exits with the check's ``code``."""
    status = {0: "clean", 1: "drift"}.get(code, "error")
    line = summary(
        status, code, "no drift" if code == 0 else "1 difference(s)", differences=int(code == 1)
    )

    def play(api: FakeApi, job: Json) -> None:
        pod = start(api, job)
        for text in lines:
            api.log(pod, text)
            pause(0.02)
        finish(api, job, pod, code, line)

    return play


def attempts(*codes: int) -> Scenario:
    """One attempt per code; the Job retries until a code the podFailurePolicy fails at
    once (1, 2, 4) or a success; 3 on every attempt ends in BackoffLimitExceeded."""

    def play(api: FakeApi, job: Json) -> None:
        for number, code in enumerate(codes, start=1):
            pod = start(api, job, number)
            api.log(pod, f"attempt {number} says hello")
            line = summary("clean" if code == 0 else "error", code, f"exit {code}")
            if code in (0, 1, 2, 4) or number == len(codes):
                if code == 3:
                    api.terminated(pod, 3, message=line + "\n")
                    pause()
                    api.condition(
                        job,
                        "FailureTarget",
                        "BackoffLimitExceeded",
                        "Job has reached the specified backoff limit",
                    )
                    api.condition(
                        job,
                        "Failed",
                        "BackoffLimitExceeded",
                        "Job has reached the specified backoff limit",
                    )
                else:
                    finish(api, job, pod, code, line)
                return
            api.terminated(pod, code, message=line + "\n")
            job["status"]["failed"] = job["status"].get("failed", 0) + 1
            pause()

    return play


def evicted_then(code: int) -> Scenario:
    """The first pod is evicted (DisruptionTarget, ignored by the policy); the second decides."""

    def play(api: FakeApi, job: Json) -> None:
        pod = start(api, job, 1)
        api.log(pod, "first attempt")
        api.disrupted(pod)
        pause()
        second = start(api, job, 2)
        api.log(second, "second attempt")
        finish(api, job, second, code, summary("drift", code, "1 difference(s)", 1))

    return play


def stuck_waiting(reason: str, message: str) -> Scenario:
    """The container never starts (an image that cannot be pulled, a missing Secret key)."""

    def play(api: FakeApi, job: Json) -> None:
        pod = api.add_pod(job, 1)
        pause()
        api.waiting(pod, "ContainerCreating")
        pause()
        api.waiting(pod, reason, message)

    return play


def unschedulable(api: FakeApi, job: Json) -> None:
    pod = api.add_pod(job, 1)
    pause()
    api.unschedulable(
        pod,
        "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
    )


def deadline_exceeded(api: FakeApi, job: Json) -> None:
    """activeDeadlineSeconds passes while the check runs: the pod is killed."""
    pod = start(api, job)
    api.log(pod, "applying migrations")
    pause()
    message = "Job was active longer than specified deadline"
    api.condition(job, "FailureTarget", "DeadlineExceeded", message)
    api.terminated(pod, 143, reason="Error")
    api.condition(job, "Failed", "DeadlineExceeded", message)


def runs_forever(api: FakeApi, job: Json) -> None:
    """A check that never ends by itself (until the Job is deleted)."""
    pod = start(api, job)
    api.log(pod, "applying migrations")


def dropping_log(lines: int, drops: list[int]) -> Scenario:
    """A log written line by line while the stream is cut after ``drops`` lines."""

    def play(api: FakeApi, job: Json) -> None:
        pod = api.add_pod(job, 1)
        api.logs[pod["metadata"]["name"]].drop_after = list(drops)
        pause()
        api.running(pod)
        for number in range(1, lines + 1):
            api.log(pod, f"line {number}")
            pause(0.1)
        finish(api, job, pod, 0, summary("clean", 0, "no drift"))

    return play

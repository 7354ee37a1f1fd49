"""Job and pod states, shaped as the API returns them, → the exit code and the reason named.

Pure: no server involved (the objects are built by the same code the HTTP stand-in serves).
No real cluster was available; the shapes follow the Kubernetes API reference and the Job
controller's behaviour (FailureTarget/SuccessCriteriaMet since 1.31)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import yaml
from fake_api import FakeApi, Json
from scenarios import POD_FAILED_BY_RULE, summary
from test_k8s_run import MINIMAL

from drift_job.kubernetes_job.verdict import judge


@pytest.fixture
def state() -> Iterator[FakeApi]:
    fake = FakeApi()  # never served: only its object builders are used
    yield fake
    fake.server.server_close()


def new_job(api: FakeApi) -> Json:
    return api.store("jobs", yaml.safe_load(MINIMAL.split("---")[1]))


def failed_by_rule(code: int, early_only: bool = False) -> Callable[[FakeApi], Json]:
    def build(api: FakeApi) -> Json:
        job = new_job(api)
        pod = api.add_pod(job, 1)
        api.running(pod)
        api.terminated(pod, code, summary("drift" if code == 1 else "error", code, "m") + "\n")
        message = POD_FAILED_BY_RULE.format(pod=pod["metadata"]["name"], code=code)
        api.condition(job, "FailureTarget", "PodFailurePolicy", message)
        if not early_only:
            api.condition(job, "Failed", "PodFailurePolicy", message)
        return job

    return build


def succeeded(
    code: int = 0, message: str | None = None, legacy: bool = False
) -> Callable[[FakeApi], Json]:
    def build(api: FakeApi) -> Json:
        job = new_job(api)
        pod = api.add_pod(job, 1)
        api.running(pod)
        api.terminated(pod, code, summary("clean", 0, "no drift") if message is None else message)
        if not legacy:
            api.condition(job, "SuccessCriteriaMet", "CompletionsReached")
        api.condition(job, "Complete", "CompletionsReached")
        return job

    return build


def job_failed(
    reason: str, message: str, last_exit: int | None, why: str = "Error"
) -> Callable[[FakeApi], Json]:
    def build(api: FakeApi) -> Json:
        job = new_job(api)
        pod = api.add_pod(job, 1)
        api.running(pod)
        if last_exit is not None:
            api.terminated(pod, last_exit, reason=why)
        api.condition(job, "Failed", reason, message)
        return job

    return build


def waiting(reason: str, message: str = "") -> Callable[[FakeApi], Json]:
    def build(api: FakeApi) -> Json:
        job = new_job(api)
        api.waiting(api.add_pod(job, 1), reason, message or None)
        return job

    return build


def running(api: FakeApi) -> Json:
    job = new_job(api)
    api.running(api.add_pod(job, 1))
    return job


def evicted(api: FakeApi) -> Json:
    job = new_job(api)
    pod = api.add_pod(job, 1)
    api.running(pod)
    api.disrupted(pod)
    return job


def no_pod(api: FakeApi) -> Json:
    return new_job(api)


def unschedulable(api: FakeApi) -> Json:
    job = new_job(api)
    api.unschedulable(
        api.add_pod(job, 1), "0/3 nodes are available: 3 node(s) had untolerated taint."
    )
    return job


CASES = [
    # (id, build, pending_for, finished, exit code, reason starts with)
    ("complete", succeeded(), 0, True, 0, "Complete"),
    ("complete-before-1.31", succeeded(legacy=True), 0, True, 0, "Complete"),
    (
        "complete-but-summary-says-drift",
        succeeded(message=summary("drift", 1, "x")),
        0,
        True,
        1,
        "the Job reports success but the check's summary",
    ),
    (
        "complete-but-container-failed",
        succeeded(code=137),
        0,
        True,
        3,
        "the Job reports success but its container",
    ),
    ("drift", failed_by_rule(1), 0, True, 1, "PodFailurePolicy: the check exited with 1"),
    ("bad-input", failed_by_rule(2), 0, True, 2, "PodFailurePolicy: the check exited with 2"),
    ("migrations", failed_by_rule(4), 0, True, 4, "PodFailurePolicy: the check exited with 4"),
    ("failure-target-only", failed_by_rule(1, early_only=True), 0, True, 1, "PodFailurePolicy"),
    (
        "backoff-transient",
        job_failed("BackoffLimitExceeded", "Job has reached the specified backoff limit", 3),
        0,
        True,
        3,
        "BackoffLimitExceeded: the check exited with 3",
    ),
    (
        "backoff-oom",
        job_failed(
            "BackoffLimitExceeded", "Job has reached the specified backoff limit", 137, "OOMKilled"
        ),
        0,
        True,
        3,
        "BackoffLimitExceeded: Job has reached the specified backoff limit (last attempt: OOMKilled, exit code 137)",
    ),
    (
        "drift-without-pod-failure-policy",
        job_failed("BackoffLimitExceeded", "Job has reached the specified backoff limit", 1),
        0,
        True,
        1,
        "BackoffLimitExceeded: the check exited with 1",
    ),
    (
        "deadline-killed",
        job_failed("DeadlineExceeded", "Job was active longer than specified deadline", 143),
        0,
        True,
        3,
        "DeadlineExceeded",
    ),
    (
        "deadline-still-running",
        job_failed("DeadlineExceeded", "Job was active longer than specified deadline", None),
        0,
        True,
        3,
        "DeadlineExceeded: Job was active longer",
    ),
    (
        "image-pull-backoff",
        waiting("ImagePullBackOff", 'Back-off pulling image "x"'),
        0,
        True,
        3,
        "ImagePullBackOff: Back-off",
    ),
    ("err-image-pull", waiting("ErrImagePull", "rpc error: not found"), 0, True, 3, "ErrImagePull"),
    (
        "invalid-image",
        waiting("InvalidImageName", 'couldn\'t parse image name "x:"'),
        0,
        True,
        3,
        "InvalidImageName",
    ),
    (
        "missing-secret-key",
        waiting("CreateContainerConfigError", "couldn't find key password in Secret ci/pg"),
        0,
        True,
        3,
        "CreateContainerConfigError: couldn't find key password in Secret ci/pg",
    ),
    (
        "missing-secret",
        waiting("CreateContainerConfigError", 'secret "pg" not found'),
        0,
        True,
        3,
        'CreateContainerConfigError: secret "pg" not found',
    ),
    ("pulling", waiting("ContainerCreating"), 5, False, 0, "ContainerCreating"),
    (
        "pulling-too-long",
        waiting("ContainerCreating"),
        400,
        True,
        3,
        "the pod did not start within 300s",
    ),
    ("running", running, 400, False, 0, "running"),
    ("evicted-awaits-retry", evicted, 0, False, 0, "the pod was disrupted (DisruptionTarget)"),
    ("no-pod-yet", no_pod, 5, False, 0, "waiting for the Job to create its pod"),
    ("no-pod-too-long", no_pod, 400, True, 3, "no pod created after 400s"),
    ("unschedulable", unschedulable, 5, False, 0, "Unschedulable: 0/3 nodes"),
    (
        "unschedulable-too-long",
        unschedulable,
        400,
        True,
        3,
        "Unschedulable: 0/3 nodes are available: 3 node(s) had untolerated taint. (for more than 300s)",
    ),
]


@pytest.mark.parametrize(
    ("build", "pending_for", "finished", "code", "reason"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_condition_to_exit_code(state: FakeApi, build, pending_for, finished, code, reason) -> None:  # type: ignore[no-untyped-def]
    job = build(state)
    verdict = judge(job, state.pods_of(job), pending_for=pending_for, pending_timeout=300)
    assert (verdict.finished, verdict.exit_code) == (finished, code), verdict
    assert verdict.reason.startswith(reason), verdict.reason


def test_the_summary_and_a_log_tail_are_kept_apart(state: FakeApi) -> None:
    job = failed_by_rule(1)(state)
    verdict = judge(job, state.pods_of(job))
    assert verdict.summary is not None and verdict.summary["status"] == "drift"
    crashed = job_failed("PodFailurePolicy", "... exit code 2 ...", None)(state)
    pod = state.pods_of(crashed)[0]
    state.terminated(pod, 2, message="Traceback (most recent call last):\n  ...\nImportError: x")
    verdict = judge(crashed, [pod])
    assert verdict.exit_code == 2 and verdict.summary is None
    assert verdict.message.endswith("ImportError: x")  # FallbackToLogsOnError's log tail


def test_the_newest_attempt_decides(state: FakeApi) -> None:
    job = new_job(state)
    first = state.add_pod(job, 1)
    state.running(first)
    state.terminated(first, 3)
    second = state.add_pod(job, 2)
    state.running(second)
    state.terminated(second, 0, summary("clean", 0, "no drift"))
    state.condition(job, "Complete", "CompletionsReached")
    verdict = judge(job, [second, first])
    assert verdict.exit_code == 0 and verdict.attempts == 2
    assert verdict.pod == second["metadata"]["name"]

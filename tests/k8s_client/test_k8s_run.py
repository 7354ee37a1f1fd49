"""``drift-check k8s run`` and ``k8s verdict`` against an HTTP Kubernetes API stand-in: no
real cluster was available on these machines (see fake_api.py). The official client talks
to it over a real socket through a kubeconfig."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import scenarios
import yaml
from fake_api import FakeApi

MINIMAL = """
apiVersion: v1
kind: ConfigMap
metadata: {name: check-settings}
data: {POSTGRES_HOST: db.example}
---
apiVersion: batch/v1
kind: Job
metadata: {name: check}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: drift-check
          image: drift-check:0.1.0
          envFrom: [{configMapRef: {name: check-settings}}]
"""


def base_names(api: FakeApi) -> list[tuple[str, str]]:
    return [(o["kind"], o["metadata"]["name"].rsplit("-", 1)[0]) for o in api.created]


def test_clean_run_from_chart_defaults(api: FakeApi, k8s) -> None:  # type: ignore[no-untyped-def]
    api.scenario = scenarios.verdict(0, ("drift-check 0.1.0", "no drift"))
    out = k8s("run", "--host", "db.example", "--existing-secret", "pg")
    assert out.code == 0, out.stderr
    assert "  | no drift" in out.stdout
    assert "clean (exit 0): Complete" in out.stdout
    assert json.loads(out.stdout.splitlines()[-1])["status"] == "clean"
    assert base_names(api) == [("ConfigMap", "drift-check"), ("Job", "drift-check")]
    # the Job first, in the foreground (its pods go first), then what it used
    assert [(k, p) for k, _, p in api.deleted] == [
        ("Job", "Foreground"),
        ("ConfigMap", "Foreground"),
    ]
    assert not api.objects


def test_drift_from_manifests_as_json(api: FakeApi, k8s) -> None:  # type: ignore[no-untyped-def]
    api.scenario = scenarios.verdict(1, ("1 difference", "add_column shop.note"))
    out = k8s("run", "-f", "-", "--format", "json", stdin=MINIMAL)
    assert out.code == 1, out.stderr
    verdict = json.loads(out.stdout)  # stdout holds only the verdict; the log went to stderr
    assert verdict["exit_code"] == 1 and verdict["status"] == "drift"
    assert verdict["reason"] == "PodFailurePolicy: the check exited with 1"
    assert verdict["summary"]["differences"] == 1
    assert "  | add_column shop.note" in out.stderr
    job = next(o for o in api.created if o["kind"] == "Job")
    config_map = next(o for o in api.created if o["kind"] == "ConfigMap")
    ref = job["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]
    assert ref["name"] == config_map["metadata"]["name"] != "check-settings"


def test_retries_are_followed_and_labelled(api: FakeApi, k8s) -> None:  # type: ignore[no-untyped-def]
    api.scenario = scenarios.attempts(3, 0)
    out = k8s("run", "-f", "-", stdin=MINIMAL)
    assert out.code == 0, out.stderr
    log = [line for line in out.stdout.splitlines() if line.startswith("  | ")]
    assert (
        log[0].startswith("  | --- attempt 1: pod check-") and log[1] == "  | attempt 1 says hello"
    )
    assert (
        log[2].startswith("  | --- attempt 2: pod check-") and log[3] == "  | attempt 2 says hello"
    )
    assert len(log) == 4


def test_a_log_stream_that_drops_mid_run_is_resumed(api: FakeApi, k8s) -> None:  # type: ignore[no-untyped-def]
    api.scenario = scenarios.dropping_log(12, [2, 5])
    out = k8s("run", "-f", "-", stdin=MINIMAL)
    assert out.code == 0, out.stderr
    lines = [line[4:] for line in out.stdout.splitlines() if line.startswith("  | line ")]
    assert lines == [f"line {n}" for n in range(1, 13)]  # each once, in order
    pod = next(iter(api.logs.values()))
    assert pod.connections >= 3
    # urllib3 2 reports each cut as an error; urllib3 1.26 may see a clean end of the stream
    assert 1 <= out.stdout.count("interrupted (") <= 2


@pytest.mark.parametrize(
    ("scenario", "flags", "reason"),
    [
        (
            scenarios.stuck_waiting(
                "ImagePullBackOff", 'Back-off pulling image "drift-check:0.1.0"'
            ),
            (),
            'ImagePullBackOff: Back-off pulling image "drift-check:0.1.0"',
        ),
        (
            scenarios.stuck_waiting(
                "CreateContainerConfigError", "couldn't find key password in Secret ci/pg"
            ),
            (),
            "CreateContainerConfigError: couldn't find key password in Secret ci/pg",
        ),
        (
            scenarios.unschedulable,
            ("--pending-timeout", "1s"),
            "Unschedulable: 0/3 nodes are available: 3 Insufficient memory.",
        ),
        (
            scenarios.deadline_exceeded,
            (),
            "DeadlineExceeded: Job was active longer than specified deadline",
        ),
        (scenarios.attempts(3, 3, 3), (), "BackoffLimitExceeded: the check exited with 3"),
    ],
    ids=["image-pull", "missing-secret-key", "unschedulable", "deadline", "backoff-limit"],
)
def test_kubernetes_side_failures_are_3_with_the_reason(  # type: ignore[no-untyped-def]
    api: FakeApi, k8s, scenario, flags, reason
) -> None:
    api.scenario = scenario
    out = k8s("run", "-f", "-", "--format", "json", *flags, stdin=MINIMAL)
    verdict = json.loads(out.stdout)
    assert out.code == 3 and verdict["exit_code"] == 3, out.stderr
    assert verdict["reason"].startswith(reason), verdict["reason"]
    assert [k for k, _, _ in api.deleted] == ["Job", "ConfigMap"]


def test_an_eviction_is_retried_and_the_next_attempt_decides(api: FakeApi, k8s) -> None:  # type: ignore[no-untyped-def]
    api.scenario = scenarios.evicted_then(1)
    out = k8s("run", "-f", "-", stdin=MINIMAL)
    assert out.code == 1, out.stderr
    assert "  | first attempt" in out.stdout and "  | second attempt" in out.stdout


def test_keep_leaves_the_objects(api: FakeApi, k8s) -> None:  # type: ignore[no-untyped-def]
    api.scenario = scenarios.verdict(0)
    out = k8s("run", "-f", "-", "--keep", stdin=MINIMAL)
    assert out.code == 0, out.stderr
    assert api.deleted == []
    assert sorted(k for (c, _), o in api.objects.items() for k in [o["kind"]] if c != "pods") == [
        "ConfigMap",
        "Job",
    ]


def test_verdict_of_an_existing_job(api: FakeApi, k8s) -> None:  # type: ignore[no-untyped-def]
    job = api.store("jobs", yaml.safe_load(MINIMAL.split("---")[1]))
    scenarios.verdict(4, ("upgrade failed at 0002",))(api, job)
    out = k8s("verdict", "check")
    assert out.code == 4, out.stderr
    assert "  | upgrade failed at 0002" in out.stdout
    assert "error (exit 4): PodFailurePolicy: the check exited with 4" in out.stdout
    assert api.deleted == []  # verdict only reads


def test_verdict_waits_when_asked(api: FakeApi, k8s) -> None:  # type: ignore[no-untyped-def]
    job = api.store("jobs", yaml.safe_load(MINIMAL.split("---")[1]))
    pod = scenarios.start(api, job)
    early = k8s("verdict", "check", "--no-logs")
    assert early.code == 3 and "not finished (running" in early.stderr
    line = scenarios.summary("clean", 0, "no drift")
    threading.Timer(0.5, scenarios.finish, args=(api, job, pod, 0, line)).start()
    out = k8s("verdict", "check", "--wait", "--format", "json")
    assert out.code == 0, out.stderr
    assert json.loads(out.stdout)["summary"]["message"] == "no drift"


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (("verdict", "nope"), "", 2, "no Job/nope in namespace ci"),
        (("run",), "", 2, "--host is required without -f"),
        (
            ("run", "-f", "-"),
            "kind: Deployment\nmetadata: {name: web}\n",
            2,
            "Deployment/web is not something a check creates",
        ),
        (("run", "-f", "-"), "a: [", 2, "stdin: not YAML"),
        (
            ("run", "-f", "-", "--host", "db"),
            MINIMAL,
            2,
            "the manifests carry the settings; drop --host",
        ),
        (("run", "-f", "/nonexistent.yaml"), "", 2, "/nonexistent.yaml: No such file or directory"),
        (("run", "--host", "db", "--pending-timeout", "soon"), "", 2, "--pending-timeout"),
    ],
)
def test_bad_input_is_one_line_and_2(api: FakeApi, k8s, args, stdin, code, message) -> None:  # type: ignore[no-untyped-def]
    out = k8s(*args, stdin=stdin)
    assert out.code == code, out.stderr
    assert message in out.stderr
    assert "Traceback" not in out.stderr and api.created == []


def test_unreachable_api_is_3(tmp_path: Path, k8s, api: FakeApi) -> None:  # type: ignore[no-untyped-def]
    api.close()
    out = k8s("verdict", "check")
    assert out.code == 3, out.stderr
    assert "the Kubernetes API is unreachable" in out.stderr


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_deletes_the_job_and_exits_128_plus_it(api: FakeApi, k8s, signum, code) -> None:  # type: ignore[no-untyped-def]
    """Sent to this very process while ``k8s run`` waits in it (its handler is installed)."""
    api.scenario = scenarios.runs_forever

    def interrupt() -> None:
        deadline = time.monotonic() + 60
        while not any(
            line == "applying migrations" for log in api.logs.values() for line in log.lines
        ):
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        time.sleep(0.5)  # the log is being followed
        if signal.getsignal(signum) not in (signal.default_int_handler, signal.SIG_DFL):
            os.kill(os.getpid(), signum)

    threading.Thread(target=interrupt, daemon=True).start()
    out = k8s("run", "-f", "-", stdin=MINIMAL)
    assert out.code == code, out.stderr
    assert f"interrupted by {signal.Signals(signum).name}" in out.stderr
    assert "deleted Job/check-" in out.stderr
    assert [(k, p) for k, _, p in api.deleted] == [
        ("Job", "Foreground"),
        ("ConfigMap", "Foreground"),
    ]


def test_dry_run_shows_a_secret_s_keys_never_its_values(api: FakeApi, k8s) -> None:  # type: ignore[no-untyped-def]
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: pg}\ndata: {password: aHVudGVyMg==}\n---\n"
    )
    out = k8s("run", "-f", "-", "--dry-run", stdin=secret + MINIMAL)
    assert out.code == 0, out.stderr
    shown = {d["kind"]: d for d in yaml.safe_load_all(out.stdout)}
    assert shown["Secret"]["data"] == {"password": "***"}
    assert "aHVudGVyMg" not in out.stdout + out.stderr and api.created == []


def test_on_a_terminal_the_stages_are_shown_with_the_time(api: FakeApi, k8s, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def slow(api: FakeApi, job: dict) -> None:  # type: ignore[type-arg]
        pod = api.add_pod(job, 1)
        scenarios.pause(0.6)
        api.waiting(pod, "ContainerCreating")
        scenarios.pause(0.6)
        api.running(pod)
        scenarios.pause(0.6)
        scenarios.finish(api, job, pod, 0, scenarios.summary("clean", 0, "no drift"))

    api.scenario = slow
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    out = k8s("run", "-f", "-", stdin=MINIMAL)
    assert out.code == 0, out.stderr
    shown = [line.split("  ") for line in out.stderr.splitlines() if " s  " in line]
    stages = [parts[-2].strip() for parts in shown]
    assert stages[:3] == ["pending", "pulling image", "running"], out.stderr
    assert stages[-1] == "finished"
    seconds = [float(line.split()[0]) for line in out.stderr.splitlines() if " s  " in line]
    assert seconds == sorted(seconds) and seconds[2] >= 1.0

"""Pod run test: the chart's rendered Job, run as the kubelet would run it, judged as the Job
controller would judge it, against a real PostgreSQL server.

These machines cannot run a Kubernetes cluster (no API server, kubelet or container runtime),
so this test stands in for one:

* the kubelet part (:class:`Kubelet`) sets the container up from the rendered objects: the
  environment from ``envFrom`` (ConfigMap/Secret) and ``env`` (values with ``$(VAR)``
  expansion, ``secretKeyRef``/``configMapKeyRef``), Secret/ConfigMap/emptyDir volumes written
  as files at their mount paths (remapped into a temporary directory; environment values that
  point into a mount are rewritten accordingly), the working directory, and the command line
  from ``command``/``args`` over the image's ENTRYPOINT/CMD. The image's working directory
  ``/app`` holds the bundled reference project; the repository root takes its place. The
  installed ``drift-check`` console script takes the place of the image's.
* the termination message file (``/dev/termination-log``) is created like the kubelet does;
  because the host has no such file, the tool is pointed at the remapped one with
  DRIFT_TERMINATION_MESSAGE_PATH, standing in for its own detection of /dev/termination-log.
  FallbackToLogsOnError is applied when the file stays empty after a failure.
* the Job controller part (:func:`job_outcome`) runs pods until the Job is Complete or Failed,
  through the rendered podFailurePolicy (first matching rule wins; FailJob, Ignore, Count),
  backoffLimit and activeDeadlineSeconds (with the controller's exponential back-off delays
  counted as time, not slept).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from chart_support import K8S_DIR, REPO_ROOT, Helm, Manifests, kustomize, merge

#: What the image contributes (image/Dockerfile): ENTRYPOINT, CMD, WORKDIR and ENV.
IMAGE_ENTRYPOINT = ["drift-check"]
IMAGE_CMD = ["check"]
IMAGE_WORKDIR = "/app"
IMAGE_ENV = {"HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
#: The kubelet keeps at most this much of the log as a fallback termination message.
FALLBACK_LOG_LINES = 80
FALLBACK_LOG_BYTES = 2048
DB_PREFIX = "helm_pod_run"
VAR_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


# ---------------------------------------------------------------------------------------------
# the kubelet's part
# ---------------------------------------------------------------------------------------------


@dataclass
class ContainerStatus:
    name: str
    exit_code: int


@dataclass
class PodResult:
    """A finished pod: what `kubectl get pod -o yaml` and `kubectl logs` would show."""

    container_statuses: list[ContainerStatus]
    logs: str
    termination_message: str
    conditions: list[dict[str, str]] = field(default_factory=list)
    duration: float = 0.0

    @property
    def exit_code(self) -> int:
        return self.container_statuses[-1].exit_code

    @property
    def summary(self) -> dict[str, Any]:
        """The tool's one-line JSON summary from the termination message."""
        loaded: dict[str, Any] = json.loads(self.termination_message)
        return loaded


def _object_data(document: Mapping[str, Any]) -> dict[str, bytes]:
    """The data of a Secret or ConfigMap as bytes per key."""
    data: dict[str, bytes] = {}
    if document["kind"] == "Secret":
        for key, value in (document.get("data") or {}).items():
            data[key] = base64.b64decode(value)
        for key, value in (document.get("stringData") or {}).items():
            data[key] = str(value).encode()
    else:
        for key, value in (document.get("data") or {}).items():
            data[key] = str(value).encode()
        for key, value in (document.get("binaryData") or {}).items():
            data[key] = base64.b64decode(value)
    return data


class Kubelet:
    """Sets up and runs the one container of a pod spec on this machine."""

    def __init__(self, objects: Sequence[Mapping[str, Any]], root: Path, executable: Path) -> None:
        self.objects = {(d["kind"], d["metadata"]["name"]): d for d in objects}
        self.root = root
        self.executable = executable
        self.mounts: dict[str, Path] = {IMAGE_WORKDIR: REPO_ROOT}

    def _source(self, kind: str, name: str, optional: bool) -> dict[str, bytes] | None:
        document = self.objects.get((kind, name))
        if document is None:
            if optional:
                return None
            pytest.fail(f"the pod would not start: {kind} {name} does not exist", pytrace=False)
        return _object_data(document)

    def host_path(self, container_path: str) -> Path:
        """Where a container path lives on this machine (the longest matching mount)."""
        best = max(
            (
                m
                for m in self.mounts
                if container_path == m or container_path.startswith(m.rstrip("/") + "/")
            ),
            key=len,
            default=None,
        )
        if best is None:
            return self.root / container_path.lstrip("/")
        relative = container_path[len(best) :].lstrip("/")
        return self.mounts[best] / relative if relative else self.mounts[best]

    def _project_volume(self, volume: Mapping[str, Any], target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        if "emptyDir" in volume:
            return
        if "secret" in volume:
            spec = volume["secret"]
            data = self._source("Secret", spec["secretName"], spec.get("optional", False))
        elif "configMap" in volume:
            spec = volume["configMap"]
            data = self._source("ConfigMap", spec["name"], spec.get("optional", False))
        else:
            pytest.fail(f"volume type not emulated: {sorted(volume)}", pytrace=False)
        if data is None:
            return
        items = spec.get("items") or [{"key": key, "path": key} for key in data]
        for item in items:
            if item["key"] not in data:
                pytest.fail(f"the pod would not start: no key {item['key']}", pytrace=False)
            path = target / item["path"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data[item["key"]])
            path.chmod(item.get("mode", spec.get("defaultMode", 0o644)))

    def _expand(self, text: str, env: Mapping[str, str]) -> str:
        """$(VAR) references to variables defined earlier; $$ escapes; unknown ones stay."""

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name = match.group(1)
            return env.get(name, match.group(0))

        return VAR_REFERENCE.sub(replace, text)

    def _environment(self, container: Mapping[str, Any], pod_name: str) -> dict[str, str]:
        env = dict(IMAGE_ENV)
        for source in container.get("envFrom", []):
            prefix = source.get("prefix", "")
            if "configMapRef" in source:
                ref = source["configMapRef"]
                data = self._source("ConfigMap", ref["name"], ref.get("optional", False))
            else:
                ref = source["secretRef"]
                data = self._source("Secret", ref["name"], ref.get("optional", False))
            for key, value in (data or {}).items():
                env[prefix + key] = value.decode()
        for entry in container.get("env", []):
            if "value" in entry:
                env[entry["name"]] = self._expand(entry["value"], env)
                continue
            source = entry.get("valueFrom", {})
            if "secretKeyRef" in source or "configMapKeyRef" in source:
                kind, ref = (
                    ("Secret", source["secretKeyRef"])
                    if "secretKeyRef" in source
                    else ("ConfigMap", source["configMapKeyRef"])
                )
                data = self._source(kind, ref["name"], ref.get("optional", False)) or {}
                if ref["key"] in data:
                    env[entry["name"]] = data[ref["key"]].decode()
                elif not ref.get("optional", False):
                    pytest.fail(f"the pod would not start: no key {ref['key']}", pytrace=False)
            elif source.get("fieldRef", {}).get("fieldPath") == "metadata.name":
                env[entry["name"]] = pod_name
            else:
                pytest.fail(f"env source not emulated: {entry}", pytrace=False)
        return env

    def _to_host(self, value: str) -> str:
        """An absolute path into a mount becomes the host path; anything else is kept."""
        if value.startswith("/") and any(
            value == m or value.startswith(m.rstrip("/") + "/") for m in self.mounts
        ):
            return str(self.host_path(value))
        return value

    def run(
        self,
        pod_spec: Mapping[str, Any],
        container_name: str,
        pod_name: str,
        prepare: Callable[[Kubelet], None] | None = None,
        timeout: float = 120,
    ) -> PodResult:
        """Start the container of a fresh pod and wait for it to terminate."""
        (container,) = [c for c in pod_spec["containers"] if c["name"] == container_name]
        pod_root = self.root / pod_name
        self.mounts = {IMAGE_WORKDIR: REPO_ROOT}
        volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
        for mount in container.get("volumeMounts", []):
            volume_dir = pod_root / "volumes" / mount["name"]
            if not volume_dir.exists():
                self._project_volume(volumes[mount["name"]], volume_dir)
            self.mounts[mount["mountPath"]] = volume_dir / mount.get("subPath", "")
        # the kubelet creates the termination message file and mounts it into the container
        message_path = container.get("terminationMessagePath", "/dev/termination-log")
        message_file = pod_root / "termination-log"
        message_file.write_text("")
        message_file.chmod(0o666)
        self.mounts[message_path] = message_file
        if prepare is not None:  # what the init containers would have done
            prepare(self)

        env = self._environment(container, pod_name)
        command = [self._expand(a, env) for a in container.get("command") or IMAGE_ENTRYPOINT]
        args = [self._expand(a, env) for a in container.get("args") or IMAGE_CMD]
        host_env = {key: self._to_host(value) for key, value in env.items()}
        host_env["PATH"] = f"{self.executable.parent}{os.pathsep}/usr/bin{os.pathsep}/bin"
        # stands in for the tool finding /dev/termination-log itself (see the module docstring)
        host_env.setdefault("DRIFT_TERMINATION_MESSAGE_PATH", str(message_file))
        if command[0] == IMAGE_ENTRYPOINT[0]:
            command[0] = str(self.executable)
        working_dir = self.host_path(container.get("workingDir") or IMAGE_WORKDIR)

        started = time.monotonic()
        completed = subprocess.run(
            [*command, *(self._to_host(a) for a in args)],
            cwd=working_dir,
            env=host_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        logs = completed.stdout + completed.stderr
        message = message_file.read_text()
        if (
            not message.strip()
            and completed.returncode != 0
            and container.get("terminationMessagePolicy") == "FallbackToLogsOnError"
        ):
            tail = "\n".join(logs.splitlines()[-FALLBACK_LOG_LINES:])
            message = tail.encode()[-FALLBACK_LOG_BYTES:].decode(errors="replace")
        return PodResult(
            container_statuses=[ContainerStatus(container_name, completed.returncode)],
            logs=logs,
            termination_message=message,
            duration=time.monotonic() - started,
        )


# ---------------------------------------------------------------------------------------------
# the Job controller's part
# ---------------------------------------------------------------------------------------------

POD_FAILURE_ACTIONS = {"FailJob", "FailIndex", "Ignore", "Count"}


@dataclass
class JobOutcome:
    condition: str  # Complete or Failed
    reason: str
    message: str
    pods: list[PodResult]


def matching_rule(rules: list[Mapping[str, Any]], pod: PodResult) -> tuple[int | None, str]:
    """The first podFailurePolicy rule matching a failed pod, and its action ("Count" if none)."""
    for index, rule in enumerate(rules):
        if rule["action"] not in POD_FAILURE_ACTIONS:
            raise ValueError(f"podFailurePolicy rule {index}: unknown action {rule['action']!r}")
        requirement = rule.get("onExitCodes")
        if requirement is not None:
            operator = requirement["operator"]
            if operator not in {"In", "NotIn"}:
                raise ValueError(f"podFailurePolicy rule {index}: unknown operator {operator!r}")
            for status in pod.container_statuses:
                if requirement.get("containerName") not in (None, status.name):
                    continue
                if status.exit_code == 0:  # succeeded containers never match
                    continue
                if (status.exit_code in requirement["values"]) == (operator == "In"):
                    return index, rule["action"]
        for pattern in rule.get("onPodConditions", []):
            for condition in pod.conditions:
                if condition["type"] == pattern["type"] and condition["status"] == pattern.get(
                    "status", "True"
                ):
                    return index, rule["action"]
    return None, "Count"


def backoff_delay(failures: int) -> float:
    """The Job controller's delay before re-creating a pod after ``failures`` failures."""
    return float(min(10 * 2 ** (failures - 1), 360)) if failures else 0.0


def job_outcome(job: Mapping[str, Any], run_pod: Callable[[int], PodResult]) -> JobOutcome:
    """Run pods as the Job controller would (completions 1, parallelism 1) until it finishes."""
    spec = job["spec"]
    backoff_limit = spec.get("backoffLimit", 6)
    deadline = spec.get("activeDeadlineSeconds")
    rules = (spec.get("podFailurePolicy") or {}).get("rules", [])
    failures = 0
    elapsed = 0.0
    pods: list[PodResult] = []
    for attempt in itertools.count():
        if attempt > 20:
            raise AssertionError("the Job never finishes (Ignore rule matching every pod?)")
        elapsed += backoff_delay(failures) if attempt else 0.0
        if deadline is not None and elapsed >= deadline:
            return JobOutcome(
                "Failed", "DeadlineExceeded", "Job was active longer than specified deadline", pods
            )
        pod = run_pod(attempt)
        pods.append(pod)
        elapsed += pod.duration
        if deadline is not None and elapsed >= deadline:
            return JobOutcome(
                "Failed", "DeadlineExceeded", "Job was active longer than specified deadline", pods
            )
        if pod.exit_code == 0:
            return JobOutcome("Complete", "", "", pods)
        index, action = matching_rule(rules, pod)
        if action in {"FailJob", "FailIndex"}:
            status = next(s for s in pod.container_statuses if s.exit_code != 0)
            message = (
                f"Container {status.name} for pod {attempt} failed with exit code "
                f"{status.exit_code} matching FailJob rule at index {index}"
            )
            return JobOutcome("Failed", "PodFailurePolicy", message, pods)
        if action == "Ignore":
            continue
        failures += 1
        if failures > backoff_limit:
            return JobOutcome(
                "Failed",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
                pods,
            )
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------------------------
# the evaluator on its own (no processes)
# ---------------------------------------------------------------------------------------------


def _pod(code: int, *conditions: str) -> PodResult:
    return PodResult(
        [ContainerStatus("drift-check", code)],
        logs="",
        termination_message="",
        conditions=[{"type": c, "status": "True"} for c in conditions],
        duration=1.0,
    )


def _scripted(*pods: PodResult) -> Callable[[int], PodResult]:
    return lambda attempt: pods[attempt]


@pytest.mark.parametrize(
    ("pods", "condition", "reason", "attempts"),
    [
        ([_pod(0)], "Complete", "", 1),
        ([_pod(1)], "Failed", "PodFailurePolicy", 1),
        ([_pod(2)], "Failed", "PodFailurePolicy", 1),
        ([_pod(4)], "Failed", "PodFailurePolicy", 1),
        ([_pod(3), _pod(3), _pod(3)], "Failed", "BackoffLimitExceeded", 3),
        ([_pod(3), _pod(0)], "Complete", "", 2),
        ([_pod(137), _pod(3), _pod(137)], "Failed", "BackoffLimitExceeded", 3),
        # an eviction (SIGTERM, 143) is ignored and does not use up a retry
        ([_pod(143, "DisruptionTarget"), _pod(3), _pod(3), _pod(0)], "Complete", "", 4),
        ([_pod(143, "DisruptionTarget"), _pod(1)], "Failed", "PodFailurePolicy", 2),
    ],
    ids=["clean", "drift", "bad-input", "migrations", "transient", "transient-then-clean",
         "oom-counts", "eviction-ignored", "eviction-then-drift"],
)  # fmt: skip
def test_evaluator_with_the_chart_policy(
    helm4: Helm, pods: list[PodResult], condition: str, reason: str, attempts: int
) -> None:
    job = helm4.template({"postgres": {"host": "db"}}).job
    outcome = job_outcome(job, _scripted(*pods))
    assert (outcome.condition, outcome.reason, len(outcome.pods)) == (condition, reason, attempts)


def test_evaluator_without_pod_failure_policy(helm4: Helm) -> None:
    """Why the policy matters: without it a drift is retried until backoffLimit."""
    job = helm4.template({"postgres": {"host": "db"}, "job": {"podFailurePolicy": False}}).job
    outcome = job_outcome(job, _scripted(_pod(1), _pod(1), _pod(1)))
    assert (outcome.condition, outcome.reason, len(outcome.pods)) == (
        "Failed",
        "BackoffLimitExceeded",
        3,
    )


def test_evaluator_deadline(helm4: Helm) -> None:
    """Back-off delays count: 3 fast failures need 10 s + 20 s of waiting."""
    job = helm4.template(
        {"postgres": {"host": "db"}, "job": {"activeDeadlineSeconds": 25}, "drift": {"timeout": 20}}
    ).job
    outcome = job_outcome(job, _scripted(_pod(3), _pod(3), _pod(3)))
    assert (outcome.condition, outcome.reason, len(outcome.pods)) == (
        "Failed",
        "DeadlineExceeded",
        2,
    )


def test_evaluator_message_names_the_rule(helm4: Helm) -> None:
    outcome = job_outcome(helm4.template({"postgres": {"host": "db"}}).job, _scripted(_pod(4)))
    assert outcome.message == (
        "Container drift-check for pod 0 failed with exit code 4 matching FailJob rule at index 0"
    )


def test_evaluator_rejects_unknown_actions() -> None:
    with pytest.raises(ValueError, match="Explode"):
        matching_rule(
            [{"action": "Explode", "onExitCodes": {"operator": "In", "values": [1]}}], _pod(1)
        )


# ---------------------------------------------------------------------------------------------
# the real thing: rendered Job + real drift-check + real PostgreSQL
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def executable() -> Path:
    """The installed drift-check console script (the image's ENTRYPOINT)."""
    found = shutil.which("drift-check", path=str(Path(sys.executable).parent)) or shutil.which(
        "drift-check"
    )
    if found is None:
        pytest.skip("the drift-check console script is not installed (pip install -e .)")
    return Path(found)


def server_values(pg_server: Any, **overrides: Any) -> dict[str, Any]:
    values = {
        "postgres": {
            "host": pg_server.host,
            "port": pg_server.port,
            "user": pg_server.superuser,
            "password": pg_server.password,
        },
        "drift": {"dbPrefix": DB_PREFIX, "connectTimeout": 5},
    }
    return merge(values, overrides)


def no_secret_in(pod: PodResult, secrets: Sequence[str], where: str) -> None:
    """Fails, without echoing it, when a secret is in the pod's logs or termination message.

    Runs before any assertion on the output: pytest prints the operands of a failed assertion.
    """
    for secret in secrets:
        for text, part in ((pod.logs, "logs"), (pod.termination_message, "termination message")):
            if secret and secret in text:
                pytest.fail(f"a password appears in the {part} of {where}", pytrace=False)


def run_job(
    manifests: Manifests,
    root: Path,
    executable: Path,
    secrets: Sequence[str],
    extra_objects: Sequence[Mapping[str, Any]] = (),
    prepare: Callable[[Kubelet], None] | None = None,
) -> JobOutcome:
    """Run the rendered Job to its end; no pod may show any of ``secrets``."""
    kubelet = Kubelet([*manifests.documents, *extra_objects], root, executable)
    job = manifests.job

    def run_pod(attempt: int) -> PodResult:
        pod_name = f"{job['metadata']['name']}-{attempt}"
        pod = kubelet.run(job["spec"]["template"]["spec"], "drift-check", pod_name, prepare)
        no_secret_in(pod, secrets, f"pod {pod_name}")
        return pod

    return job_outcome(job, run_pod)


def test_secret_check_does_not_echo_the_secret() -> None:
    pod = _pod(2)
    pod.logs = "drift-check: cannot log in with s3cr3t-value"
    with pytest.raises(pytest.fail.Exception) as caught:
        no_secret_in(pod, ["s3cr3t-value"], "pod x")
    assert "s3cr3t-value" not in str(caught.value)
    assert "logs of pod x" in str(caught.value)


def leftovers(pg_server: Any) -> list[str]:
    """Temporary databases of these tests still on the server (kept out of assertion
    explanations: the server object's repr includes its password)."""
    found: list[str] = pg_server.databases(prefix=DB_PREFIX)
    return found


@pytest.mark.parametrize("use_password_file", [True, False], ids=["password-file", "password-env"])
def test_clean_project_completes(
    helm4: Helm,
    pg_server: Any,
    executable: Path,
    tmp_path: Path,
    use_password_file: bool,
) -> None:
    manifests = helm4.template(
        server_values(pg_server, postgres={"usePasswordFile": use_password_file})
    )
    outcome = run_job(manifests, tmp_path, executable, [pg_server.password])
    (pod,) = outcome.pods
    assert (outcome.condition, pod.exit_code) == ("Complete", 0), pod.logs
    assert pod.summary["status"] == "clean"
    assert pod.summary["exit_code"] == 0
    assert pod.summary["temporary_database"].startswith(DB_PREFIX + "_")
    assert "no drift" in pod.logs
    assert leftovers(pg_server) == []


def _drifted_project(kubelet: Kubelet) -> None:
    """What the init container would do: put the project, with one model column the
    migrations do not create, into the workspace."""
    project = kubelet.host_path("/workspace/project")
    project.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "alembic.ini", project / "alembic.ini")
    shutil.copytree(
        REPO_ROOT / "examples", project / "examples", ignore=shutil.ignore_patterns("__pycache__")
    )
    models = project / "examples" / "bookshop" / "models.py"
    models.write_text(
        models.read_text(encoding="utf-8")
        + "\n\n# added by the pod run test: a column that no migration creates\n"
        + "import sqlalchemy as _sa  # noqa: E402\n"
        + "from sqlmodel import SQLModel as _SQLModel  # noqa: E402\n\n"
        + "_table = _SQLModel.metadata.tables[sorted(_SQLModel.metadata.tables)[0]]\n"
        + '_table.append_column(_sa.Column("drift_probe_note", _sa.Text, nullable=True))\n',
        encoding="utf-8",
    )


def test_drift_fails_the_job_at_once(
    helm4: Helm,
    pg_server: Any,
    executable: Path,
    tmp_path: Path,
) -> None:
    manifests = helm4.template(
        server_values(
            pg_server, workspace={"enabled": True}, drift={"projectDir": "/workspace/project"}
        )
    )
    assert manifests.config["DRIFT_PROJECT_DIR"] == "/workspace/project"
    outcome = run_job(
        manifests, tmp_path, executable, [pg_server.password], prepare=_drifted_project
    )
    (pod,) = outcome.pods  # no retry: the verdict is final
    assert (outcome.condition, outcome.reason, pod.exit_code) == (
        "Failed",
        "PodFailurePolicy",
        1,
    ), pod.logs
    assert "matching FailJob rule at index 0" in outcome.message
    assert pod.summary["status"] == "drift"
    assert pod.summary["differences"] >= 1
    assert "drift_probe_note" in pod.logs
    assert leftovers(pg_server) == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_app_database_is_never_connected_to(
    helm4: Helm,
    pg_server: Any,
    executable: Path,
    tmp_path: Path,
) -> None:
    """postgres.database names the application's database, which need not even exist on this
    server: CREATE/DROP go through postgres.maintenanceDatabase."""
    manifests = helm4.template(
        server_values(
            pg_server,
            postgres={"database": "pod_run_app_absent", "maintenanceDatabase": "postgres"},
        )
    )
    assert manifests.config["POSTGRES_DB"] == "pod_run_app_absent"
    assert manifests.config["DRIFT_MAINTENANCE_DB"] == "postgres"
    outcome = run_job(manifests, tmp_path, executable, [pg_server.password])
    (pod,) = outcome.pods
    assert (outcome.condition, pod.exit_code) == ("Complete", 0), pod.logs
    assert pod.summary["status"] == "clean"
    assert leftovers(pg_server) == []


def test_maintenance_database_is_the_one_connected_to(
    helm4: Helm,
    pg_server: Any,
    executable: Path,
    tmp_path: Path,
) -> None:
    """A maintenance database that does not exist fails the Job (the CLI cannot have ignored
    it), and nothing is created."""
    manifests = helm4.template(
        server_values(
            pg_server,
            postgres={"maintenanceDatabase": "pod_run_maintenance_absent"},
            drift={"connectTimeout": 1},
        )
    )
    outcome = run_job(manifests, tmp_path, executable, [pg_server.password])
    assert outcome.condition == "Failed"
    for pod in outcome.pods:
        assert pod.exit_code != 0
        assert "pod_run_maintenance_absent" in pod.logs
    assert leftovers(pg_server) == []


def test_unreachable_server_is_retried_then_fails(
    helm4: Helm, pg_server: Any, executable: Path, tmp_path: Path
) -> None:
    manifests = helm4.template(
        server_values(pg_server, postgres={"port": _free_port()}, drift={"connectTimeout": 1})
    )
    outcome = run_job(manifests, tmp_path, executable, [pg_server.password])
    backoff_limit = manifests.job["spec"]["backoffLimit"]
    assert (outcome.condition, outcome.reason) == ("Failed", "BackoffLimitExceeded")
    assert [pod.exit_code for pod in outcome.pods] == [3] * (backoff_limit + 1)
    for pod in outcome.pods:
        assert pod.summary["status"] == "error"
        assert pod.summary["exit_code"] == 3
        assert "unreachable" in pod.logs


def test_wrong_password_is_a_configuration_error(
    helm4: Helm,
    pg_server: Any,
    executable: Path,
    tmp_path: Path,
) -> None:
    """Authentication failures are bad configuration (exit 2): no retry, and no password in
    any output (neither the wrong one nor the right one)."""
    wrong = "not-the-password-" + pg_server.password[::-1]
    manifests = helm4.template(server_values(pg_server, postgres={"password": wrong}))
    outcome = run_job(manifests, tmp_path, executable, [wrong, pg_server.password])
    (pod,) = outcome.pods
    assert (outcome.condition, outcome.reason, pod.exit_code) == (
        "Failed",
        "PodFailurePolicy",
        2,
    ), pod.logs
    assert pod.summary["status"] == "error"
    assert leftovers(pg_server) == []


@pytest.mark.parametrize(
    ("password_ok", "exit_code"), [(True, 0), (False, 2)], ids=["ok", "wrong-password"]
)
def test_helm_test_pod_checks_the_connection(
    helm4: Helm,
    pg_server: Any,
    executable: Path,
    tmp_path: Path,
    password_ok: bool,
    exit_code: int,
) -> None:
    """`helm test`: connectivity and CREATEDB privilege, creating no database."""
    password = pg_server.password if password_ok else "wrong-" + pg_server.password
    manifests = helm4.template(server_values(pg_server, postgres={"password": password}))
    pod_manifest = manifests.test_pod
    databases_sql = "SELECT datname FROM pg_database ORDER BY 1"
    before = pg_server.query(databases_sql)
    kubelet = Kubelet(manifests.documents, tmp_path, executable)
    result = kubelet.run(pod_manifest["spec"], "check-connection", pod_manifest["metadata"]["name"])
    no_secret_in(result, [password, pg_server.password], "the test pod")
    assert result.exit_code == exit_code, result.logs
    after = pg_server.query(databases_sql)
    assert after == before


def _env_file_value(value: str) -> str:
    """A double-quoted env-file value (backslash and double quote escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.mark.parametrize(
    "app_database",
    # the seed project's file names the application's database, test_db (absent here)
    ["postgres", "test_db"],
)
def test_env_file_mode(
    helm4: Helm,
    pg_server: Any,
    executable: Path,
    tmp_path: Path,
    app_database: str,
) -> None:
    """A whole `.env.k8s.development` from an existing Secret is the configuration."""
    env_file = "\n".join(
        [
            "# connection of the development environment",
            f"POSTGRES_HOST={pg_server.host}",
            f"POSTGRES_PORT={pg_server.port}",
            f"POSTGRES_USER={pg_server.superuser}",
            f"POSTGRES_PASSWORD={_env_file_value(pg_server.password)}",
            f"POSTGRES_DB={app_database}",
            "",
        ]
    )
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "app-env"},
        "stringData": {".env.k8s.development": env_file},
    }
    manifests = helm4.template(
        {
            "envFile": {"enabled": True, "existingSecret": "app-env"},
            "drift": {"dbPrefix": DB_PREFIX},
        }
    )
    outcome = run_job(manifests, tmp_path, executable, [pg_server.password], extra_objects=[secret])
    (pod,) = outcome.pods
    assert (outcome.condition, pod.exit_code) == ("Complete", 0), pod.logs
    assert pod.summary["status"] == "clean"


def test_kustomize_base_job_completes(
    kubectl: Path,
    pg_server: Any,
    executable: Path,
    tmp_path: Path,
) -> None:
    """k8s/base with its placeholders replaced, as an overlay would do."""
    documents = kustomize(kubectl, K8S_DIR / "base")
    for document in documents:
        if document["kind"] == "ConfigMap":
            document["data"].update(
                POSTGRES_HOST=pg_server.host,
                POSTGRES_PORT=str(pg_server.port),
                POSTGRES_USER=pg_server.superuser,
                DRIFT_DB_PREFIX=DB_PREFIX,
            )
        if document["kind"] == "Secret":
            document["stringData"] = {"password": pg_server.password}
    outcome = run_job(Manifests(documents), tmp_path, executable, [pg_server.password])
    (pod,) = outcome.pods
    assert (outcome.condition, pod.exit_code) == ("Complete", 0), pod.logs
    assert pod.summary["status"] == "clean"
    assert leftovers(pg_server) == []

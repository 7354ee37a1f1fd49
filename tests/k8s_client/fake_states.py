"""Objects as the Kubernetes API returns them, and the state changes a scenario makes: the
Job controller's pods (its labels, ownerReferences, finalizer), the kubelet's container states
and pod conditions, the Job's conditions with their timestamps and counters."""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

Json = dict[str, Any]
COLLECTIONS = {
    "configmaps": ("v1", "ConfigMap"),
    "secrets": ("v1", "Secret"),
    "serviceaccounts": ("v1", "ServiceAccount"),
    "pods": ("v1", "Pod"),
    "jobs": ("batch/v1", "Job"),
}
EPOCH = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)
_clock = itertools.count()


def timestamp() -> str:
    """Strictly increasing RFC 3339 times (seconds), as the API writes them."""
    return (EPOCH + timedelta(seconds=next(_clock))).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class PodLog:
    """A container's log: lines so far, whether the container has ended, and connections
    to cut after a number of lines (a stream that drops mid-run)."""

    lines: list[str] = field(default_factory=list)
    ended: bool = False
    started: bool = False
    drop_after: list[int] = field(default_factory=list)
    connections: int = 0


class ClusterStates:
    """The objects of one namespace and how they change (served by fake_api.FakeApi)."""

    namespace: str
    objects: dict[tuple[str, str], Json]
    logs: dict[str, PodLog]
    changed: threading.Condition
    version: itertools.count[int]

    def _touch(self, obj: Json) -> None:
        obj["metadata"]["resourceVersion"] = str(next(self.version))
        with self.changed:
            self.changed.notify_all()

    def store(self, collection: str, body: Json) -> Json:
        api_version, kind = COLLECTIONS[collection]
        obj = copy.deepcopy(body)
        obj.setdefault("apiVersion", api_version)
        obj.setdefault("kind", kind)
        metadata = obj.setdefault("metadata", {})
        metadata.update(
            namespace=self.namespace, uid=str(uuid.uuid4()), creationTimestamp=timestamp()
        )
        if kind == "Job":
            obj["spec"].setdefault("completions", 1)
            obj["spec"].setdefault("parallelism", 1)
            obj["status"] = {}
        self.objects[(collection, metadata["name"])] = obj
        self._touch(obj)
        return obj

    def job(self, name: str) -> Json:
        return self.objects[("jobs", name)]

    def add_pod(self, job: Json, attempt: int) -> Json:
        """A pod of ``job`` as the Job controller creates it (Pending, not yet scheduled)."""
        name = f"{job['metadata']['name']}-{attempt}x{uuid.uuid4().hex[:4]}"
        uid = job["metadata"]["uid"]
        template = copy.deepcopy(job["spec"]["template"])
        labels = {
            **template.get("metadata", {}).get("labels", {}),
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": job["metadata"]["name"],
            "controller-uid": uid,
            "job-name": job["metadata"]["name"],
        }
        body = {
            "metadata": {
                "name": name,
                "generateName": f"{job['metadata']['name']}-",
                "labels": labels,
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": job["metadata"]["name"],
                        "uid": uid,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
                "finalizers": ["batch.kubernetes.io/job-tracking"],
            },
            "spec": template["spec"],
        }
        pod = self.store("pods", body)
        pod["status"] = {"phase": "Pending", "qosClass": "Burstable"}
        job["status"].update(active=1, ready=0, terminating=0, startTime=timestamp())
        job["status"].setdefault("uncountedTerminatedPods", {})
        self.logs[name] = PodLog()
        self._touch(job)
        return pod

    def _container_status(self, pod: Json, state: Json, **extra: Any) -> None:
        container = pod["spec"]["containers"][0]
        pod["status"]["containerStatuses"] = [
            {
                "name": container["name"],
                "image": container["image"],
                "imageID": extra.pop("imageID", ""),
                "ready": extra.pop("ready", False),
                "restartCount": 0,
                "started": extra.pop("started", False),
                "state": state,
                "lastState": {},
                **extra,
            }
        ]

    def _pod_conditions(self, pod: Json, scheduled: bool, ready: bool) -> None:
        now = timestamp()
        pod["status"]["conditions"] = [
            {
                "type": t,
                "status": "True" if ok else "False",
                "lastProbeTime": None,
                "lastTransitionTime": now,
            }
            for t, ok in (
                ("PodReadyToStartContainers", scheduled),
                ("Initialized", scheduled),
                ("Ready", ready),
                ("ContainersReady", ready),
                ("PodScheduled", scheduled),
            )
        ]

    def unschedulable(self, pod: Json, message: str) -> None:
        pod["status"]["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "lastProbeTime": None,
                "lastTransitionTime": timestamp(),
                "reason": "Unschedulable",
                "message": message,
            }
        ]
        self._touch(pod)

    def waiting(self, pod: Json, reason: str, message: str | None = None) -> None:
        """Scheduled, the container waiting (ContainerCreating, ImagePullBackOff, …)."""
        pod["spec"]["nodeName"] = "node-1"
        pod["status"].update(hostIP="10.0.0.5", startTime=timestamp())
        self._pod_conditions(pod, scheduled=True, ready=False)
        waiting = {"reason": reason, **({"message": message} if message else {})}
        self._container_status(pod, {"waiting": waiting})
        self._touch(pod)

    def running(self, pod: Json) -> None:
        pod["status"].update(phase="Running", podIP="10.1.0.7")
        self._pod_conditions(pod, scheduled=True, ready=True)
        self._container_status(
            pod,
            {"running": {"startedAt": timestamp()}},
            ready=True,
            started=True,
            imageID="docker.io/library/drift-check@sha256:" + "0" * 64,
        )
        self.logs[pod["metadata"]["name"]].started = True
        job = self.job(pod["metadata"]["labels"]["job-name"])
        job["status"]["ready"] = 1
        self._touch(job)
        self._touch(pod)

    def log(self, pod: Json, *lines: str) -> None:
        self.logs[pod["metadata"]["name"]].lines.extend(lines)
        with self.changed:
            self.changed.notify_all()

    def terminated(
        self, pod: Json, exit_code: int, message: str = "", reason: str | None = None
    ) -> None:
        """The container ended; the pod's phase follows (Succeeded for 0, else Failed)."""
        state: Json = {
            "exitCode": exit_code,
            "reason": reason or ("Completed" if exit_code == 0 else "Error"),
            "startedAt": timestamp(),
            "finishedAt": timestamp(),
            "containerID": "containerd://" + "1" * 64,
        }
        if message:
            state["message"] = message
        pod["status"]["phase"] = "Succeeded" if exit_code == 0 else "Failed"
        self._pod_conditions(pod, scheduled=True, ready=False)
        self._container_status(pod, {"terminated": state}, started=False)
        self.logs[pod["metadata"]["name"]].ended = True
        self._touch(pod)

    def disrupted(self, pod: Json) -> None:
        """Evicted: DisruptionTarget, then the container killed (143)."""
        self.terminated(pod, 143, reason="Error")
        pod["status"]["conditions"].append(
            {
                "type": "DisruptionTarget",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": timestamp(),
                "reason": "EvictionByEvictionAPI",
                "message": "Eviction API: evicting",
            }
        )
        self._touch(pod)

    def condition(self, job: Json, kind: str, reason: str | None = None, message: str = "") -> None:
        """A Job condition; Complete/Failed also set the counters and times the API shows."""
        entry: Json = {
            "type": kind,
            "status": "True",
            "lastProbeTime": timestamp(),
            "lastTransitionTime": timestamp(),
        }
        if reason:
            entry["reason"] = reason
        if message:
            entry["message"] = message
        status = job["status"]
        status.setdefault("conditions", []).append(entry)
        if kind == "Complete":
            status.update(active=0, ready=0, succeeded=1, completionTime=timestamp())
        if kind == "Failed":
            status.update(active=0, ready=0)
            status["failed"] = status.get("failed", 0) + 1
        self._touch(job)

    def pods_of(self, job: Json) -> list[Json]:
        uid = job["metadata"]["uid"]
        return [
            o
            for (c, _), o in self.objects.items()
            if c == "pods" and o["metadata"]["labels"].get("controller-uid") == uid
        ]

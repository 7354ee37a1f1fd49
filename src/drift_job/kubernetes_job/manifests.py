"""The objects one run creates: from a manifest stream (``helm template …``) or from the
chart's defaults plus settings, each given the run's unique name suffix.

A Job's pod template is immutable and its name must be free, so every run renames what it
creates (``NAME-<suffix>``) and points the Job's references at the renamed objects; objects
it does not create (an existing Secret) keep their names.
"""

from __future__ import annotations

import copy
import math
import secrets
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from drift_job import __version__
from drift_job.errors import ConfigError
from drift_job.settings_values import parse_duration

#: Kinds a run creates, in the order it creates them (the Job last: it needs the others).
CREATION_ORDER = ("ServiceAccount", "Secret", "ConfigMap", "Job")
#: A Job's name becomes a label value of its pods: at most 63 characters.
MAX_NAME = 63
SUFFIX_LENGTH = 5
SUFFIX_ALPHABET = string.ascii_lowercase + string.digits
#: The chart's names and labels for its default release ("drift-check").
NAME = "drift-check"
CHART_DEADLINE = 600
DEADLINE_MARGIN = 120


@dataclass(frozen=True)
class Launch:
    """What a run creates, in creation order, and the Job among them."""

    objects: list[dict[str, Any]]
    suffix: str

    @property
    def job(self) -> dict[str, Any]:
        return next(o for o in self.objects if o["kind"] == "Job")


@dataclass(frozen=True)
class ChartDefaults:
    """The chart's default values that ``k8s run`` without ``-f`` lets a user change."""

    host: str
    image: str = f"{NAME}:{__version__}"
    existing_secret: str | None = None
    password_key: str = "password"  # noqa: S105 - the name of a key, as in the chart
    #: Settings keys (POSTGRES_PORT, DRIFT_PROJECT_DIR, …) → value, for the ConfigMap.
    settings: Mapping[str, str] = field(default_factory=dict)
    args: Sequence[str] = ("check",)


def new_suffix() -> str:
    return "".join(secrets.choice(SUFFIX_ALPHABET) for _ in range(SUFFIX_LENGTH))


def skipped(document: Mapping[str, Any]) -> bool:
    """``helm test`` hooks (the chart's connection test pod) are not part of a check."""
    annotations = document.get("metadata", {}).get("annotations") or {}
    hooks = str(annotations.get("helm.sh/hook", "")).split(",")
    return "test" in [hook.strip() for hook in hooks]


def prepare(documents: Iterable[Any], namespace: str, suffix: str, source: str) -> Launch:
    """The run's objects from parsed manifest documents: exactly one Job, plus the
    ConfigMaps, Secrets and ServiceAccounts it uses; anything else is refused (exit 2)."""
    objects: list[dict[str, Any]] = []
    for index, document in enumerate(documents):
        if document is None:
            continue
        where = f"{source}: document {index + 1}"
        if not isinstance(document, dict) or not document.get("kind"):
            raise ConfigError(f"{where} is not a Kubernetes object (no kind)")
        if skipped(document):
            continue
        kind = document["kind"]
        name = document.get("metadata", {}).get("name")
        if kind not in CREATION_ORDER:
            raise ConfigError(
                f"{where}: {kind}/{name} is not something a check creates "
                f"(only {', '.join(CREATION_ORDER)})"
            )
        if not name:
            raise ConfigError(f"{where}: {kind} has no metadata.name")
        other = document["metadata"].get("namespace")
        if other and other != namespace:
            raise ConfigError(f"{where}: {kind}/{name} is for namespace {other}, not {namespace}")
        objects.append(copy.deepcopy(document))
    jobs = [o["metadata"]["name"] for o in objects if o["kind"] == "Job"]
    if len(jobs) != 1:
        found = ", ".join(jobs) if jobs else "none"
        raise ConfigError(f"{source}: expected exactly one Job, found {found}")
    return rename(objects, suffix)


def suffixed(name: str, suffix: str) -> str:
    base = name[: MAX_NAME - len(suffix) - 1].rstrip("-.")
    return f"{base}-{suffix}"


def rename(objects: list[dict[str, Any]], suffix: str) -> Launch:
    """Every object gets the run's suffix; the Job's references follow."""
    names: dict[tuple[str, str], str] = {}
    for obj in objects:
        old = obj["metadata"]["name"]
        names[(obj["kind"], old)] = obj["metadata"]["name"] = suffixed(old, suffix)
    for obj in objects:
        if obj["kind"] == "Job":
            _repoint(obj["spec"]["template"]["spec"], names)
    ordered = sorted(objects, key=lambda o: CREATION_ORDER.index(o["kind"]))
    return Launch(objects=ordered, suffix=suffix)


def _repoint(pod: dict[str, Any], names: Mapping[tuple[str, str], str]) -> None:
    """References of a pod spec to ConfigMaps, Secrets and its ServiceAccount, renamed."""

    def fix(ref: dict[str, Any] | None, kind: str, key: str = "name") -> None:
        if ref and (kind, ref.get(key)) in names:
            ref[key] = names[(kind, ref[key])]

    fix(pod, "ServiceAccount", "serviceAccountName")
    for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
        for source in container.get("envFrom") or []:
            fix(source.get("configMapRef"), "ConfigMap")
            fix(source.get("secretRef"), "Secret")
        for variable in container.get("env") or []:
            value_from = variable.get("valueFrom") or {}
            fix(value_from.get("configMapKeyRef"), "ConfigMap")
            fix(value_from.get("secretKeyRef"), "Secret")
    for volume in pod.get("volumes") or []:
        fix(volume.get("configMap"), "ConfigMap")
        fix(volume.get("secret"), "Secret", "secretName")
        for projected in (volume.get("projected") or {}).get("sources") or []:
            fix(projected.get("configMap"), "ConfigMap")
            fix(projected.get("secret"), "Secret")


def _labels(*, pod: bool = False) -> dict[str, str]:
    selector = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/instance": NAME}
    if pod:
        return {**selector, "app.kubernetes.io/component": "schema-drift-check"}
    return {
        "helm.sh/chart": f"{NAME}-{__version__}",
        **selector,
        "app.kubernetes.io/version": __version__,
        "app.kubernetes.io/managed-by": NAME,
        "app.kubernetes.io/component": "schema-drift-check",
    }


def _deadline(timeout: str | None) -> int:
    """activeDeadlineSeconds: the chart's 600 s, or DRIFT_TIMEOUT plus time to clean up."""
    if timeout is None:
        return CHART_DEADLINE
    try:
        seconds = parse_duration(timeout)
    except ValueError as error:
        raise ConfigError(f"--timeout: {error}") from None
    return max(CHART_DEADLINE, math.ceil(seconds) + DEADLINE_MARGIN)


def from_defaults(values: ChartDefaults, suffix: str) -> Launch:
    """The chart's default ConfigMap and Job (release ``drift-check``) with ``values``."""
    mount = "/etc/drift-check/postgres"
    data = {
        "POSTGRES_HOST": values.host,
        "POSTGRES_PORT": "5432",
        "POSTGRES_USER": "postgres",
        "DRIFT_MAINTENANCE_DB": "postgres",
        "DRIFT_DB_PREFIX": "drift_check",
        "DRIFT_CONNECT_TIMEOUT": "30",
        "DRIFT_TIMEOUT": "480",
        "DRIFT_ORPHAN_TTL": "6h",
        "DRIFT_FORMAT": "text",
    }
    if values.existing_secret:
        data["POSTGRES_PASSWORD_FILE"] = f"{mount}/{values.password_key}"
    data.update({key: value for key, value in values.settings.items() if value})
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]  # noqa: S108 - an emptyDir
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}]
    if values.existing_secret:
        mounts.append({"name": "postgres-password", "mountPath": mount, "readOnly": True})
        secret = {
            "secretName": values.existing_secret,
            "defaultMode": 0o444,
            "items": [{"key": values.password_key, "path": values.password_key}],
        }
        volumes.append({"name": "postgres-password", "secret": secret})
    container = {
        "name": NAME,
        "image": values.image,
        "imagePullPolicy": "IfNotPresent",
        "args": list(values.args),
        "envFrom": [{"configMapRef": {"name": NAME}}],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "resources": {
            "limits": {"cpu": "1", "memory": "512Mi"},
            "requests": {"cpu": "100m", "memory": "192Mi"},
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": mounts,
    }
    pod_spec = {
        "serviceAccountName": "default",
        "automountServiceAccountToken": False,
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 30,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": volumes,
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": NAME, "labels": _labels()},
        "spec": {
            "backoffLimit": 2,
            "activeDeadlineSeconds": _deadline(values.settings.get("DRIFT_TIMEOUT")),
            "ttlSecondsAfterFinished": 3600,
            "podFailurePolicy": {"rules": _failure_rules()},
            "template": {"metadata": {"labels": _labels(pod=True)}, "spec": pod_spec},
        },
    }
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": NAME, "labels": _labels()},
        "data": data,
    }
    return rename([config_map, job], suffix)


def _failure_rules() -> list[dict[str, Any]]:
    """The chart's podFailurePolicy: 1, 2 and 4 fail at once; disruptions are retried."""
    return [
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": NAME, "operator": "In", "values": [1, 2, 4]},
        },
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
    ]

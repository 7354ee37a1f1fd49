"""The Kubernetes API, through the official client: its own config loaders, objects as the
plain JSON the API returns, and errors turned into the tool's exit codes."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes import config as kube_config
from kubernetes import watch as kube_watch
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from urllib3.exceptions import HTTPError

from drift_job.errors import ConfigError, InfrastructureError

IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
#: (connect, read) seconds of ordinary requests; log and watch streams read for longer.
REQUEST_TIMEOUT = (10, 30)
STREAM_TIMEOUT = (10, 300)
WATCH_SECONDS = 60

Json = dict[str, Any]
#: The loaders and the watch have no annotations.
config: Any = kube_config
watch: Any = kube_watch


def _failure(error: Exception, what: str) -> Exception:
    """An API error as the tool's error: refusals are bad input, the rest transient."""
    if isinstance(error, ApiException):
        try:
            detail = json.loads(error.body or "{}").get("message") or error.reason
        except ValueError:
            detail = error.reason
        if error.status in (400, 401, 403, 404, 409, 422):
            return ConfigError(f"{what}: {error.status} {detail}")
        return InfrastructureError(f"{what}: {error.status} {detail}")
    return InfrastructureError(f"{what}: the Kubernetes API is unreachable ({error})")


@dataclass
class Cluster:
    """One namespace of one cluster."""

    api: Any
    namespace: str

    @classmethod
    def connect(
        cls, *, kubeconfig: str | None, context: str | None, namespace: str | None
    ) -> Cluster:
        """kubeconfig (``--kubeconfig``, KUBECONFIG, ~/.kube/config) with ``--context``, else
        the in-cluster service account; the namespace defaults to the context's."""
        configuration = client.Configuration()
        explicit = kubeconfig or context or os.environ.get("KUBECONFIG")
        default_file = Path(os.path.expanduser(config.KUBE_CONFIG_DEFAULT_LOCATION))
        try:
            if explicit or default_file.is_file() or "KUBERNETES_SERVICE_HOST" not in os.environ:
                config.load_kube_config(
                    config_file=kubeconfig, context=context, client_configuration=configuration
                )
                if namespace is None:
                    contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
                    chosen = next(c for c in contexts if c["name"] == (context or active["name"]))
                    namespace = chosen.get("context", {}).get("namespace")
            else:
                config.load_incluster_config(client_configuration=configuration)
                if namespace is None and IN_CLUSTER_NAMESPACE.is_file():
                    namespace = IN_CLUSTER_NAMESPACE.read_text(encoding="utf-8").strip()
        except (ConfigException, OSError, StopIteration) as error:
            where = kubeconfig or os.environ.get("KUBECONFIG") or str(default_file)
            raise ConfigError(f"Kubernetes config ({where}): {error}") from None
        return cls(api=client.ApiClient(configuration), namespace=namespace or "default")

    @property
    def core(self) -> Any:
        return client.CoreV1Api(self.api)

    @property
    def batch(self) -> Any:
        return client.BatchV1Api(self.api)

    def _methods(self, kind: str) -> tuple[Any, str]:
        if kind == "Job":
            return self.batch, "namespaced_job"
        plural = {
            "ConfigMap": "config_map",
            "Secret": "secret",
            "ServiceAccount": "service_account",
        }
        return self.core, f"namespaced_{plural[kind]}"

    def create(self, obj: Json) -> None:
        api, suffix = self._methods(obj["kind"])
        what = f"creating {obj['kind']}/{obj['metadata']['name']} in {self.namespace}"
        try:
            getattr(api, f"create_{suffix}")(
                self.namespace, obj, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
            )
        except (ApiException, HTTPError) as error:
            raise _failure(error, what) from None

    def delete(self, kind: str, name: str) -> None:
        """Delete in the foreground (a Job's pods go first); already gone is fine."""
        api, suffix = self._methods(kind)
        try:
            getattr(api, f"delete_{suffix}")(
                name,
                self.namespace,
                propagation_policy="Foreground",
                _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT,
            )
        except ApiException as error:
            if error.status != 404:
                raise _failure(error, f"deleting {kind}/{name}") from None
        except HTTPError as error:
            raise _failure(error, f"deleting {kind}/{name}") from None

    def _json(self, call: Any, *args: Any, what: str, **kwargs: Any) -> Json | None:
        try:
            response = call(
                *args, _preload_content=False, _request_timeout=REQUEST_TIMEOUT, **kwargs
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise _failure(error, what) from None
        except HTTPError as error:
            raise _failure(error, what) from None
        parsed: Json = json.loads(response.data)
        return parsed

    def job(self, name: str) -> Json | None:
        """The Job as the API returns it, or None when there is none by that name."""
        return self._json(
            self.batch.read_namespaced_job, name, self.namespace, what=f"reading Job/{name}"
        )

    def pods(self, job: Json) -> list[Json]:
        """The Job's pods: those its controller labelled with the Job's uid."""
        selector = f"controller-uid={job['metadata']['uid']}"
        listed = self._json(
            self.core.list_namespaced_pod,
            self.namespace,
            label_selector=selector,
            what=f"listing the pods of Job/{job['metadata']['name']}",
        )
        items: list[Json] = (listed or {}).get("items") or []
        return items

    def log_lines(self, pod: str, container: str, *, follow: bool) -> Iterator[str]:
        """The container's log from its start, followed while it runs when ``follow``; ends
        when the stream does (the container ended, or the connection dropped)."""
        try:
            response = self.core.read_namespaced_pod_log(
                pod,
                self.namespace,
                container=container,
                follow=follow,
                _preload_content=False,
                _request_timeout=STREAM_TIMEOUT,
            )
        except ApiException as error:
            if error.status in (400, 404):  # not started yet, or gone
                return
            raise _failure(error, f"reading the log of {pod}") from None
        try:
            pending = b""
            for chunk in response.stream(4096, decode_content=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", "replace")
            if pending:
                yield pending.decode("utf-8", "replace")
        finally:
            response.release_conn()

    def on_change(self, job: str, changed: threading.Event, stop: threading.Event) -> None:
        """Set ``changed`` whenever the Job or one of its pods changes (two watch threads);
        the caller re-reads the objects, so a dropped watch only delays it to its next poll."""
        selector = {
            self.batch.list_namespaced_job: {"field_selector": f"metadata.name={job}"},
            self.core.list_namespaced_pod: {"label_selector": f"job-name={job}"},
        }
        for lister, kwargs in selector.items():
            thread = threading.Thread(
                target=self._watch, args=(lister, kwargs, changed, stop), daemon=True
            )
            thread.start()

    def _watch(
        self, lister: Any, kwargs: dict[str, str], changed: threading.Event, stop: threading.Event
    ) -> None:
        while not stop.is_set():
            watcher = watch.Watch()
            try:
                for _event in watcher.stream(
                    lister, self.namespace, timeout_seconds=WATCH_SECONDS, **kwargs
                ):
                    changed.set()
                    if stop.is_set():
                        watcher.stop()
            except Exception:
                stop.wait(2)

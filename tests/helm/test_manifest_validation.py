"""Every rendered manifest, and the kustomize bases, validate against the Kubernetes OpenAPI
schemas of 1.29 and 1.33 (kubernetes-validate, strict: unknown fields and wrong types fail).

kubernetes-validate does not check enum values; the render tests assert those.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from chart_support import (
    K8S_DIR,
    KUBE_VERSIONS,
    Helm,
    ci_values_files,
    kustomize,
    validate_strict,
)


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("values_file", ci_values_files(), ids=lambda p: p.stem)
def test_chart_renders_valid_manifests(helm: Helm, values_file: Path, kube_version: str) -> None:
    manifests = helm.template(values_files=[values_file], kube_version=kube_version)
    assert manifests.documents
    validate_strict(manifests.documents, kube_version)


@pytest.mark.parametrize("values_file", ci_values_files(), ids=lambda p: p.stem)
def test_helm3_and_helm4_render_the_same(helm3: Helm, helm4: Helm, values_file: Path) -> None:
    assert (
        helm3.template(values_files=[values_file]).documents
        == helm4.template(values_files=[values_file]).documents
    )


def test_validation_catches_mistakes() -> None:
    """The validator is strict: an unknown field and a wrong type both fail."""
    job: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "x"},
        "spec": {
            "backoffLimit": 2,
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}
            },
        },
    }
    validate_strict([job], "1.33.0")
    job["spec"]["backofLimit"] = 2
    with pytest.raises(pytest.fail.Exception, match="backofLimit"):
        validate_strict([job], "1.33.0")
    del job["spec"]["backofLimit"]
    job["spec"]["backoffLimit"] = "two"
    with pytest.raises(pytest.fail.Exception, match="backoffLimit"):
        validate_strict([job], "1.33.0")


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("overlay", ["base", "argocd"])
def test_kustomize_renders_valid_manifests(kubectl: Path, overlay: str, kube_version: str) -> None:
    documents = kustomize(kubectl, K8S_DIR / overlay)
    assert sorted(d["kind"] for d in documents) == ["ConfigMap", "Job", "Secret"]
    validate_strict(documents, kube_version)

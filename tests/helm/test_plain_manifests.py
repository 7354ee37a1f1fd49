"""k8s/base and k8s/argocd (kustomize) have the chart's semantics; the Tekton Task, Pipeline and
PipelineRun and the Argo WorkflowTemplate and Workflow have the expected structure.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from chart_support import K8S_DIR, KUBE_VERSIONS, Helm, kustomize, load_documents, validate_strict

TEKTON = K8S_DIR / "tekton"
ARGO = K8S_DIR / "argo"
PARAM_REFERENCE = re.compile(r"\$\(params\.([a-z0-9-]+)(?:\[\*\])?\)")

#: Environment variables of the pipeline steps -> (parameter, default). POSTGRES_DB is the
#: application's database (unset by default); CREATE/DROP go through DRIFT_MAINTENANCE_DB.
DATABASE_AND_WORKER_PARAMS = {
    "POSTGRES_DB": ("postgres-db", ""),
    "DRIFT_MAINTENANCE_DB": ("maintenance-db", "postgres"),
    "DRIFT_PYTHON": ("python", ""),
    "DRIFT_WORKER_MEMORY": ("worker-memory", ""),
    "DRIFT_ALEMBIC_NAME": ("alembic-name", ""),
    "DRIFT_ALEMBIC_X": ("alembic-x", ""),
}


def _by_kind(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in documents}


def _strings(node: Any) -> list[str]:
    """Every string in a YAML tree."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


# ---------------------------------------------------------------------------------------------
# kustomize base and Argo CD overlay
# ---------------------------------------------------------------------------------------------


def test_base_has_the_chart_semantics(kubectl: Path, helm4: Helm) -> None:
    base = _by_kind(kustomize(kubectl, K8S_DIR / "base"))
    chart = helm4.render(postgres={"existingSecret": "drift-check-postgres"})
    job, chart_job = base["Job"], chart.job
    for key in (
        "backoffLimit",
        "activeDeadlineSeconds",
        "ttlSecondsAfterFinished",
        "podFailurePolicy",
    ):
        assert job["spec"][key] == chart_job["spec"][key], key
    pod, chart_pod = job["spec"]["template"]["spec"], chart.pod_spec
    for key in ("restartPolicy", "automountServiceAccountToken", "securityContext", "volumes"):
        assert pod[key] == chart_pod[key], key
    (container,) = pod["containers"]
    for key in (
        "name",
        "image",
        "args",
        "securityContext",
        "resources",
        "terminationMessagePath",
        "terminationMessagePolicy",
        "volumeMounts",
    ):
        assert container[key] == chart.container[key], key
    assert container["envFrom"] == [
        {"configMapRef": {"name": base["ConfigMap"]["metadata"]["name"]}}
    ]
    # the same settings, apart from the server address
    settings = dict(base["ConfigMap"]["data"])
    chart_settings = dict(chart.config)
    settings.pop("POSTGRES_HOST")
    chart_settings.pop("POSTGRES_HOST")
    assert settings == chart_settings


@pytest.mark.parametrize("overlay", ["base", "argocd"])
def test_base_carries_the_maintenance_database(kubectl: Path, overlay: str) -> None:
    settings = _by_kind(kustomize(kubectl, K8S_DIR / overlay))["ConfigMap"]["data"]
    assert settings["DRIFT_MAINTENANCE_DB"] == "postgres"
    # the application's database is only a commented example: the check never connects to it
    assert "POSTGRES_DB" not in settings
    text = (K8S_DIR / "base" / "configmap.yaml").read_text(encoding="utf-8")
    assert "# POSTGRES_DB: test_db" in text


def test_base_secret_is_a_placeholder(kubectl: Path) -> None:
    secret = _by_kind(kustomize(kubectl, K8S_DIR / "base"))["Secret"]
    assert secret["metadata"]["name"] == "drift-check-postgres"
    assert "placeholder" in secret["stringData"]["password"].lower()
    assert "PLACEHOLDER" in (K8S_DIR / "base" / "secret.yaml").read_text(encoding="utf-8")


def test_base_labels(kubectl: Path) -> None:
    for document in kustomize(kubectl, K8S_DIR / "base"):
        assert document["metadata"]["labels"]["app.kubernetes.io/name"] == "drift-check"
    job = _by_kind(kustomize(kubectl, K8S_DIR / "base"))["Job"]
    assert job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == "drift-check"
    assert "selector" not in job["spec"]


def test_argocd_overlay_is_a_presync_gate(kubectl: Path) -> None:
    documents = _by_kind(kustomize(kubectl, K8S_DIR / "argocd"))
    waves = {}
    for kind, document in documents.items():
        annotations = document["metadata"]["annotations"]
        assert annotations["argocd.argoproj.io/hook"] == "PreSync", kind
        assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation", kind
        waves[kind] = int(annotations["argocd.argoproj.io/sync-wave"])
    assert waves["ConfigMap"] < waves["Job"]
    assert waves["Secret"] < waves["Job"]
    base_job = _by_kind(kustomize(kubectl, K8S_DIR / "base"))["Job"]
    assert documents["Job"]["spec"] == base_job["spec"]


# ---------------------------------------------------------------------------------------------
# Tekton
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def task() -> dict[str, Any]:
    (document,) = load_documents(TEKTON / "drift-check-task.yaml")
    return document


def test_task_metadata(task: dict[str, Any]) -> None:
    assert task["apiVersion"] == "tekton.dev/v1"
    assert task["kind"] == "Task"
    assert task["metadata"]["labels"]["app.kubernetes.io/version"] == "0.1.0"
    annotations = task["metadata"]["annotations"]
    for key in (
        "tekton.dev/pipelines.minVersion",
        "tekton.dev/categories",
        "tekton.dev/tags",
        "tekton.dev/displayName",
        "tekton.dev/platforms",
    ):
        assert annotations[key], key
    assert task["spec"]["description"]


def test_task_params_are_typed_described_and_used(task: dict[str, Any]) -> None:
    params = {p["name"]: p for p in task["spec"]["params"]}
    for name, param in params.items():
        assert param["type"] in {"string", "array", "object"}, name
        assert param["description"].strip(), name
    # every parameter but the server address has a default
    assert [name for name, p in params.items() if "default" not in p] == ["postgres-host"]
    assert params["extra-args"] == {**params["extra-args"], "type": "array", "default": []}
    referenced = set(PARAM_REFERENCE.findall(" ".join(_strings(task["spec"]["steps"]))))
    assert referenced == set(params)


def test_task_results(task: dict[str, Any]) -> None:
    results = {r["name"]: r for r in task["spec"]["results"]}
    assert set(results) == {"status", "summary"}
    assert all(r["description"] for r in results.values())
    check, report = task["spec"]["steps"]
    # the tool writes the summary itself
    args = check["args"]
    assert args[:3] == ["check", "--summary-file", "$(results.summary.path)"]
    assert "$(params.extra-args[*])" in args
    # the check step never fails the TaskRun itself, so both results are always published;
    # the report step writes status from the exit code and fails with that code
    assert check["onError"] == "continue"
    assert "$(results.status.path)" in report["args"]
    assert "$(steps.step-check.exitCode.path)" in report["args"]


def test_task_report_step_logic(task: dict[str, Any], tmp_path: Path) -> None:
    """Run the report step's fixed program for every exit code of the tool."""
    report = task["spec"]["steps"][1]
    assert report["command"] == ["python3", "-c"]
    program = report["args"][0]
    for code, fail_on_drift, status, step_exit in [
        (0, "true", "clean", 0),
        (1, "true", "drift", 1),
        (1, "false", "drift", 0),
        (2, "false", "error", 2),
        (3, "true", "error", 3),
        (4, "true", "error", 4),
        (143, "true", "error", 143),
    ]:
        exit_code_file = tmp_path / "exitCode"
        exit_code_file.write_text(str(code))
        status_file = tmp_path / "status"
        completed = subprocess.run(
            [sys.executable, "-c", program, str(exit_code_file), str(status_file), fail_on_drift],
            capture_output=True,
            text=True,
            check=False,
        )
        assert completed.returncode == step_exit, (code, fail_on_drift, completed.stderr)
        assert status_file.read_text() == status


def test_task_values_never_reach_a_script(task: dict[str, Any]) -> None:
    for step in task["spec"]["steps"]:
        assert "script" not in step
        # parameters only as whole env values or arguments, never inside the program text
        program_args = step.get("args", [])
        if step.get("command") == ["python3", "-c"]:
            assert "$(" not in program_args[0]


def test_task_security_and_workspaces(task: dict[str, Any]) -> None:
    context = task["spec"]["stepTemplate"]["securityContext"]
    assert context == {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert {"name": "tmp", "mountPath": "/tmp"} in task["spec"]["stepTemplate"]["volumeMounts"]
    workspaces = {w["name"]: w for w in task["spec"]["workspaces"]}
    assert workspaces["source"]["optional"] is True
    assert workspaces["postgres-credentials"].get("optional", False) is False
    env = {e["name"]: e["value"] for e in task["spec"]["steps"][0]["env"]}
    assert env["DRIFT_PROJECT_DIR"] == "$(workspaces.source.path)"
    assert (
        env["POSTGRES_PASSWORD_FILE"]
        == "$(workspaces.postgres-credentials.path)/$(params.password-key)"
    )
    assert "POSTGRES_PASSWORD" not in env


def test_task_database_and_worker_settings(task: dict[str, Any]) -> None:
    params = {p["name"]: p for p in task["spec"]["params"]}
    env = {e["name"]: e["value"] for e in task["spec"]["steps"][0]["env"]}
    for variable, (param, default) in DATABASE_AND_WORKER_PARAMS.items():
        assert env[variable] == f"$(params.{param})", variable
        assert params[param]["type"] == "string", param
        assert params[param]["default"] == default, param
    assert "CREATE/DROP" in params["maintenance-db"]["description"]


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_task_steps_are_valid_containers(task: dict[str, Any], kube_version: str) -> None:
    """The Kubernetes parts of the steps (env, securityContext, volumes) validate in a Pod."""
    containers = []
    for step in task["spec"]["steps"]:
        container = {k: v for k, v in step.items() if k not in {"onError", "computeResources"}}
        container["resources"] = step["computeResources"]
        container["securityContext"] = task["spec"]["stepTemplate"]["securityContext"]
        container["volumeMounts"] = task["spec"]["stepTemplate"]["volumeMounts"]
        containers.append(container)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "tekton-step-check"},
        "spec": {"containers": containers, "volumes": task["spec"]["volumes"]},
    }
    validate_strict([pod], kube_version)


def test_pipeline_sample(task: dict[str, Any]) -> None:
    (pipeline,) = load_documents(TEKTON / "pipeline-sample.yaml")
    (run,) = load_documents(TEKTON / "pipelinerun-sample.yaml")
    assert pipeline["apiVersion"] == run["apiVersion"] == "tekton.dev/v1"
    tasks = {t["name"]: t for t in pipeline["spec"]["tasks"]}
    check = tasks["drift-check"]
    assert check["taskRef"]["name"] == task["metadata"]["name"]
    task_params = {p["name"] for p in task["spec"]["params"]}
    assert {p["name"] for p in check["params"]} <= task_params
    required = {p["name"] for p in task["spec"]["params"] if "default" not in p}
    assert required <= {p["name"] for p in check["params"]}
    assert {w["name"] for w in check["workspaces"]} == {
        w["name"] for w in task["spec"]["workspaces"]
    }
    results = {r["name"]: r["value"] for r in pipeline["spec"]["results"]}
    assert results == {
        "drift-status": "$(tasks.drift-check.results.status)",
        "drift-summary": "$(tasks.drift-check.results.summary)",
    }
    # the run supplies every pipeline parameter without a default and every workspace
    assert run["spec"]["pipelineRef"]["name"] == pipeline["metadata"]["name"]
    needed = {p["name"] for p in pipeline["spec"]["params"] if "default" not in p}
    assert needed <= {p["name"] for p in run["spec"]["params"]}
    assert {w["name"] for w in run["spec"]["workspaces"]} == {
        w["name"] for w in pipeline["spec"]["workspaces"]
    }


# ---------------------------------------------------------------------------------------------
# Argo Workflows
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow_template() -> dict[str, Any]:
    (document,) = load_documents(ARGO / "drift-check-workflowtemplate.yaml")
    return document


def _check_template(workflow_template: dict[str, Any]) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        t for t in workflow_template["spec"]["templates"] if t["name"] == "drift-check"
    ]
    assert len(found) == 1
    return found[0]


def test_workflow_template_retries_only_exit_code_3(workflow_template: dict[str, Any]) -> None:
    assert workflow_template["apiVersion"] == "argoproj.io/v1alpha1"
    assert workflow_template["kind"] == "WorkflowTemplate"
    strategy = _check_template(workflow_template)["retryStrategy"]
    assert strategy["limit"] == 2
    assert strategy["retryPolicy"] == "Always"
    expression = strategy["expression"]
    assert expression == "asInt(lastRetry.exitCode) == 3"
    # evaluate it the way Argo does for each exit code ("-1" when unknown)
    for exit_code in ("-1", "0", "1", "2", "3", "4", "137", "143"):
        last_retry = SimpleNamespace(exitCode=exit_code, status="Failed", duration="1")
        retried = eval(expression, {"__builtins__": {}}, {"asInt": int, "lastRetry": last_retry})
        assert retried is (exit_code == "3"), exit_code


def test_workflow_template_summary_output(workflow_template: dict[str, Any]) -> None:
    template = _check_template(workflow_template)
    args = template["container"]["args"]
    summary_path = args[args.index("--summary-file") + 1]
    (output,) = template["outputs"]["parameters"]
    assert output["name"] == "summary"
    assert output["valueFrom"]["path"] == summary_path
    assert '"status": "error"' in output["valueFrom"]["default"]
    # the summary lands on the writable /tmp volume
    assert summary_path.startswith("/tmp/")
    assert {"name": "tmp", "mountPath": "/tmp"} in template["container"]["volumeMounts"]


def test_workflow_template_security(workflow_template: dict[str, Any]) -> None:
    template = _check_template(workflow_template)
    assert template["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    container = template["container"]
    assert container["command"] == ["drift-check"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["POSTGRES_PASSWORD_FILE"] == "/etc/drift-check/postgres/password"
    assert "POSTGRES_PASSWORD" not in env
    # every input is used, and every use is declared
    inputs = {p["name"] for p in template["inputs"]["parameters"]}
    used = set(
        re.findall(r"\{\{inputs\.parameters\.([a-z0-9-]+)\}\}", " ".join(_strings(template)))
    )
    assert used == inputs


def test_workflow_template_database_and_worker_settings(
    workflow_template: dict[str, Any],
) -> None:
    template = _check_template(workflow_template)
    inputs = {p["name"]: p for p in template["inputs"]["parameters"]}
    env = {e["name"]: e["value"] for e in template["container"]["env"]}
    for variable, (param, default) in DATABASE_AND_WORKER_PARAMS.items():
        assert env[variable] == f"{{{{inputs.parameters.{param}}}}}", variable
        assert inputs[param]["default"] == default, param
    assert "CREATE/DROP" in inputs["maintenance-db"]["description"]


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_workflow_template_container_is_valid(
    workflow_template: dict[str, Any], kube_version: str
) -> None:
    template = _check_template(workflow_template)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "argo-step-check"},
        "spec": {
            "securityContext": template["securityContext"],
            "containers": [{"name": "main", **template["container"]}],
            "volumes": template["volumes"],
            "restartPolicy": "Never",
        },
    }
    validate_strict([pod], kube_version)


def test_workflow_sample_uses_the_template(workflow_template: dict[str, Any]) -> None:
    (workflow,) = load_documents(ARGO / "workflow-sample.yaml")
    assert workflow["kind"] == "Workflow"
    (main,) = [
        t for t in workflow["spec"]["templates"] if t["name"] == workflow["spec"]["entrypoint"]
    ]
    ((step,),) = main["steps"]
    assert step["templateRef"] == {
        "name": workflow_template["metadata"]["name"],
        "template": "drift-check",
    }
    given = {p["name"] for p in step["arguments"]["parameters"]}
    inputs = _check_template(workflow_template)["inputs"]["parameters"]
    assert {p["name"] for p in inputs if "default" not in p} <= given
    assert given <= {p["name"] for p in inputs}
    (output,) = main["outputs"]["parameters"]
    assert output["valueFrom"]["parameter"] == "{{steps.drift-check.outputs.parameters.summary}}"

"""Render tests of the Helm chart: `helm template` output parsed and asserted, Helm 3 and 4."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_support import CHART_DIR, Helm, Manifests, annotations_of, ci_values_files

HOOK_KEYS = (
    "helm.sh/hook",
    "helm.sh/hook-weight",
    "helm.sh/hook-delete-policy",
    "argocd.argoproj.io/hook",
)
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def secret_value(manifests: Manifests, name: str, key: str) -> str:
    secret = manifests.get("Secret", name)
    return base64.b64decode(secret["data"][key]).decode()


# ---------------------------------------------------------------------------------------------
# defaults
# ---------------------------------------------------------------------------------------------


def test_default_objects(helm: Helm) -> None:
    manifests = helm.render()
    assert manifests.kinds == ["ConfigMap", "Job", "Pod"]
    assert manifests.config_map["metadata"]["name"] == "shop-drift-check"


def test_default_settings_configmap(helm: Helm) -> None:
    assert helm.render().config == {
        "POSTGRES_HOST": "db.example.internal",
        "POSTGRES_PORT": "5432",
        "POSTGRES_USER": "postgres",
        # no POSTGRES_DB: that is the application's database, which the check never touches
        "DRIFT_MAINTENANCE_DB": "postgres",
        "DRIFT_DB_PREFIX": "drift_check",
        "DRIFT_CONNECT_TIMEOUT": "30",
        "DRIFT_TIMEOUT": "480",
        "DRIFT_ORPHAN_TTL": "6h",
        "DRIFT_FORMAT": "text",
    }


def test_job_spec_defaults(helm: Helm) -> None:
    job = helm.render().job
    spec = job["spec"]
    assert spec["backoffLimit"] == 2
    assert spec["activeDeadlineSeconds"] == 600
    assert spec["ttlSecondsAfterFinished"] == 3600
    assert "selector" not in spec  # the Job controller generates it
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


def test_pod_failure_policy(helm: Helm) -> None:
    """FailJob on 1, 2, 4 for the check container; disruptions ignored; 3 falls through."""
    manifests = helm.render()
    rules = manifests.job["spec"]["podFailurePolicy"]["rules"]
    assert rules == [
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": "drift-check", "operator": "In", "values": [1, 2, 4]},
        },
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
    ]
    # kubernetes-validate does not check enums: the actions and operator are checked here
    for rule in rules:
        assert rule["action"] in {"FailJob", "FailIndex", "Ignore", "Count"}
    assert rules[0]["onExitCodes"]["containerName"] == manifests.container["name"]
    assert 0 not in rules[0]["onExitCodes"]["values"]  # not allowed with operator In
    assert 3 not in rules[0]["onExitCodes"]["values"]  # the retryable code
    for condition in rules[1]["onPodConditions"]:
        assert condition.get("status", "True") in {"True", "False", "Unknown"}


def test_pod_failure_policy_can_be_disabled(helm: Helm) -> None:
    assert "podFailurePolicy" not in helm.render(job={"podFailurePolicy": False}).job["spec"]


def test_deadline_and_ttl_can_be_unset(helm: Helm) -> None:
    spec = helm.render(job={"activeDeadlineSeconds": None, "ttlSecondsAfterFinished": None}).job[
        "spec"
    ]
    assert "activeDeadlineSeconds" not in spec
    assert "ttlSecondsAfterFinished" not in spec


def test_job_tuning(helm: Helm) -> None:
    manifests = helm.render(
        job={
            "backoffLimit": 0,
            "activeDeadlineSeconds": 1200,
            "ttlSecondsAfterFinished": 0,
            "terminationGracePeriodSeconds": 45,
        },
        drift={"timeout": 900},
    )
    spec = manifests.job["spec"]
    assert (
        spec["backoffLimit"],
        spec["activeDeadlineSeconds"],
        spec["ttlSecondsAfterFinished"],
    ) == (
        0,
        1200,
        0,
    )
    assert manifests.pod_spec["terminationGracePeriodSeconds"] == 45
    assert manifests.config["DRIFT_TIMEOUT"] == "900"


def test_container_defaults(helm: Helm) -> None:
    manifests = helm.render()
    container = manifests.container
    assert container["image"] == "drift-check:0.1.0"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert "command" not in container  # the image ENTRYPOINT is drift-check
    assert container["args"] == ["check"]
    assert container["envFrom"] == [{"configMapRef": {"name": "shop-drift-check"}}]
    assert "env" not in container
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "192Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }


def test_restricted_security_defaults(helm: Helm) -> None:
    manifests = helm.render()
    pod = manifests.pod_spec
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert manifests.container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "default"
    # read-only root filesystem: /tmp is the writable emptyDir
    assert manifests.mounts()["tmp"]["mountPath"] == "/tmp"
    assert manifests.volume("tmp")["emptyDir"] == {"sizeLimit": "256Mi"}


def _restricted_violations(pod: dict[str, Any]) -> list[str]:
    """The Pod Security Standard "restricted" rules (v1.25+) applied to a pod spec."""
    problems = []
    pod_context = pod.get("securityContext", {})
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            problems.append(flag)
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']}: {kinds}")
    if pod_context.get("runAsUser") == 0:
        problems.append("pod runAsUser 0")
    for container in pod.get("initContainers", []) + pod["containers"]:
        context = container.get("securityContext", {})
        name = container["name"]
        if context.get("privileged"):
            problems.append(f"{name}: privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation not false")
        if not context.get("runAsNonRoot", pod_context.get("runAsNonRoot")):
            problems.append(f"{name}: runAsNonRoot not true")
        if context.get("runAsUser") == 0:
            problems.append(f"{name}: runAsUser 0")
        seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {}))
        if seccomp.get("type") not in {"RuntimeDefault", "Localhost"}:
            problems.append(f"{name}: seccompProfile")
        capabilities = context.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []):
            problems.append(f"{name}: capabilities not dropped")
        if set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: capabilities added")
        if any("hostPort" in port for port in container.get("ports", [])):
            problems.append(f"{name}: hostPort")
    return problems


@pytest.mark.parametrize("values_file", ci_values_files(), ids=lambda p: p.stem)
def test_every_scenario_meets_restricted_pod_security(helm: Helm, values_file: Path) -> None:
    manifests = helm.template(values_files=[values_file])
    pods = [manifests.pod_spec] + [pod["spec"] for pod in manifests.of_kind("Pod")]
    for pod in pods:
        assert _restricted_violations(pod) == []


@pytest.mark.parametrize("values_file", ci_values_files(), ids=lambda p: p.stem)
def test_no_hard_coded_run_as_user(helm: Helm, values_file: Path) -> None:
    """The chart never sets runAsUser itself (OpenShift assigns one; the image has 10001)."""
    manifests = helm.template(values_files=[values_file])
    for pod in [manifests.pod_spec, manifests.test_pod["spec"]]:
        assert "runAsUser" not in pod.get("securityContext", {})
        for container in pod["containers"]:
            assert "runAsUser" not in container.get("securityContext", {})


def test_labels(helm: Helm) -> None:
    manifests = helm.render(serviceAccount={"create": True}, postgres={"password": "x"})
    for document in manifests.documents:
        labels = document["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "drift-check"
        assert labels["app.kubernetes.io/instance"] == "shop"
        assert labels["app.kubernetes.io/version"] == "0.1.0"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"] == "drift-check-0.1.0"
    template_labels = manifests.job["spec"]["template"]["metadata"]["labels"]
    assert template_labels["app.kubernetes.io/name"] == "drift-check"
    assert template_labels["app.kubernetes.io/instance"] == "shop"


def test_name_overrides(helm: Helm) -> None:
    manifests = helm.render(nameOverride="schema-gate")
    assert manifests.config_map["metadata"]["name"] == "shop-schema-gate"
    assert manifests.job["metadata"]["labels"]["app.kubernetes.io/name"] == "schema-gate"
    manifests = helm.render(fullnameOverride="gate")
    assert manifests.config_map["metadata"]["name"] == "gate"
    assert re.fullmatch(r"gate-[0-9a-f]{8}", manifests.job["metadata"]["name"])


# ---------------------------------------------------------------------------------------------
# Job name: a hash of the values and the appVersion
# ---------------------------------------------------------------------------------------------


def test_job_name_carries_a_values_hash(helm: Helm) -> None:
    name = helm.render().job["metadata"]["name"]
    assert re.fullmatch(r"shop-drift-check-[0-9a-f]{8}", name)
    assert helm.render().job["metadata"]["name"] == name  # deterministic
    assert helm.render(image={"tag": "0.1.1"}).job["metadata"]["name"] != name
    assert helm.render(job={"runId": "4b825dc"}).job["metadata"]["name"] != name
    assert helm.render(postgres={"port": 5433}).job["metadata"]["name"] != name


def test_job_name_does_not_depend_on_the_password(helm: Helm) -> None:
    """The password is left out of the hash: the name must reveal nothing about it."""
    first = helm.render(postgres={"password": "first-password"}).job["metadata"]["name"]
    second = helm.render(postgres={"password": "second-password"}).job["metadata"]["name"]
    assert first == second


def test_job_name_changes_with_app_version(helm: Helm, tmp_path: Path) -> None:
    chart = tmp_path / "drift-check"
    shutil.copytree(CHART_DIR, chart)
    metadata = yaml.safe_load((chart / "Chart.yaml").read_text(encoding="utf-8"))
    metadata["appVersion"] = "0.2.0"
    (chart / "Chart.yaml").write_text(yaml.safe_dump(metadata), encoding="utf-8")
    completed = helm.run(
        "template", "shop", str(chart), "--set", "postgres.host=db.example.internal"
    )
    assert completed.returncode == 0, completed.stderr
    job = next(d for d in yaml.safe_load_all(completed.stdout) if d and d["kind"] == "Job")
    assert job["metadata"]["name"] != helm.render().job["metadata"]["name"]
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "drift-check:0.2.0"


def test_long_names_fit_in_63_characters(helm: Helm) -> None:
    manifests = helm.render(fullnameOverride="x" * 63)
    for document in manifests.documents:
        assert len(document["metadata"]["name"]) <= 63
    assert re.fullmatch(r"x{54}-[0-9a-f]{8}", manifests.job["metadata"]["name"])


# ---------------------------------------------------------------------------------------------
# password: chart-created Secret, existingSecret, file or env var
# ---------------------------------------------------------------------------------------------


def test_password_secret_mounted_as_file(helm: Helm) -> None:
    manifests = helm.render(postgres={"password": "dev-only-pw"})
    assert secret_value(manifests, "shop-drift-check", "password") == "dev-only-pw"
    assert manifests.config["POSTGRES_PASSWORD_FILE"] == "/etc/drift-check/postgres/password"
    assert manifests.volume("postgres-password")["secret"] == {
        "secretName": "shop-drift-check",
        "defaultMode": 0o444,
        "items": [{"key": "password", "path": "password"}],
    }
    mount = manifests.mounts()["postgres-password"]
    assert mount == {
        "name": "postgres-password",
        "mountPath": "/etc/drift-check/postgres",
        "readOnly": True,
    }
    assert "POSTGRES_PASSWORD" not in manifests.env()
    # the password is only in the Secret
    for document in manifests.documents:
        if document["kind"] != "Secret":
            assert "dev-only-pw" not in yaml.safe_dump(document)


def test_password_as_env_var(helm: Helm) -> None:
    manifests = helm.render(postgres={"password": "dev-only-pw", "usePasswordFile": False})
    assert manifests.env()["POSTGRES_PASSWORD"] == {
        "name": "POSTGRES_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "shop-drift-check", "key": "password"}},
    }
    assert "POSTGRES_PASSWORD_FILE" not in manifests.config
    assert "postgres-password" not in manifests.mounts()


def test_existing_secret_with_custom_keys(helm: Helm) -> None:
    manifests = helm.render(
        postgres={
            "existingSecret": "app-db",
            "secretKeys": {"passwordKey": "postgres-password", "userKey": "username"},
            "passwordMountPath": "/var/run/secrets/db/",
        }
    )
    assert manifests.of_kind("Secret") == []
    assert manifests.volume("postgres-password")["secret"]["secretName"] == "app-db"
    assert manifests.volume("postgres-password")["secret"]["items"] == [
        {"key": "postgres-password", "path": "postgres-password"},
        {"key": "username", "path": "username"},
    ]
    assert manifests.config["POSTGRES_PASSWORD_FILE"] == "/var/run/secrets/db/postgres-password"
    assert manifests.mounts()["postgres-password"]["mountPath"] == "/var/run/secrets/db/"
    # the user name comes from the Secret, as a file like the password, never as an env var
    assert "POSTGRES_USER" not in manifests.config
    assert manifests.config["POSTGRES_USER_FILE"] == "/var/run/secrets/db/username"
    assert "POSTGRES_USER" not in manifests.env()


def test_existing_secret_with_user_key_as_env_vars(helm: Helm) -> None:
    manifests = helm.render(
        postgres={
            "existingSecret": "app-db",
            "usePasswordFile": False,
            "secretKeys": {"userKey": "username"},
        }
    )
    assert manifests.env()["POSTGRES_USER"]["valueFrom"] == {
        "secretKeyRef": {"name": "app-db", "key": "username"}
    }


def test_existing_secret_as_env_var(helm: Helm) -> None:
    manifests = helm.render(postgres={"existingSecret": "app-db", "usePasswordFile": False})
    assert manifests.env()["POSTGRES_PASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": "app-db", "key": "password"}
    }


def test_chart_secret_with_user_key(helm: Helm) -> None:
    manifests = helm.render(
        postgres={"password": "pw", "user": "app", "secretKeys": {"userKey": "username"}}
    )
    assert secret_value(manifests, "shop-drift-check", "username") == "app"
    assert manifests.config["POSTGRES_USER_FILE"].endswith("/username")


def test_no_password_no_secret(helm: Helm) -> None:
    manifests = helm.render()
    assert manifests.of_kind("Secret") == []
    assert "POSTGRES_PASSWORD_FILE" not in manifests.config
    assert [v["name"] for v in manifests.pod_spec["volumes"]] == ["tmp"]


# ---------------------------------------------------------------------------------------------
# env-file mode
# ---------------------------------------------------------------------------------------------


def test_env_file_from_secret(helm: Helm) -> None:
    manifests = helm.template(
        {"envFile": {"enabled": True, "existingSecret": "app-env"}, "drift": {"dbPrefix": "shop"}}
    )
    assert manifests.config == {
        "DRIFT_ENV_FILE": "/etc/drift-check/env/.env.k8s.development",
        "DRIFT_DB_PREFIX": "shop",
        "DRIFT_CONNECT_TIMEOUT": "30",
        "DRIFT_TIMEOUT": "480",
        "DRIFT_ORPHAN_TTL": "6h",
        "DRIFT_FORMAT": "text",
    }
    assert manifests.volume("env-file")["secret"] == {
        "secretName": "app-env",
        "defaultMode": 0o444,
        "items": [{"key": ".env.k8s.development", "path": ".env.k8s.development"}],
    }
    assert manifests.mounts()["env-file"] == {
        "name": "env-file",
        "mountPath": "/etc/drift-check/env",
        "readOnly": True,
    }
    assert manifests.of_kind("Secret") == []
    assert "postgres-password" not in manifests.mounts()


def test_env_file_leaves_the_databases_to_the_file(helm: Helm) -> None:
    """postgres.* is ignored with an env file: rendering DRIFT_MAINTENANCE_DB or POSTGRES_DB would
    override the file's own values (the container environment takes precedence)."""
    manifests = helm.template(
        {
            "envFile": {"enabled": True, "existingSecret": "app-env"},
            "postgres": {"database": "test_db", "maintenanceDatabase": "ops"},
        }
    )
    assert "POSTGRES_DB" not in manifests.config
    assert "DRIFT_MAINTENANCE_DB" not in manifests.config
    assert "DRIFT_ENV_FILE" in manifests.config


def test_env_file_from_configmap(helm: Helm) -> None:
    manifests = helm.template(
        {
            "envFile": {
                "enabled": True,
                "existingConfigMap": "app-env",
                "key": "app.env",
                "mountPath": "/config",
            }
        }
    )
    assert manifests.config["DRIFT_ENV_FILE"] == "/config/app.env"
    assert manifests.volume("env-file")["configMap"] == {
        "name": "app-env",
        "defaultMode": 0o444,
        "items": [{"key": "app.env", "path": "app.env"}],
    }


# ---------------------------------------------------------------------------------------------
# check settings
# ---------------------------------------------------------------------------------------------


def test_drift_settings(helm: Helm) -> None:
    manifests = helm.render(
        postgres={
            "sslmode": "verify-full",
            "port": 6432,
            "user": "gate",
            "database": "shop",
            "maintenanceDatabase": "maint",
        },
        drift={
            "projectDir": "/srv/app",
            "alembicConfig": "db/alembic.ini",
            "dbPrefix": "shop_gate",
            "urlEnv": "DATABASE_URL",
            "setEnv": {"SETTINGS_URL": "{url}", "APP_ENV": "ci"},
            "connectTimeout": 5,
            "timeout": 120,
            "orphanTtl": "2h",
            "format": "json",
            "python": "/opt/venv/bin/python",
            "workerMemory": "1G",
            "alembicName": "tenants",
            "alembicX": ["tenant=acme", "data=true"],
        },
    )
    config = manifests.config
    assert config["POSTGRES_SSLMODE"] == "verify-full"
    assert config["POSTGRES_PORT"] == "6432"
    assert config["POSTGRES_USER"] == "gate"
    assert config["POSTGRES_DB"] == "shop"
    assert config["DRIFT_MAINTENANCE_DB"] == "maint"
    assert config["DRIFT_PROJECT_DIR"] == "/srv/app"
    assert config["ALEMBIC_CONFIG"] == "db/alembic.ini"
    assert config["DRIFT_DB_PREFIX"] == "shop_gate"
    assert config["DRIFT_URL_ENV"] == "DATABASE_URL"
    # NAME=TEMPLATE entries, one per line, sorted (the tool splits on newlines)
    assert config["DRIFT_SET_ENV"] == "APP_ENV=ci\nSETTINGS_URL={url}"
    assert config["DRIFT_CONNECT_TIMEOUT"] == "5"
    assert config["DRIFT_TIMEOUT"] == "120"
    assert config["DRIFT_ORPHAN_TTL"] == "2h"
    assert config["DRIFT_FORMAT"] == "json"
    assert config["DRIFT_PYTHON"] == "/opt/venv/bin/python"
    assert config["DRIFT_WORKER_MEMORY"] == "1G"
    assert config["DRIFT_ALEMBIC_NAME"] == "tenants"
    # Alembic -x arguments, in the given order, `;`-separated (the tool splits on `;`)
    assert config["DRIFT_ALEMBIC_X"] == "tenant=acme;data=true"


def test_app_database_renders_postgres_db(helm: Helm) -> None:
    """postgres.database is the application's database (as in `.env.k8s.development`); it
    does not move the maintenance database."""
    config = helm.render(postgres={"database": "test_db"}).config
    assert config["POSTGRES_DB"] == "test_db"
    assert config["DRIFT_MAINTENANCE_DB"] == "postgres"


def test_maintenance_database_renders_drift_maintenance_db(helm: Helm) -> None:
    config = helm.render(postgres={"maintenanceDatabase": "ops"}).config
    assert config["DRIFT_MAINTENANCE_DB"] == "ops"
    assert "POSTGRES_DB" not in config
    # empty: left out, so the tool's own default applies (postgres, then template1)
    assert "DRIFT_MAINTENANCE_DB" not in helm.render(postgres={"maintenanceDatabase": ""}).config


def test_optional_check_settings_left_out_by_default(helm: Helm) -> None:
    config = helm.render().config
    for key in ("DRIFT_PYTHON", "DRIFT_WORKER_MEMORY", "DRIFT_ALEMBIC_NAME", "DRIFT_ALEMBIC_X"):
        assert key not in config, key


def test_maintenance_database_is_part_of_the_job_name(helm: Helm) -> None:
    """A changed maintenance database is a changed configuration: a new Job."""
    name = helm.render().job["metadata"]["name"]
    assert helm.render(postgres={"maintenanceDatabase": "ops"}).job["metadata"]["name"] != name


def test_production_scenario_settings(helm: Helm) -> None:
    config = helm.template(values_files=[CHART_DIR / "ci" / "existing-secret-values.yaml"]).config
    assert (config["POSTGRES_DB"], config["DRIFT_MAINTENANCE_DB"]) == ("shop", "postgres")
    assert config["DRIFT_PYTHON"] == "/opt/venv/bin/python"
    assert config["DRIFT_WORKER_MEMORY"] == "384M"


def test_args(helm: Helm) -> None:
    container = helm.render(job={"extraArgs": ["--debug", "--keep-database"]}).container
    assert container["args"] == ["check", "--debug", "--keep-database"]
    container = helm.render(job={"args": ["sweep", "--dry-run"]}).container
    assert container["args"] == ["sweep", "--dry-run"]


# ---------------------------------------------------------------------------------------------
# image
# ---------------------------------------------------------------------------------------------


def test_image_reference(helm: Helm) -> None:
    digest = "sha256:" + "ab" * 32
    assert (
        helm.render(image={"repository": "r.example/dc", "tag": "1.2"}).container["image"]
        == "r.example/dc:1.2"
    )
    assert helm.render(image={"digest": digest}).container["image"] == f"drift-check:0.1.0@{digest}"
    container = helm.render(image={"pullPolicy": "Always"}).container
    assert container["imagePullPolicy"] == "Always"
    pod = helm.render(imagePullSecrets=[{"name": "regcred"}]).pod_spec
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]


# ---------------------------------------------------------------------------------------------
# pre-deploy gate (Helm hooks) and Argo CD
# ---------------------------------------------------------------------------------------------


def test_plain_install_has_no_hooks(helm: Helm) -> None:
    manifests = helm.render(postgres={"password": "x"}, serviceAccount={"create": True})
    for document in manifests.documents:
        if document["kind"] == "Pod":
            continue
        assert not set(annotations_of(document)) & set(HOOK_KEYS), document["kind"]


def test_gate_renders_hooks_in_order(helm: Helm) -> None:
    manifests = helm.render(
        gate={"enabled": True}, postgres={"password": "x"}, serviceAccount={"create": True}
    )
    job_annotations = annotations_of(manifests.job)
    assert job_annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job_annotations["helm.sh/hook-delete-policy"] == "before-hook-creation"
    assert job_annotations["helm.sh/hook-output-log-policy"] == "hook-failed"
    job_weight = int(job_annotations["helm.sh/hook-weight"])
    for kind in ("ConfigMap", "Secret", "ServiceAccount"):
        document_annotations = annotations_of(manifests.one(kind))
        assert document_annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert document_annotations["helm.sh/hook-delete-policy"] == "before-hook-creation"
        # created before the Job that needs it
        assert int(document_annotations["helm.sh/hook-weight"]) < job_weight
        assert "argocd.argoproj.io/hook" not in document_annotations
    # a hook keeps one name: before-hook-creation replaces it
    assert manifests.job["metadata"]["name"] == "shop-drift-check"
    # the test pod stays a test hook
    assert annotations_of(manifests.test_pod)["helm.sh/hook"] == "test"


def test_gate_hook_weight(helm: Helm) -> None:
    manifests = helm.render(gate={"enabled": True, "hookWeight": -20})
    assert annotations_of(manifests.job)["helm.sh/hook-weight"] == "-20"
    assert annotations_of(manifests.config_map)["helm.sh/hook-weight"] == "-25"


def test_gate_argocd(helm: Helm) -> None:
    manifests = helm.render(gate={"enabled": True, "argocd": True}, postgres={"password": "x"})
    for kind in ("ConfigMap", "Secret", "Job"):
        document_annotations = annotations_of(manifests.one(kind))
        assert document_annotations["argocd.argoproj.io/hook"] == "PreSync"
        assert document_annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    assert int(annotations_of(manifests.config_map)["argocd.argoproj.io/sync-wave"]) < int(
        annotations_of(manifests.job)["argocd.argoproj.io/sync-wave"]
    )
    assert annotations_of(manifests.test_pod)["argocd.argoproj.io/hook"] == "Skip"


# ---------------------------------------------------------------------------------------------
# extension points
# ---------------------------------------------------------------------------------------------


def test_workspace_and_init_container(helm: Helm) -> None:
    manifests = helm.template(values_files=[CHART_DIR / "ci" / "workspace-values.yaml"])
    pod = manifests.pod_spec
    assert manifests.volume("workspace")["emptyDir"] == {"sizeLimit": "1Gi"}
    assert manifests.mounts()["workspace"]["mountPath"] == "/workspace"
    assert manifests.config["DRIFT_PROJECT_DIR"] == "/workspace/src/backend"
    (init,) = pod["initContainers"]
    assert init["name"] == "checkout"
    assert {"name": "workspace", "mountPath": "/workspace"} in init["volumeMounts"]
    # the test pod gets the same checkout (config --check-connection validates the project)
    assert manifests.test_pod["spec"]["initContainers"] == pod["initContainers"]


def test_workspace_is_the_default_project_dir(helm: Helm) -> None:
    manifests = helm.render(workspace={"enabled": True, "mountPath": "/src"})
    assert manifests.config["DRIFT_PROJECT_DIR"] == "/src"
    assert manifests.volume("workspace")["emptyDir"] == {"sizeLimit": "512Mi"}


def test_extension_points_are_templated(helm: Helm) -> None:
    manifests = helm.template(values_files=[CHART_DIR / "ci" / "workspace-values.yaml"])
    pod = manifests.pod_spec
    env = manifests.env()
    assert env["LOG_LEVEL"] == {"name": "LOG_LEVEL", "value": "debug"}
    assert env["RELEASE"] == {"name": "RELEASE", "value": "shop"}  # tpl rendered
    assert manifests.mounts()["ca-bundle"]["mountPath"] == "/etc/ssl/custom"
    assert manifests.volume("ca-bundle") == {
        "name": "ca-bundle",
        "configMap": {"name": "corporate-ca"},
    }
    template_metadata = manifests.job["spec"]["template"]["metadata"]
    assert template_metadata["annotations"] == {"example.com/purpose": "schema-drift-gate"}
    assert template_metadata["labels"]["example.com/team"] == "backend"
    assert manifests.job["metadata"]["labels"]["example.com/team"] == "backend"
    assert annotations_of(manifests.job) == {"example.com/owner": "backend-team"}
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"][0]["key"] == "dedicated"
    assert "nodeAffinity" in pod["affinity"]
    assert pod["priorityClassName"] == "low-priority"
    assert manifests.container["args"] == ["check", "--debug"]


def test_extra_env_from_and_env_order(helm: Helm) -> None:
    manifests = helm.render(
        postgres={"existingSecret": "db", "usePasswordFile": False},
        extraEnvFrom=[{"secretRef": {"name": "more-settings"}}],
        extraEnv=[{"name": "DRIFT_FORMAT", "value": "json"}],
    )
    assert manifests.container["envFrom"] == [
        {"configMapRef": {"name": "shop-drift-check"}},
        {"secretRef": {"name": "more-settings"}},
    ]
    # env entries win over envFrom keys, so extraEnv overrides the ConfigMap
    assert [e["name"] for e in manifests.container["env"]] == ["POSTGRES_PASSWORD", "DRIFT_FORMAT"]


def test_service_account(helm: Helm) -> None:
    manifests = helm.render(
        serviceAccount={"create": True, "annotations": {"iam.example.com/role": "gate"}}
    )
    account = manifests.one("ServiceAccount")
    assert account["metadata"]["name"] == "shop-drift-check"
    assert account["automountServiceAccountToken"] is False
    assert annotations_of(account) == {"iam.example.com/role": "gate"}
    assert manifests.pod_spec["serviceAccountName"] == "shop-drift-check"
    named = helm.render(serviceAccount={"create": False, "name": "ci-runner", "automount": True})
    assert named.pod_spec["serviceAccountName"] == "ci-runner"
    assert named.pod_spec["automountServiceAccountToken"] is True


def test_resources_override(helm: Helm) -> None:
    """Helm merges maps: overriding one key keeps the other defaults."""
    container = helm.render(
        resources={"requests": {"cpu": "1"}, "limits": {"memory": "1Gi"}}
    ).container
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "192Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }


def test_security_context_override(helm: Helm) -> None:
    """e.g. a cluster that wants an explicit user (not the chart's default)."""
    manifests = helm.render(
        podSecurityContext={"runAsNonRoot": True, "runAsUser": 10001, "fsGroup": 10001}
    )
    assert manifests.pod_spec["securityContext"]["runAsUser"] == 10001


# ---------------------------------------------------------------------------------------------
# helm test pod
# ---------------------------------------------------------------------------------------------


def test_connection_test_pod(helm: Helm) -> None:
    manifests = helm.render(postgres={"password": "x"})
    pod = manifests.test_pod
    assert pod["metadata"]["name"] == "shop-drift-check-test-connection"
    assert annotations_of(pod) == {
        "helm.sh/hook": "test",
        "helm.sh/hook-delete-policy": "before-hook-creation",
    }
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Never"
    (container,) = spec["containers"]
    assert container["args"] == ["config", "--check-connection"]
    assert container["envFrom"] == manifests.container["envFrom"]
    assert container["volumeMounts"] == manifests.container["volumeMounts"]
    assert container["securityContext"] == manifests.container["securityContext"]
    assert spec["volumes"] == manifests.pod_spec["volumes"]
    assert spec["automountServiceAccountToken"] is False


def test_connection_test_pod_can_be_disabled(helm: Helm) -> None:
    assert helm.render(tests={"enabled": False}).of_kind("Pod") == []


# ---------------------------------------------------------------------------------------------
# NOTES.txt
# ---------------------------------------------------------------------------------------------


NOTES_PROBE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: notes-probe
data:
  notes: {{ include "notes-probe" . | quote }}
"""


def _notes(helm: Helm, tmp_path: Path, *args: str) -> str:
    """NOTES.txt as rendered on install. `helm install --dry-run` needs a cluster with Helm 3,
    so a copy of the chart renders the same text through `helm template` instead.
    """
    chart = tmp_path / "drift-check"
    shutil.copytree(CHART_DIR, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text(encoding="utf-8")
    (chart / "templates" / "NOTES.txt").unlink()
    (chart / "templates" / "_notes_probe.tpl").write_text(
        '{{- define "notes-probe" -}}\n' + notes + "{{- end }}\n", encoding="utf-8"
    )
    (chart / "templates" / "notes-probe.yaml").write_text(NOTES_PROBE, encoding="utf-8")
    completed = helm.run(
        "template", "shop", str(chart), "--namespace", "shop-ci",
        "--set", "postgres.host=db.example.internal", *args,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    documents = [d for d in yaml.safe_load_all(completed.stdout) if d]
    rendered: str = next(d for d in documents if d["metadata"]["name"] == "notes-probe")["data"][
        "notes"
    ]
    return rendered


def test_notes_explain_the_verdict(helm: Helm, tmp_path: Path) -> None:
    notes = _notes(helm, tmp_path)
    job = helm.render().job["metadata"]["name"]
    assert f"kubectl -n shop-ci logs job/{job}" in notes
    assert f"drift-check k8s verdict {job} --namespace shop-ci --wait" in notes
    assert "grep -qwE 'Complete|Failed'" in notes  # the wait that also returns on failure
    assert "state.terminated.message" in notes  # the termination message
    assert "state.terminated.exitCode" in notes
    for code in ("0 no drift", "1 drift", "2 bad input", "3 database unreachable", "4 migrations"):
        assert code in notes
    assert "PodFailurePolicy" in notes
    assert "BackoffLimitExceeded" in notes
    assert "helm test shop" in notes
    assert "maintenance database postgres" in notes


def test_notes_name_the_maintenance_database(helm: Helm, tmp_path: Path) -> None:
    notes = _notes(helm, tmp_path, "--set", "postgres.maintenanceDatabase=ops")
    assert "maintenance database ops" in notes
    notes = _notes(helm, tmp_path / "unset", "--set", "postgres.maintenanceDatabase=")
    assert "the tool's default" in notes


def test_notes_in_gate_mode(helm: Helm, tmp_path: Path) -> None:
    notes = _notes(helm, tmp_path, "--set", "gate.enabled=true")
    assert "pre-install/pre-upgrade hook" in notes
    assert "kubectl -n shop-ci logs job/shop-drift-check" in notes

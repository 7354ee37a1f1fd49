"""Bad values are refused by `helm template` (values.schema.json or a template check), with a
message that names the offending value, on Helm 3 and Helm 4 (whose messages differ in form).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from chart_support import BASE_VALUES, CHART_DIR, Helm, merge


def names_path(stderr: str, dotted: str) -> bool:
    """Helm 3 reports `postgres.port`, Helm 4 `/postgres/port`."""
    slashed = "/" + dotted.replace(".", "/")
    return dotted in stderr or slashed in stderr


#: (id, values merged over BASE_VALUES, path named in the error)
SCHEMA_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("port-too-large", {"postgres": {"port": 99999}}, "postgres.port"),
    ("port-zero", {"postgres": {"port": 0}}, "postgres.port"),
    ("port-not-a-number", {"postgres": {"port": "5432x"}}, "postgres.port"),
    ("sslmode-unknown", {"postgres": {"sslmode": "sometimes"}}, "postgres.sslmode"),
    ("password-not-a-string", {"postgres": {"password": 12345}}, "postgres.password"),
    (
        "password-key-empty",
        {"postgres": {"secretKeys": {"passwordKey": ""}}},
        "postgres.secretKeys.passwordKey",
    ),
    (
        "existing-secret-bad-name",
        {"postgres": {"existingSecret": "Bad_Name"}},
        "postgres.existingSecret",
    ),
    (
        "mount-path-relative",
        {"postgres": {"passwordMountPath": "etc/pw"}},
        "postgres.passwordMountPath",
    ),
    (
        "maintenance-db-not-a-string",
        {"postgres": {"maintenanceDatabase": 5}},
        "postgres.maintenanceDatabase",
    ),
    (
        "maintenance-db-too-long",
        {"postgres": {"maintenanceDatabase": "m" * 64}},
        "postgres.maintenanceDatabase",
    ),
    ("database-not-a-string", {"postgres": {"database": ["test_db"]}}, "postgres.database"),
    ("database-newline", {"postgres": {"database": "test\ndb"}}, "postgres.database"),
    ("pull-policy", {"image": {"pullPolicy": "Sometimes"}}, "image.pullPolicy"),
    ("digest", {"image": {"digest": "sha256:abc"}}, "image.digest"),
    ("repository-empty", {"image": {"repository": ""}}, "image.repository"),
    ("pull-secrets-strings", {"imagePullSecrets": ["regcred"]}, "imagePullSecrets"),
    ("db-prefix", {"drift": {"dbPrefix": "Drift-Check"}}, "drift.dbPrefix"),
    ("format", {"drift": {"format": "yaml"}}, "drift.format"),
    ("connect-timeout", {"drift": {"connectTimeout": 0}}, "drift.connectTimeout"),
    ("orphan-ttl", {"drift": {"orphanTtl": "six hours"}}, "drift.orphanTtl"),
    ("set-env-name", {"drift": {"setEnv": {"1BAD": "x"}}}, "drift.setEnv"),
    ("url-env", {"drift": {"urlEnv": "DATABASE-URL"}}, "drift.urlEnv"),
    ("python-not-a-string", {"drift": {"python": True}}, "drift.python"),
    ("python-with-arguments", {"drift": {"python": "python3 -X dev"}}, "drift.python"),
    ("worker-memory-not-a-string", {"drift": {"workerMemory": 1024}}, "drift.workerMemory"),
    ("worker-memory-unit", {"drift": {"workerMemory": "1 gigabyte"}}, "drift.workerMemory"),
    ("alembic-name-not-a-string", {"drift": {"alembicName": 2}}, "drift.alembicName"),
    ("alembic-name-brackets", {"drift": {"alembicName": "[tenants]"}}, "drift.alembicName"),
    ("alembic-x-a-string", {"drift": {"alembicX": "tenant=acme"}}, "drift.alembicX"),
    ("alembic-x-not-strings", {"drift": {"alembicX": [{"tenant": "acme"}]}}, "drift.alembicX"),
    ("alembic-x-semicolon", {"drift": {"alembicX": ["tenant=acme;data=1"]}}, "drift.alembicX"),
    ("alembic-x-empty-entry", {"drift": {"alembicX": [""]}}, "drift.alembicX"),
    ("cache-not-a-boolean", {"drift": {"cache": "yes"}}, "drift.cache"),
    ("backoff-negative", {"job": {"backoffLimit": -1}}, "job.backoffLimit"),
    ("deadline-zero", {"job": {"activeDeadlineSeconds": 0}}, "job.activeDeadlineSeconds"),
    ("args-empty", {"job": {"args": []}}, "job.args"),
    ("args-not-strings", {"job": {"args": [1]}}, "job.args"),
    ("gate-not-boolean", {"gate": {"enabled": "yes"}}, "gate.enabled"),
    ("hook-weight-string", {"gate": {"hookWeight": "first"}}, "gate.hookWeight"),
    ("env-file-key", {"envFile": {"key": "a/b"}}, "envFile.key"),
    ("mount-missing-path", {"extraVolumeMounts": [{"name": "x"}]}, "extraVolumeMounts"),
    ("init-missing-image", {"initContainers": [{"name": "x"}]}, "initContainers"),
    ("size-limit", {"workspace": {"sizeLimit": "lots"}}, "workspace.sizeLimit"),
    ("pod-labels-not-strings", {"podLabels": {"a": {"b": "c"}}}, "podLabels"),
]


@pytest.mark.parametrize(
    ("values", "path"), [c[1:] for c in SCHEMA_CASES], ids=[c[0] for c in SCHEMA_CASES]
)
def test_schema_refuses(helm: Helm, values: dict[str, Any], path: str) -> None:
    stderr = helm.refused(merge(BASE_VALUES, values))
    assert names_path(stderr, path), stderr


#: unknown keys: (id, values, the key reported)
UNKNOWN_KEYS = [
    ("top-level-typo", {"postgress": {"host": "db"}}, "postgress"),
    ("nested-typo", {"postgres": {"hostname": "db"}}, "hostname"),
    ("job-typo", {"job": {"backofLimit": 3}}, "backofLimit"),
    ("gate-typo", {"gate": {"argoCD": True}}, "argoCD"),
    ("maintenance-db-typo", {"postgres": {"maintenanceDb": "ops"}}, "maintenanceDb"),
    ("drift-typo", {"drift": {"workerMem": "1G"}}, "workerMem"),
]


@pytest.mark.parametrize(
    ("values", "key"), [c[1:] for c in UNKNOWN_KEYS], ids=[c[0] for c in UNKNOWN_KEYS]
)
def test_schema_refuses_unknown_keys(helm: Helm, values: dict[str, Any], key: str) -> None:
    stderr = helm.refused(merge(BASE_VALUES, values))
    assert key in stderr
    assert re.search(r"additional propert", stderr, re.IGNORECASE), stderr


#: checks across values, done by the templates: (id, complete values, message fragment)
TEMPLATE_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("host-missing", {}, "postgres.host is required"),
    (
        "password-and-existing-secret",
        merge(BASE_VALUES, {"postgres": {"password": "x", "existingSecret": "db"}}),
        "set only one of postgres.password",
    ),
    (
        "user-key-without-secret",
        merge(BASE_VALUES, {"postgres": {"secretKeys": {"userKey": "username"}}}),
        "postgres.secretKeys.userKey needs a Secret",
    ),
    (
        "env-file-without-source",
        {"envFile": {"enabled": True}},
        "envFile.enabled needs envFile.existingSecret",
    ),
    (
        "env-file-two-sources",
        {"envFile": {"enabled": True, "existingSecret": "a", "existingConfigMap": "b"}},
        "set only one of envFile.existingSecret and envFile.existingConfigMap",
    ),
    (
        "env-file-and-password",
        {"envFile": {"enabled": True, "existingSecret": "a"}, "postgres": {"password": "x"}},
        "leave postgres.password and postgres.existingSecret empty",
    ),
    (
        "timeout-not-below-deadline",
        merge(BASE_VALUES, {"drift": {"timeout": 600}}),
        "drift.timeout (600) must be lower than job.activeDeadlineSeconds (600)",
    ),
    (
        "argocd-without-gate",
        merge(BASE_VALUES, {"gate": {"argocd": True}}),
        "set gate.enabled=true as well",
    ),
]


@pytest.mark.parametrize(
    ("values", "message"), [c[1:] for c in TEMPLATE_CASES], ids=[c[0] for c in TEMPLATE_CASES]
)
def test_template_checks_refuse(helm: Helm, values: dict[str, Any], message: str) -> None:
    assert message in helm.refused(values)


def test_timeout_unchecked_without_deadline(helm: Helm) -> None:
    helm.render(drift={"timeout": 3600}, job={"activeDeadlineSeconds": None})


def test_set_fails_install_too(helm: Helm) -> None:
    """The schema also guards `--set` (the usual way to pass values on the command line)."""
    completed = helm.run(
        "template",
        "shop",
        str(CHART_DIR),
        "--set",
        "postgres.host=db",
        "--set",
        "job.backoffLimit=lots",
    )
    assert completed.returncode != 0
    assert names_path(completed.stderr, "job.backoffLimit"), completed.stderr


def test_schema_describes_every_property() -> None:
    """Every property in values.schema.json has a description (the schema documents values)."""
    schema = json.loads((CHART_DIR / "values.schema.json").read_text(encoding="utf-8"))
    missing: list[str] = []

    def walk(node: dict[str, Any], path: str) -> None:
        for name, child in node.get("properties", {}).items():
            if "description" not in child:
                missing.append(f"{path}{name}")
            walk(child, f"{path}{name}.")

    walk(schema, "")
    assert missing == []
    assert schema["additionalProperties"] is False

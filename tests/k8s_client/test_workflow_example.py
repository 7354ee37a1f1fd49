"""The GitHub Actions example: its ``drift-check k8s run`` command line is one the CLI
accepts (run here as ``--dry-run``: no cluster), and the step keeps the exit code."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / "k8s" / "github-actions" / "drift-check.yml"


def test_the_workflow_runs_the_check_and_keeps_its_exit_code(k8s) -> None:  # type: ignore[no-untyped-def]
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    job = workflow["jobs"]["drift-check"]
    steps = {step.get("name"): step for step in job["steps"]}
    assert (
        "pip install 'alembic-drift-check[kubernetes]'"
        in steps["Install drift-check with the Kubernetes client"]["run"]
    )
    check = steps["Check in the cluster"]
    assert check["shell"] == "bash"  # GitHub's bash: -eo pipefail, the exit code is kept
    script = check["run"].replace("\\\n", " ").splitlines()[0]
    command = shlex.split(script.split(">", 1)[0])
    assert command[:3] == ["drift-check", "k8s", "run"]
    env = {"$NAMESPACE": job["env"]["NAMESPACE"], "$IMAGE": "ghcr.io/acme/shop/drift-check:abc"}
    args = [env.get(word, word) for word in command[3:]]
    out = k8s("run", "--dry-run", *args)
    assert out.code == 0, out.stderr
    assert "image: ghcr.io/acme/shop/drift-check:abc" in out.stdout
    assert "secretName: drift-check-postgres" in out.stdout

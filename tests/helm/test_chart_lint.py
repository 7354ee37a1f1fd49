"""`helm lint --strict` of the chart with every ci/*-values.yaml scenario, Helm 3 and Helm 4."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from chart_support import CHART_DIR, Helm, ci_values_files

#: Scenarios the chart must keep covering (each is linted and rendered by the tests).
REQUIRED_SCENARIOS = {
    "default",
    "password",
    "existing-secret",
    "gate",
    "argocd",
    "env-file",
    "env-file-configmap",
    "workspace",
}


def test_ci_scenarios_present() -> None:
    names = {path.name.removesuffix("-values.yaml") for path in ci_values_files()}
    assert not REQUIRED_SCENARIOS - names


@pytest.mark.parametrize("values_file", ci_values_files(), ids=lambda p: p.stem)
def test_lint_strict(helm: Helm, values_file: Path) -> None:
    completed = helm.run("lint", "--strict", str(CHART_DIR), "--values", str(values_file))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "0 chart(s) failed" in completed.stdout


def test_lint_strict_without_values(helm: Helm) -> None:
    """Lint itself passes on the bare chart (the missing host only fails an install)."""
    completed = helm.run("lint", "--strict", str(CHART_DIR))
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_chart_metadata() -> None:
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text(encoding="utf-8"))
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "drift-check"
    assert chart["appVersion"] == "0.1.0"
    assert chart["kubeVersion"] == ">=1.25.0-0"
    assert chart["type"] == "application"


def test_every_value_is_commented() -> None:
    """values.yaml documents every key with a comment directly above it. Keys inside a
    default value (e.g. resources.requests.cpu) are covered by the "# --" comment of the value.
    """
    lines = (CHART_DIR / "values.yaml").read_text(encoding="utf-8").splitlines()
    undocumented = []
    # (indent, is a documented value) of the keys enclosing the current line
    enclosing: list[tuple[int, bool]] = []
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("- "):
            continue
        indent = len(line) - len(line.lstrip())
        while enclosing and enclosing[-1][0] >= indent:
            enclosing.pop()
        comment = lines[number - 1].strip() if number else ""
        inside_value = any(is_value for _, is_value in enclosing)
        if not comment.startswith("#") and not inside_value:
            undocumented.append(f"{number + 1}: {stripped}")
        enclosing.append((indent, inside_value or comment.startswith("# --")))
    assert not undocumented, "values without a comment:\n" + "\n".join(undocumented)


def test_kube_version_constraint(helm: Helm) -> None:
    helm.template({"postgres": {"host": "db"}}, kube_version="1.25.0")
    completed = helm.run(
        "template", "shop", str(CHART_DIR), "--set", "postgres.host=db", "--kube-version", "1.24.9"
    )
    assert completed.returncode != 0
    assert "kubeVersion" in completed.stderr or "kube version" in completed.stderr.lower()

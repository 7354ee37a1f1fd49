"""The GitHub composite action and the workflows, without GitHub: ``action.yml``, the
workflows and the README's snippets validated against SchemaStore's schemas, and the action's
shell steps run here (see github_actions.py) with the variables and files a runner provides,
on the reference app (as this repository's workflow runs it) and on the README's example."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import jsonschema
import pytest
import yaml
from github_actions import (
    ActionRun,
    GitHubYamlLoader,
    clean_environment,
    load_github_yaml,
    run_action,
)
from projects import mini_project
from servers import REPO_ROOT

DATA = Path(__file__).parent / "data" / "schemastore"
ACTION = REPO_ROOT / "action.yml"
REUSABLE = REPO_ROOT / ".github" / "workflows" / "drift-check.yml"
OURS = REPO_ROOT / ".github" / "workflows" / "schema-drift.yml"
README_SECTION = (REPO_ROOT / "README.md").read_text().split("### GitHub Actions", 1)[1]
README_SECTION = README_SECTION.split("\n### ", 1)[0]
BACKEND_PYPROJECT = """
[project]
name = "backend"
version = "1"
dependencies = ["sqlalchemy", "alembic", "psycopg2-binary"]

[tool.setuptools]
py-modules = ["mini_models"]
"""


def _readme_workflows() -> list[dict[str, Any]]:
    """The README's two workflow snippets, as GitHub would read them."""
    blocks = [
        b.split("\n", 1)[1] for b in README_SECTION.split("```")[1::2] if b.startswith("yaml")
    ]
    return [yaml.load(block, Loader=GitHubYamlLoader) for block in blocks]


def _validate(document: Any, schema_name: str) -> None:
    schema = json.loads((DATA / schema_name).read_text())
    jsonschema.validate(document, schema, cls=jsonschema.Draft7Validator)


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        (ACTION, "github-action.json"),
        (REUSABLE, "github-workflow.json"),
        (OURS, "github-workflow.json"),
    ],
    ids=["action.yml", "drift-check.yml", "schema-drift.yml"],
)
def test_metadata_and_workflows_validate(path: Path, schema: str) -> None:
    _validate(load_github_yaml(path), schema)


def test_the_schemas_reject_what_github_would() -> None:
    action = load_github_yaml(ACTION)
    action["runs"]["steps"][0]["shelll"] = "bash"
    with pytest.raises(jsonschema.ValidationError):
        _validate(action, "github-action.json")


def test_readme_snippets_validate_and_name_real_inputs() -> None:
    reusable, with_action = _readme_workflows()
    for snippet in (reusable, with_action):
        _validate(snippet, "github-workflow.json")
    call = reusable["jobs"]["drift-check"]
    assert call["uses"] == "drift-check/drift-check/.github/workflows/drift-check.yml@main"
    assert set(call["with"]) <= set(load_github_yaml(REUSABLE)["on"]["workflow_call"]["inputs"])
    assert call["permissions"]["security-events"] == "write"
    (step,) = [
        s for s in with_action["jobs"]["schema-drift"]["steps"] if "drift-check" in s["uses"]
    ]
    assert set(step["with"]) <= set(load_github_yaml(ACTION)["inputs"])
    for snippet in (reusable, load_github_yaml(OURS)):
        assert {"ready_for_review", "edited"} <= set(snippet["on"]["pull_request"]["types"])


def test_reusable_workflow_forwards_every_input_of_the_action() -> None:
    action_inputs = load_github_yaml(ACTION)["inputs"]
    workflow = load_github_yaml(REUSABLE)
    inputs = workflow["on"]["workflow_call"]["inputs"]
    (step,) = [s for s in workflow["jobs"]["drift-check"]["steps"] if s.get("id") == "check"]
    assert step["uses"] == "./.drift-check-action"
    forwarded = set(action_inputs) - {"artifact-name"}  # one job: the default name is unique
    assert step["with"] == {name: f"${{{{ inputs.{name} }}}}" for name in forwarded}
    for name in forwarded:
        default = inputs[name]["default"]
        assert str(default).lower() == action_inputs[name]["default"], name


@pytest.fixture(scope="module")
def runner_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv holding drift-check's dependencies, as setup-python plus an earlier run of
    the install step leave it; the action's install step still installs drift-check itself."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    venv = tmp_path_factory.mktemp("runner") / "python"
    _run([uv, "venv", "--quiet", "--seed", "--python", sys.executable, str(venv)])
    _run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            f"{REPO_ROOT}[sqlmodel]",
        ]
    )
    return venv / "bin"


def _run(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=300)


def _runner_env(python_bin: Path) -> dict[str, str]:
    env = clean_environment(python_bin)
    # Offline, like a runner with the packages cached: everything but drift-check is there.
    env.update(PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0")
    return env


def _action(
    tmp_path: Path, workspace: Path, python_bin: Path, inputs: dict[str, str], **kw: Any
) -> ActionRun:
    runner_temp = tmp_path / "runner_temp"
    runner_temp.mkdir()
    return run_action(
        REPO_ROOT,
        inputs,
        workspace=workspace,
        runner_temp=runner_temp,
        env=_runner_env(python_bin),
        **kw,
    )


def test_this_repository_workflow_checks_the_reference_app(
    tmp_path: Path, project: Path, runner_python: Path
) -> None:
    workflow = load_github_yaml(OURS)
    job = workflow["jobs"]["reference-app"]
    assert "embedded" in job["strategy"]["matrix"]["postgres"]
    (step,) = [s for s in job["steps"] if s.get("uses") == "./"]
    inputs = {
        k: str(v).replace("${{ matrix.postgres }}", "embedded") for k, v in step["with"].items()
    }
    run = _action(tmp_path, project, runner_python, inputs, event_name="push")
    assert not run.failed, run.log
    assert run.outputs["status"] == "clean" and run.outputs["exit-code"] == "0", run.log
    assert run.step("Set up Python").with_ == {"python-version": "3.12"}
    assert not run.step("postgres").ran and not run.step("service").ran
    assert "no drift: the models match the migrations" in run.step("check").output
    junit = ElementTree.parse(run.outputs["junit"]).getroot()
    assert {case.get("name") for case in junit.iter("testcase")} >= {"settings", "migrations"}
    sarif = json.loads(Path(run.outputs["sarif"]).read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"] == []
    upload = run.step("Upload the reports").with_
    assert upload["name"] == "drift-check-reports-embedded"
    assert upload["path"].split() == [run.outputs["junit"], run.outputs["sarif"]]
    assert run.step("Upload SARIF to code scanning").with_["sarif_file"] == run.outputs["sarif"]
    assert run.step("Verdict").ran and run.step("Verdict").code == 0
    summary = (tmp_path / "runner_temp" / "step_summary.md").read_text()
    assert "No drift" in summary


def test_readme_example_fails_on_drift_after_writing_every_report(
    tmp_path: Path, runner_python: Path
) -> None:
    (_, with_action) = _readme_workflows()
    (step,) = [
        s for s in with_action["jobs"]["schema-drift"]["steps"] if "drift-check" in s["uses"]
    ]
    inputs = {k: str(v) for k, v in step["with"].items()}
    workspace = tmp_path / "repo"
    backend = mini_project(workspace / "backend", "env-var")
    (backend / "pyproject.toml").write_text(BACKEND_PYPROJECT)
    models = backend / "mini_models.py"
    models.write_text(models.read_text().replace("sa.String(200)", "sa.String(250)"))
    run = _action(
        tmp_path,
        workspace,
        runner_python,
        inputs,
        event_name="pull_request",
        event={"pull_request": {"draft": False, "title": "Longer notes"}},
    )
    assert run.outputs["status"] == "drift" and run.outputs["exit-code"] == "1", run.log
    assert run.step("check").code == 0  # the verdict waits until the reports are uploaded
    assert "SCHEMA DRIFT DETECTED: 1 difference" in run.step("check").output
    assert "::error file=backend/mini_models.py,line=" in run.step("check").output
    assert run.step("Upload the reports").ran and run.step("Upload SARIF to code scanning").ran
    verdict = run.step("Verdict")
    assert verdict.ran and verdict.code == 1 and run.failed
    sarif = json.loads(Path(run.outputs["sarif"]).read_text())
    (result,) = sarif["runs"][0]["results"]
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert location == "backend/mini_models.py"


@pytest.mark.parametrize(
    "pull_request",
    [{"draft": True, "title": "Add coupons"}, {"draft": False, "title": "[WIP] coupons"}],
    ids=["draft", "wip-title"],
)
def test_draft_and_wip_pull_requests_are_skipped(
    tmp_path: Path, pull_request: dict[str, Any]
) -> None:
    run = _action(
        tmp_path,
        tmp_path,
        Path(sys.executable).parent,
        {},
        event_name="pull_request",
        event={"pull_request": pull_request},
    )
    assert not run.failed, run.log
    assert run.outputs["status"] == "skipped"
    assert "::notice title=drift-check::skipped: a " in run.step("plan").output
    assert [s.step.get("name") for s in run.steps if s.ran] == ["Plan the drift check"]


def test_skip_wip_false_runs_on_a_draft(tmp_path: Path) -> None:
    run = _action(
        tmp_path,
        tmp_path,
        Path(sys.executable).parent,
        {"skip-wip": "false", "postgres": "service", "python-version": ""},
        event_name="pull_request",
        event={"pull_request": {"draft": True, "title": "[WIP] x"}},
    )
    assert run.step("plan").outputs["run"] == "true"
    if shutil.which("docker") is None:  # then the service cannot start, and says why
        assert run.failed and run.step("postgres").code == 2
        assert "postgres: service needs docker on the runner" in run.step("postgres").output
        assert not run.step("check").ran
        assert run.step("Verdict").code == 2 and "no verdict" in run.step("Verdict").output


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"postgres": "docker"}, "postgres: 'docker' is not embedded or service"),
        ({"skip-wip": "yes"}, "skip-wip: 'yes' is not true or false"),
    ],
)
def test_bad_inputs_stop_at_the_plan(tmp_path: Path, inputs: dict[str, str], message: str) -> None:
    run = _action(tmp_path, tmp_path, Path(sys.executable).parent, inputs)
    assert run.failed and run.step("plan").code == 2
    assert f"::error title=drift-check::{message}" in run.step("plan").output
    assert [s.step.get("name") for s in run.steps if s.ran] == ["Plan the drift check"]

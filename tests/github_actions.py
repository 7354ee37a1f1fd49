"""Running a composite action's shell steps here, as a GitHub runner would (there is no GitHub
here): YAML read as GitHub reads it, the ``${{ }}`` expressions the action uses evaluated, each
``run:`` step executed by bash with the environment and files a runner provides, and its
``GITHUB_OUTPUT`` read back. ``uses:`` steps cannot run here: they are recorded, with their
evaluated ``with:``, for the tests to check.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class GitHubYamlLoader(yaml.SafeLoader):
    """YAML 1.2 booleans, as GitHub reads workflows: ``on:`` is a key, not ``True``."""


GitHubYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
GitHubYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf")
)


def load_github_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=GitHubYamlLoader)


TOKEN = re.compile(r"\s*(?:('(?:[^']|'')*')|(==|!=|&&|\|\||!|\(|\))|([A-Za-z_][\w.-]*))")


class Expression:
    """The part of GitHub's expression language the action uses: string and boolean literals, context
    properties (null as ''), ``==``/``!=`` (case-insensitive, as GitHub compares strings),
    ``!``, ``&&``/``||`` (returning an operand), parentheses and ``always()``."""

    def __init__(self, text: str, lookup: Callable[[str], str]) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text.rstrip()):
            match = TOKEN.match(text, position)
            assert match, f"cannot read {text[position:]!r} in {text!r}"
            literal, operator, name = match.groups()
            if literal is not None:
                self.tokens.append(("str", literal[1:-1].replace("''", "'")))
            elif operator is not None:
                self.tokens.append(("op", operator))
            else:
                self.tokens.append(("name", name))
            position = match.end()
        self.lookup = lookup
        self.uses_status_function = any(t == ("name", "always") for t in self.tokens)

    def value(self) -> Any:
        result = self._or()
        assert not self.tokens, f"unread tokens {self.tokens}"
        return result

    def _next_is(self, kind: str, text: str | None = None) -> bool:
        """Whether the next token is this one (it is not consumed)."""
        return bool(self.tokens) and self.tokens[0][0] == kind and text in (None, self.tokens[0][1])

    def _or(self) -> Any:
        left = self._and()
        while self._next_is("op", "||"):
            self.tokens.pop(0)
            right = self._and()
            left = left if truthy(left) else right
        return left

    def _and(self) -> Any:
        left = self._comparison()
        while self._next_is("op", "&&"):
            self.tokens.pop(0)
            right = self._comparison()
            left = right if truthy(left) else left
        return left

    def _comparison(self) -> Any:
        left = self._unary()
        while self._next_is("op", "==") or self._next_is("op", "!="):
            operator = self.tokens.pop(0)[1]
            right = self._unary()
            equal = str(left).casefold() == str(right).casefold()
            left = equal if operator == "==" else not equal
        return left

    def _unary(self) -> Any:
        if self._next_is("op", "!"):
            self.tokens.pop(0)
            return not truthy(self._unary())
        if self._next_is("op", "("):
            self.tokens.pop(0)
            inner = self._or()
            assert self.tokens.pop(0) == ("op", ")")
            return inner
        kind, text = self.tokens.pop(0)
        if kind == "str":
            return text
        if text in ("true", "false"):
            return text == "true"
        if text == "always":
            assert self.tokens[:2] == [("op", "("), ("op", ")")]
            del self.tokens[:2]
            return True
        return self.lookup(text)


def truthy(value: Any) -> bool:
    return value not in ("", False, None, 0)


@dataclass
class StepRun:
    """What one step did: ``ran`` is False for a step its ``if:`` skipped."""

    step: dict[str, Any]
    ran: bool
    code: int = 0
    output: str = ""
    env: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    with_: dict[str, str] = field(default_factory=dict)


@dataclass
class ActionRun:
    steps: list[StepRun]
    outputs: dict[str, str]
    failed: bool

    @property
    def log(self) -> str:
        return "".join(s.output for s in self.steps)

    def step(self, name_or_id: str) -> StepRun:
        return next(s for s in self.steps if name_or_id in (s.step.get("id"), s.step.get("name")))


def read_outputs(path: Path) -> dict[str, str]:
    """``name=value`` lines and ``name<<DELIMITER`` blocks, as the runner reads them."""
    outputs: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    while lines:
        line = lines.pop(0)
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter)
            outputs[name], lines = "\n".join(lines[:end]), lines[end + 1 :]
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def run_action(
    action_dir: Path,
    inputs: dict[str, str],
    *,
    workspace: Path,
    runner_temp: Path,
    env: dict[str, str],
    event: dict[str, Any] | None = None,
    event_name: str = "push",
) -> ActionRun:
    """Every step of ``action_dir/action.yml`` in order, as a runner runs a composite action."""
    action = load_github_yaml(action_dir / "action.yml")
    given = {
        name: str(inputs.get(name, spec.get("default", "")))
        for name, spec in action.get("inputs", {}).items()
    }
    assert set(inputs) <= set(given), f"unknown inputs {set(inputs) - set(given)}"
    event_path = runner_temp / "event.json"
    event_path.write_text(json.dumps(event or {}))
    summary = runner_temp / "step_summary.md"
    base = {
        **env,
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTION_PATH": str(action_dir),
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_RUN_ID": "4242",
        "GITHUB_RUN_ATTEMPT": "1",
        "RUNNER_TEMP": str(runner_temp),
        "RUNNER_OS": "Linux",
    }
    step_outputs: dict[str, dict[str, str]] = {}

    def lookup(name: str) -> str:
        parts = name.split(".")
        if parts[0] == "inputs":
            return given[parts[1]]
        if parts[0] == "steps" and parts[2] == "outputs":
            return step_outputs.get(parts[1], {}).get(parts[3], "")
        if name == "github.action_path":
            return str(action_dir)
        raise AssertionError(f"context {name} is not known to this runner")

    def interpolate(text: str) -> str:
        return re.sub(
            r"\$\{\{(.*?)\}\}", lambda m: str(Expression(m.group(1), lookup).value()), text
        )

    failed = False
    runs: list[StepRun] = []
    for number, step in enumerate(action["runs"]["steps"]):
        condition = Expression(str(step.get("if", "true")), lookup)
        ran = truthy(condition.value()) and (condition.uses_status_function or not failed)
        if not ran:
            runs.append(StepRun(step, ran=False))
            continue
        if "uses" in step:
            with_ = {k: interpolate(str(v)) for k, v in step.get("with", {}).items()}
            runs.append(StepRun(step, ran=True, with_=with_))
            continue
        output_file = runner_temp / f"output_{number}"
        output_file.write_text("")
        step_env = {k: interpolate(str(v)) for k, v in step.get("env", {}).items()}
        script = runner_temp / f"step_{number}.sh"
        script.write_text(interpolate(step["run"]))
        cwd = workspace / interpolate(step.get("working-directory", "."))
        completed = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd,
            env={**base, **step_env, "GITHUB_OUTPUT": str(output_file)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
            check=False,
        )
        outputs = read_outputs(output_file)
        if "id" in step:
            step_outputs[step["id"]] = outputs
        runs.append(StepRun(step, True, completed.returncode, completed.stdout, step_env, outputs))
        if completed.returncode != 0 and not step.get("continue-on-error", False):
            failed = True
    action_outputs = {
        name: interpolate(spec["value"]) for name, spec in action.get("outputs", {}).items()
    }
    return ActionRun(runs, action_outputs, failed)


def clean_environment(path_first: Path | None = None) -> dict[str, str]:
    """The machine's environment less what would point drift-check at a server."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POSTGRES_", "PG", "DRIFT_", "GITHUB_", "RUNNER_"))
    }
    if path_first is not None:
        env["PATH"] = f"{path_first}{os.pathsep}{env.get('PATH', '')}"
    return env

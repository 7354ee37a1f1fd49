"""Fixtures for the ``drift-check k8s`` tests: the HTTP Kubernetes API stand-in (no real
cluster can run on these machines; see fake_api.py) and the command run in-process."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fake_api import FakeApi

from drift_job.cli import main


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi().start()
    yield fake
    fake.close()
    if fake.scenario_error is not None:
        raise fake.scenario_error


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def k8s(
    api: FakeApi,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):  # type: ignore[no-untyped-def]
    """``drift-check k8s ARGS`` against the fake API (its kubeconfig), stdin as given."""
    kubeconfig = api.kubeconfig(tmp_path / "kubeconfig")
    monkeypatch.delenv("KUBECONFIG", raising=False)

    def run(*args: str, stdin: str = "") -> Outcome:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        command, *rest = args
        bounded = [] if "--pending-timeout" in rest else ["--pending-timeout", "20s"]
        code = main(["k8s", command, "--kubeconfig", str(kubeconfig), *bounded, *rest])
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run

"""Fixtures for the Helm chart, plain manifest and pipeline tests (helpers: chart_support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from chart_support import Binaries, Helm, find_binaries


@pytest.fixture(scope="session")
def binaries(request: pytest.FixtureRequest) -> Binaries:
    """Helm 3, Helm 4 and kubectl; fetched into the pytest cache on first use."""
    return find_binaries(Path(request.config.cache.mkdir("helm-binaries")))


@pytest.fixture(scope="session")
def helm3(binaries: Binaries, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm("helm3", binaries.helm3, tmp_path_factory.mktemp("helm3"))


@pytest.fixture(scope="session")
def helm4(binaries: Binaries, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm("helm4", binaries.helm4, tmp_path_factory.mktemp("helm4"))


@pytest.fixture(params=["helm3", "helm4"])
def helm(request: pytest.FixtureRequest) -> Helm:
    """Each chart test runs with Helm 3 and with Helm 4."""
    selected: Helm = request.getfixturevalue(request.param)
    return selected


@pytest.fixture(scope="session")
def kubectl(binaries: Binaries) -> Path:
    return binaries.kubectl

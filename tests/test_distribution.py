"""The distribution is ``alembic-drift-check`` (``drift-check`` on PyPI is an unrelated project):
every install line in the docs names that, or a local path, never the other name."""

from __future__ import annotations

import itertools
import re
import shlex
import tomllib
from pathlib import Path

from servers import REPO_ROOT

DISTRIBUTION = "alembic-drift-check"
INSTALL = re.compile(r"\b(?:uv pip|pipx|pip) install\b(?P<args>[^`#&|;\n),]*)")
OURS = re.compile(rf"^{re.escape(DISTRIBUTION)}(\[[a-z,]+\])?([<>=!~].*)?$")
LOCAL = re.compile(r"^(\.|\./\S*|/\S+)(\[[a-z,]+\])?$")


def _docs() -> list[Path]:
    return [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]


def _install_targets(text: str) -> list[str]:
    targets = []
    for match in INSTALL.finditer(text):
        words = shlex.split(match["args"])
        # ``-r FILE`` names the project's own requirements file, not a package.
        files = {b for a, b in itertools.pairwise(words) if a in ("-r", "--requirement")}
        targets += [word for word in words if not word.startswith("-") and word not in files]
    return targets


def test_the_scanner_sees_every_form() -> None:
    text = (
        "pip install '.[sqlmodel]' && x\n`pip install -e '.[test]'`\n"
        "pipx install drift-check\nuv pip install alembic-drift-check[sqlmodel]  # note\n"
    )
    assert _install_targets(text) == [
        ".[sqlmodel]",
        ".[test]",
        "drift-check",
        "alembic-drift-check[sqlmodel]",
    ]


def test_install_lines_name_only_a_local_path_or_our_distribution() -> None:
    bad = []
    for doc in _docs():
        for target in _install_targets(doc.read_text(encoding="utf-8")):
            ours = OURS.match(target)
            local = (
                LOCAL.match(target) and "drift-check" not in target and "drift_check" not in target
            )
            if not (ours or local):
                bad.append(f"{doc.name}: pip install {target}")
    assert not bad, bad


def test_pyproject_names_the_distribution_and_keeps_the_command() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == DISTRIBUTION
    assert project["scripts"] == {"drift-check": "drift_job.cli:main"}
    self_references = [
        requirement
        for extra in project["optional-dependencies"].values()
        for requirement in extra
        if "drift" in requirement
    ]
    assert self_references == [f"{DISTRIBUTION}[sqlmodel]"]


def test_the_version_is_read_from_our_distribution() -> None:
    source = (REPO_ROOT / "src" / "drift_job" / "__init__.py").read_text()
    assert f'version("{DISTRIBUTION}")' in source


def test_the_image_installs_the_wheel_under_its_name() -> None:
    dockerfile = (REPO_ROOT / "image" / "Dockerfile").read_text()
    assert "/dist/alembic_drift_check-*.whl" in dockerfile
    assert "/dist/drift_check-" not in dockerfile

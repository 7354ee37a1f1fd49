"""Shared pieces of the container image test (used by conftest.py and the tests)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "image" / "Dockerfile"

BASE_TAG = "localhost/python-base:3.11"
IMAGE_TAG = "localhost/drift-check:test"
DEBIAN_SUITE = "bookworm"
FALLBACK_MIRROR = "http://deb.debian.org/debian"

APT_PACKAGES = (
    "buildah",
    "podman",
    "runc",
    "conmon",
    "uidmap",
    "fuse-overlayfs",
    "netavark",
    "catatonit",
    "containernetworking-plugins",
    "mmdebstrap",
    "golang-github-containers-common",
)
REQUIRED_COMMANDS = ("buildah", "podman", "runc", "mmdebstrap")

#: (step, seconds) in the order they ran; printed in the terminal summary.
TIMINGS: list[tuple[str, float]] = []
#: Facts about the built image, printed in the terminal summary.
FACTS: dict[str, str] = {}


class Timer:
    """Context manager that appends the wall time of a step to TIMINGS."""

    def __init__(self, step: str) -> None:
        self.step = step
        self.start = 0.0

    def __enter__(self) -> Timer:
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        TIMINGS.append((self.step, time.monotonic() - self.start))


def loud_skip(reason: str) -> None:
    """Skip with a message that cannot be missed; fail instead where the image test is
    required (DRIFT_CHECK_REQUIRE_IMAGE=1, e.g. in CI)."""
    message = f"!!! CONTAINER IMAGE NOT TESTED: {reason} !!!"
    if os.environ.get("DRIFT_CHECK_REQUIRE_IMAGE") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def apt_mirror(sources: Sequence[Path] | None = None) -> str:
    """The Debian mirror apt uses on this machine (first URI serving the plain suite)."""
    if sources is None:
        apt_dir = Path("/etc/apt")
        sources = [apt_dir / "sources.list"]
        sources += sorted((apt_dir / "sources.list.d").glob("*.list"))
        sources += sorted((apt_dir / "sources.list.d").glob("*.sources"))
    candidates: list[tuple[str, list[str]]] = []
    for path in sources:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line:
                        continue
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
                if "deb" not in fields.get("types", "").split():
                    continue
                if fields.get("enabled", "yes").lower() == "no":
                    continue
                suites = fields.get("suites", "").split()
                candidates += [(uri, suites) for uri in fields.get("uris", "").split()]
        else:
            for line in text.splitlines():
                parts = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
                if len(parts) >= 3 and parts[0] == "deb":
                    candidates.append((parts[1], [parts[2]]))
    for uri, suites in candidates:
        # A Debian mirror serving a plain suite (bookworm, trixie, stable), not
        # -security/-updates; on other distributions the public Debian mirror.
        plain_suite = any("-" not in suite and "/" not in suite for suite in suites)
        if plain_suite and "debian" in uri and "security" not in uri:
            return uri.rstrip("/")
    return FALLBACK_MIRROR


@dataclass
class Containers:
    """buildah/podman bound to this session's private configuration and storage."""

    workdir: Path
    env: dict[str, str] = field(default_factory=dict)

    def _run(
        self,
        tool: str,
        args: Sequence[str],
        *,
        extra_env: Mapping[str, str] | None = None,
        timeout: float = 120,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [tool, *args],
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            check=False,
        )

    def podman(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return self._run("podman", args, **kwargs)  # type: ignore[arg-type]

    def buildah(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return self._run("buildah", args, **kwargs)  # type: ignore[arg-type]

    def popen(self, args: Sequence[str], extra_env: Mapping[str, str]) -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["podman", *args],
            env={**self.env, **extra_env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

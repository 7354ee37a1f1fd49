"""The throwaway servers' temporary directories: whose each one is, and reaping the orphans.

Every directory carries an owner marker (pid, the process's start time so a reused pid is not
mistaken for the owner, boot and pid namespace). A run killed by SIGKILL or the OOM killer
cannot stop its server; :func:`reap_orphans` later stops such a server and deletes its
directory, touching only directories whose marker is ours and whose owner is provably gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from drift_job.database import TOOL_NAME

UNPRIVILEGED_ACCOUNT = "nobody"
WORKDIR_PREFIX = "drift-check-pg-"
OWNER_MARKER = "drift-check-owner.json"
STOP_WAIT = 10.0


def run_binary(
    bindir: Path,
    args: Sequence[str],
    *,
    account: pwd.struct_passwd | None,
    cwd: Path | None,
    timeout: float,
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL program from ``bindir``, as ``account`` if given (when we are root)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
    return subprocess.run(  # noqa: S603 - fixed binaries from our own bindir, list arguments
        [str(bindir / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
        check=False,
        user=account.pw_uid if account else None,
        group=account.pw_gid if account else None,
        extra_groups=[] if account else None,
    )


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on; the command name may contain anything."""
    text = _read(f"/proc/{pid}/stat")
    return None if text is None else text[text.rfind(")") + 2 :].split()


def _running(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


@dataclass(frozen=True)
class Owner:
    """The process that started a throwaway server."""

    pid: int
    start_time: str  # /proc/<pid>/stat field 22: clock ticks after boot
    boot_id: str
    pid_namespace: str
    uid: int
    bindir: str
    created: str
    tool: str = TOOL_NAME


def _this_process(bindir: Path) -> Owner | None:
    """This process as an owner, or None without Linux's /proc."""
    fields = _stat_fields(os.getpid())
    boot_id = _read("/proc/sys/kernel/random/boot_id")
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    if fields is None or not boot_id:
        return None
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Owner(os.getpid(), fields[19], boot_id, namespace, os.geteuid(), str(bindir), created)


def write_owner_marker(workdir: Path, bindir: Path) -> None:
    """Record this process as the owner of ``workdir`` (atomically: a reaper never reads half).

    Without /proc (not Linux) no marker is written, and such a directory is never reaped.
    """
    owner = _this_process(bindir)
    if owner is None:
        return
    partial = workdir / f".{OWNER_MARKER}"
    partial.write_text(json.dumps(asdict(owner)), encoding="utf-8")
    partial.replace(workdir / OWNER_MARKER)


def _read_owner(marker: Path) -> Owner | None:
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        owner = Owner(**data)
    except (OSError, ValueError, TypeError):
        return None
    return owner if owner.tool == TOOL_NAME else None


def _owner_gone(owner: Owner) -> bool:
    """True only if we can tell: same boot and pid namespace, and the pid is not the owner."""
    if _read("/proc/sys/kernel/random/boot_id") != owner.boot_id:
        return True  # rebooted: every process of the last boot is gone
    try:
        if os.readlink("/proc/self/ns/pid") != owner.pid_namespace:
            return False  # another container's pids mean nothing here
    except OSError:
        return False
    fields = _stat_fields(owner.pid)
    return fields is None or fields[0] in ("Z", "X") or fields[19] != owner.start_time


def _ours(workdir: Path, marker: Path) -> bool:
    """Created by our account: the marker file is ours; the directory is ours (or, when we are
    root, was handed to the unprivileged account, as ThrowawayServer does)."""
    uid = os.geteuid()
    try:
        marker_stat, dir_stat = marker.lstat(), workdir.lstat()
    except OSError:
        return False
    if not marker.is_file() or marker.is_symlink() or marker_stat.st_uid != uid:
        return False
    allowed = {uid}
    if uid == 0:
        with contextlib.suppress(KeyError):
            allowed.add(pwd.getpwnam(UNPRIVILEGED_ACCOUNT).pw_uid)
    return dir_stat.st_uid in allowed


def _postmaster(data: Path) -> int | None:
    """The running postmaster of ``data``: the pid file's pid, if it runs in that directory."""
    text = _read(str(data / "postmaster.pid"))
    if not text or not text.split()[0].isdigit():
        return None
    pid = int(text.split()[0])
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None
    return pid if _running(pid) and Path(cwd) == data.resolve() else None


def copied_bindir(workdir: Path, bindir: Path) -> Path:
    """Where a run copies the installation of ``bindir`` when the unprivileged account cannot
    reach it: as deep as in the wheel (``<package>/pginstall/bin``), so that relative library
    paths still resolve."""
    install = bindir.parent
    return workdir / "pg" / install.parent.name / install.name / bindir.name


def _stop(workdir: Path, owner: Owner) -> int | None:
    """Stop the server in ``workdir`` (pg_ctl as the data's owner, else signals); its pid."""
    data = workdir / "data"
    pid = _postmaster(data)
    if pid is None:
        return None
    account = None
    with contextlib.suppress(OSError, KeyError):
        data_uid = data.stat().st_uid
        account = pwd.getpwuid(data_uid) if data_uid != os.geteuid() else None
    for bindir in (copied_bindir(workdir, Path(owner.bindir)), Path(owner.bindir)):
        if (bindir / "pg_ctl").is_file() and (os.geteuid() != 0 or account is not None):
            args = ["pg_ctl", "-D", str(data), "-m", "immediate", "-w", "-t", "30", "stop"]
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                run_binary(bindir, args, account=account, cwd=workdir, timeout=40)
            break
    for sig in (signal.SIGQUIT, signal.SIGKILL):  # immediate shutdown, then no choice
        if _postmaster(data) is None:
            break
        with contextlib.suppress(OSError):
            os.kill(pid, sig)
        deadline = time.monotonic() + STOP_WAIT
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    return pid


def _reap(workdir: Path, owner: Owner, log: Callable[[str], None], dry_run: bool) -> bool:
    whose = f"its drift-check process {owner.pid} is gone"
    if dry_run:
        log(f"would stop the orphaned throwaway PostgreSQL in {workdir} ({whose})")
        return True
    pid = _stop(workdir, owner)
    if pid is not None and _running(pid):
        log(f"cannot stop the orphaned throwaway PostgreSQL in {workdir} (pid {pid})")
        return False
    shutil.rmtree(workdir, ignore_errors=True)
    if workdir.exists():
        log(f"cannot remove {workdir} completely (its PostgreSQL is stopped)")
        return False
    stopped = f"stopped the orphaned throwaway PostgreSQL (pid {pid}) and " if pid else ""
    log(f"{stopped}removed {workdir} ({whose})")
    return True


def reap_orphans(
    log: Callable[[str], None], *, dry_run: bool = False, tempdir: Path | None = None
) -> int:
    """Stop and delete the throwaway servers of killed runs; returns how many were reaped.

    Looks at ``drift-check-pg-*`` in ``tempdir`` (default: ``tempfile.gettempdir()``) and
    takes only directories with our owner marker, created by our account, whose owner is gone.
    A reaper holds a lock on the marker, so concurrent reapers do not trip over each other.
    """
    base = tempdir or Path(tempfile.gettempdir())
    try:
        candidates = sorted(p for p in base.iterdir() if p.name.startswith(WORKDIR_PREFIX))
    except OSError:
        return 0
    reaped = 0
    for workdir in candidates:
        marker = workdir / OWNER_MARKER
        if workdir.is_symlink() or not workdir.is_dir() or not _ours(workdir, marker):
            continue
        owner = _read_owner(marker)
        if owner is None or owner.uid != os.geteuid() or not _owner_gone(owner):
            continue
        try:
            handle = marker.open("rb")
        except OSError:
            continue
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # another reaper is at it
            if not marker.exists():
                continue  # that reaper has just finished
            reaped += _reap(workdir, owner, log, dry_run)
    return reaped

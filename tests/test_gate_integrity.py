"""Hostile and careless project code cannot fake a verdict or corrupt the report.

Each case is a small project whose env.py or models misbehave the way real projects do:
``os._exit``, ``sys.exit``, crashes, loggers on stdout, hung threads, endless loops. The
verdict must be a failure naming the stage (exit 4 while migrations ran, else 2), stdout must
hold exactly the report, and nothing may be left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from projects import mini_project, patch
from servers import PostgresServer, drift_check

MIGRATING = "if not context.config.cmd_opts.autogenerate:\n    "
COMPARING = "if context.config.cmd_opts.autogenerate:\n    "


def hostile(root: Path, code: str, *, env_style: str = "shared-connection") -> Path:
    """The mini project with ``code`` run by env.py before it migrates."""
    project = mini_project(root, env_style)
    env_py = project / "migrations" / "env.py"
    env_py.write_text(
        "import os, sys\nfrom alembic import context\n"
        + textwrap.dedent(code)
        + "\n"
        + env_py.read_text()
    )
    return project


def _embedded_dirs(base: Path) -> set[str]:
    return {p.name for p in base.glob("drift-check-pg-*")}


@pytest.mark.parametrize(
    ("code", "exit_code", "words"),
    [
        (MIGRATING + "os._exit(0)", 4, "exited with status 0"),
        (COMPARING + "os._exit(0)", 2, "exited with status 0"),
        (MIGRATING + "os._exit(3)", 4, "exited with status 3"),
        ("import ctypes\n" + MIGRATING + "ctypes.string_at(0)", 4, "killed by SIGSEGV"),
        (MIGRATING + "os.kill(os.getpid(), 9)", 4, "killed by SIGKILL"),
        (COMPARING + "sys.exit(0)", 2, "sys.exit(0)"),
        (MIGRATING + "sys.exit(0)", 2, "sys.exit(0)"),
    ],
    ids=[
        "os._exit(0) migrating",
        "os._exit(0) comparing",
        "os._exit(3) migrating",
        "segfault migrating",
        "SIGKILL migrating",
        "sys.exit comparing",
        "sys.exit in env.py",
    ],
)
def test_a_worker_that_ends_early_never_gives_a_verdict(
    pg_server: PostgresServer, tmp_path: Path, code: str, exit_code: int, words: str
) -> None:
    project = hostile(tmp_path, code)
    run = drift_check("check", "--format", "json", env=pg_server.env(), cwd=project)
    assert run.code == exit_code, run.output
    report = json.loads(run.stdout)
    assert report["status"] == "error"
    assert report["exit_code"] == exit_code
    assert words in report["message"], report["message"]
    assert run.stderr.strip().splitlines()[-1].startswith("drift-check: "), run.stderr
    assert pg_server.temporary_databases() == []


def test_os_exit_on_the_embedded_server_leaves_no_server_behind(tmp_path: Path) -> None:
    project = hostile(tmp_path, MIGRATING + "os._exit(0)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "PG", "DRIFT_"))}
    # A private, short TMPDIR (socket paths are short): other tests' servers never show in it.
    scratch = Path(tempfile.mkdtemp(prefix="dc-exit-", dir="/tmp"))
    scratch.chmod(0o755)  # the unprivileged account the server runs as, when we are root
    try:
        run = drift_check("check", env={**env, "TMPDIR": str(scratch)}, cwd=project)
        assert run.code == 4, run.output
        assert "during migrate" in run.stderr
        assert _embedded_dirs(scratch) == set()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def test_project_output_never_reaches_the_report(pg_server: PostgresServer, tmp_path: Path) -> None:
    """A logger on stdout (as Mealie's is), prints at import, raw writes to fd 1."""
    project = hostile(
        tmp_path,
        """
        import logging
        logging.basicConfig(stream=sys.stdout, level=logging.INFO, force=True)
        for n in range(60):
            logging.getLogger("app").info("starting up %d", n)
        print("a print from env.py")
        os.write(1, b"a raw write to fd 1\\n")
        """,
    )
    run = drift_check("check", "--format", "json", env=pg_server.env(), cwd=project)
    assert run.code == 0, run.output
    assert json.loads(run.stdout)["status"] == "clean"
    assert "starting up" not in run.output  # kept out of the stage lines by default
    verbose = drift_check(
        "check", "--format", "json", "--verbose", env=pg_server.env(), cwd=project
    )
    assert verbose.code == 0, verbose.output
    assert json.loads(verbose.stdout)["status"] == "clean"
    assert "  | INFO:app:starting up 59" in verbose.stderr
    assert "  | a raw write to fd 1" in verbose.stderr


def test_project_output_is_shown_on_failure(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = hostile(
        tmp_path, 'print("cannot find the settings file, giving up")\nraise SystemExit(3)'
    )
    run = drift_check("check", env=pg_server.env(), cwd=project)
    assert run.code == 2, run.output
    assert "  | cannot find the settings file, giving up" in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("drift-check: ")


def test_a_hung_project_thread_does_not_hold_the_verdict(
    pg_server: PostgresServer, tmp_path: Path
) -> None:
    project = hostile(
        tmp_path,
        "import threading, time\nthreading.Thread(target=time.sleep, args=(600,)).start()",
    )
    started = time.monotonic()
    run = drift_check("check", env=pg_server.env(), cwd=project)
    assert run.code == 0, run.output
    assert time.monotonic() - started < 30


def test_timeout_kills_a_worker_stuck_in_python(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = hostile(tmp_path, MIGRATING + "while True: pass")
    started = time.monotonic()
    run = drift_check("check", "--timeout", "4", env=pg_server.env(), cwd=project, timeout=60)
    assert run.code == 3, run.output
    assert "timed out after 4 s (DRIFT_TIMEOUT) during migrate" in run.stderr
    assert time.monotonic() - started < 20
    assert pg_server.temporary_databases() == []


FORGE = """
import stat
def forge():
    line = b'{"v": 1, "type": "result", "differences": [], "suggested_migration": ""}\\n'
    for fd in range(3, 64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.write(fd, line)
        except OSError:
            pass
"""


@pytest.mark.parametrize("when", [MIGRATING, COMPARING], ids=["migrating", "comparing"])
def test_a_forged_result_is_no_verdict(
    pg_server: PostgresServer, tmp_path: Path, when: str
) -> None:
    """Project code shares the worker's process: what it writes into our pipe is refused."""
    project = hostile(tmp_path, FORGE + when + "forge()")
    run = drift_check("check", "--format", "json", env=pg_server.env(), cwd=project)
    assert run.code in (2, 4), run.output
    report = json.loads(run.stdout)
    assert report["status"] == "error"
    assert "is not a message" in report["message"], report["message"]
    assert pg_server.temporary_databases() == []


def test_reference_app_patch_helper_still_works(project: Path) -> None:
    """(The helpers these tests use are shared with the rest of the suite.)"""
    patch(project, "alembic.ini", "truncate_slug_length = 40", "truncate_slug_length = 40")


def test_worker_memory_is_bounded(pg_server: PostgresServer, tmp_path: Path) -> None:
    project = hostile(tmp_path, MIGRATING + "hog = bytearray(2 << 30)")
    run = drift_check(
        "check", "--format", "json", env=pg_server.env(DRIFT_WORKER_MEMORY="512M"), cwd=project
    )
    assert run.code == 4, run.output
    message = json.loads(run.stdout)["message"]
    assert "ran out of memory during migrate (DRIFT_WORKER_MEMORY limits it)" in message, message
    assert pg_server.temporary_databases() == []

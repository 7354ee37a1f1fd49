"""The Kubernetes client is loaded only by ``drift-check k8s`` commands that talk to a
cluster: a check (and ``k8s run --dry-run``) never imports it, and without it installed the
k8s commands say what to install."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from servers import PostgresServer

PROBE = """
import json, sys
{prelude}
from drift_job.cli import main
code = main({argv!r})
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "kubernetes")
print("PROBE " + json.dumps({{"code": int(code), "loaded": loaded[:3]}}), file=sys.stderr)
"""


def probe(argv: list[str], env: dict[str, str], cwd: Path, prelude: str = "") -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv, prelude=prelude)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    line = next(line for line in completed.stderr.splitlines() if line.startswith("PROBE "))
    result: dict[str, object] = json.loads(line[6:])
    result["stderr"] = completed.stderr
    return result


def test_a_check_never_imports_the_kubernetes_client(
    pg_server: PostgresServer, project: Path
) -> None:
    result = probe(["check"], pg_server.env(), project)
    assert result["code"] == 0, result["stderr"]
    assert result["loaded"] == []


def test_without_the_client_a_dry_run_works_and_k8s_says_what_to_install(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    blocked = "sys.modules['kubernetes'] = None  # as if not installed"
    dry_run = probe(["k8s", "run", "--dry-run", "--host", "db"], pg_server.env(), tmp_path, blocked)
    assert dry_run["code"] == 0, dry_run["stderr"]
    result = probe(["k8s", "verdict", "some-job"], pg_server.env(), tmp_path, prelude=blocked)
    assert result["code"] == 2
    assert "pip install 'alembic-drift-check[kubernetes]'" in str(result["stderr"])

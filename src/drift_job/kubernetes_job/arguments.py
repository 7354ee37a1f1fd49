"""The ``drift-check k8s`` command line (argparse only: building it imports no Kubernetes
client, so ``drift-check check`` never loads one)."""

from __future__ import annotations

import argparse
from typing import Any

#: ``k8s run`` flags that become keys of the check's ConfigMap (the pod reads them).
CONFIG_MAP_FLAGS = {
    "port": "POSTGRES_PORT",
    "user": "POSTGRES_USER",
    "maintenance_db": "DRIFT_MAINTENANCE_DB",
    "sslmode": "POSTGRES_SSLMODE",
    "config": "ALEMBIC_CONFIG",
    "name": "DRIFT_ALEMBIC_NAME",
    "project_dir": "DRIFT_PROJECT_DIR",
    "python": "DRIFT_PYTHON",
    "prefix": "DRIFT_DB_PREFIX",
    "url_env": "DRIFT_URL_ENV",
    "driver": "DRIFT_DRIVER",
    "connect_timeout": "DRIFT_CONNECT_TIMEOUT",
    "timeout": "DRIFT_TIMEOUT",
    "compare": "DRIFT_COMPARE",
    "strict": "DRIFT_STRICT",
    "verbose": "DRIFT_VERBOSE",
}


def _cluster(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "cluster (the official client's kubeconfig/in-cluster config)"
    )
    group.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="kubeconfig (default: KUBECONFIG, ~/.kube/config, else in-cluster)",
    )
    group.add_argument("--context", help="kubeconfig context (default: the current one)")
    group.add_argument("-n", "--namespace", help="namespace (default: the context's, else default)")
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="how the verdict is printed (default text)",
    )
    parser.add_argument(
        "--pending-timeout",
        metavar="DURATION",
        default="5m",
        help="give up (exit 3) when a pod does not start running for this long (default 5m)",
    )
    parser.add_argument("--no-logs", action="store_true", help="do not stream the pods' logs")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")


def _check_settings(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "the check's settings, without -f (written to its ConfigMap; the pod validates them)"
    )
    group.add_argument("--host", help="PostgreSQL host, as the pod reaches it (POSTGRES_HOST)")
    group.add_argument("--port", help="PostgreSQL port (POSTGRES_PORT, 5432)")
    group.add_argument("--user", help="PostgreSQL role (POSTGRES_USER, postgres)")
    group.add_argument(
        "--existing-secret",
        metavar="NAME",
        help="Secret holding the password, mounted as POSTGRES_PASSWORD_FILE",
    )
    group.add_argument(
        "--password-key",
        metavar="KEY",
        default="password",
        help="key of the password in that Secret (password)",
    )
    group.add_argument(
        "--image", help="image of the check (default drift-check:VERSION, as the chart)"
    )
    group.add_argument("--maintenance-db", metavar="NAME", help="DRIFT_MAINTENANCE_DB")
    group.add_argument("--sslmode", help="POSTGRES_SSLMODE")
    group.add_argument("-c", "--config", metavar="FILE", help="ALEMBIC_CONFIG, inside the image")
    group.add_argument("--name", metavar="SECTION", help="DRIFT_ALEMBIC_NAME")
    group.add_argument("--project-dir", metavar="DIR", help="DRIFT_PROJECT_DIR, inside the image")
    group.add_argument("--python", metavar="PATH", help="DRIFT_PYTHON, inside the image")
    group.add_argument("--prefix", help="DRIFT_DB_PREFIX")
    group.add_argument("--url-env", metavar="NAME", help="DRIFT_URL_ENV")
    group.add_argument("--driver", help="DRIFT_DRIVER")
    group.add_argument("--connect-timeout", metavar="DURATION", help="DRIFT_CONNECT_TIMEOUT")
    group.add_argument(
        "--timeout", metavar="DURATION", help="DRIFT_TIMEOUT (the Job's deadline follows)"
    )
    group.add_argument("--compare", help="DRIFT_COMPARE")
    group.add_argument("--strict", action="store_const", const="1", help="DRIFT_STRICT")
    group.add_argument("-v", "--verbose", action="store_const", const="1", help="DRIFT_VERBOSE")
    group.add_argument(
        "--set-env", metavar="NAME=TEMPLATE", action="append", help="DRIFT_SET_ENV (repeatable)"
    )
    group.add_argument(
        "-x", dest="x", metavar="ARG", action="append", help="DRIFT_ALEMBIC_X (repeatable)"
    )


EXIT_CODES = """exit codes:
  0/1/2/3/4  the check's own, read from its container (no drift, drift, bad input,
             transient fault, migrations fail)
  3          Kubernetes stopped the check: DeadlineExceeded, an image that cannot be pulled,
             a missing Secret or key, unschedulable past --pending-timeout, an OOM kill…
             (the reason is printed); the API unreachable; verdict without --wait on a Job
             still running
  2          bad input: flags, manifests, kubeconfig, no such Job
  130/143    interrupted by SIGINT/SIGTERM (k8s run deletes its Job first)
"""


def add_k8s_command(commands: Any) -> None:
    """``drift-check k8s run`` and ``drift-check k8s verdict JOB``."""
    k8s = commands.add_parser(
        "k8s", help="run the check as a Kubernetes Job and return its verdict as the exit code"
    )
    actions = k8s.add_subparsers(dest="k8s_command", required=True, parser_class=type(k8s))
    run = actions.add_parser(
        "run",
        help="create the check's objects, stream its log, wait for the verdict, delete them",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "-f",
        "--filename",
        metavar="FILE",
        help="manifests to create (- for stdin, e.g. from helm template); default: the "
        "chart's defaults with the settings below",
    )
    run.add_argument("--keep", action="store_true", help="keep what was created after the verdict")
    run.add_argument(
        "--dry-run", action="store_true", help="print the objects as YAML, create nothing"
    )
    _cluster(run)
    _check_settings(run)
    verdict = actions.add_parser(
        "verdict",
        help="the verdict of an existing Job (helm install, the gate hook)",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verdict.add_argument("job", metavar="JOB", help="name of the Job")
    verdict.add_argument("--wait", action="store_true", help="wait until the Job has finished")
    _cluster(verdict)

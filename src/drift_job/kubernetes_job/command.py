"""``drift-check k8s run`` and ``drift-check k8s verdict``: the check's verdict, read from
its Job, as this process's exit code."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import IO, Any

from drift_job.errors import ConfigError, DriftCheckError, ExitCode
from drift_job.kubernetes_job.arguments import CONFIG_MAP_FLAGS
from drift_job.kubernetes_job.manifests import (
    ChartDefaults,
    Launch,
    from_defaults,
    new_suffix,
    prepare,
)
from drift_job.kubernetes_job.session import wait_for_verdict
from drift_job.kubernetes_job.verdict import Verdict
from drift_job.settings_values import parse_duration

STATUS_BY_CODE = {0: "clean", 1: "drift", 2: "error", 3: "error", 4: "error"}
SIGNAL_CODES = {
    signal.SIGINT: ExitCode.INTERRUPTED_SIGINT,
    signal.SIGTERM: ExitCode.INTERRUPTED_SIGTERM,
}


class Cancelled(DriftCheckError):
    """SIGINT or SIGTERM while waiting: the Job is deleted, so its pod gets SIGTERM and drops
    its temporary database."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.exit_code = SIGNAL_CODES[signal.Signals(signum)]


def _client() -> Any:
    try:
        from drift_job.kubernetes_job import client  # noqa: PLC0415 - only for k8s commands
    except ImportError as error:
        raise ConfigError(
            f"the Kubernetes client is not installed (no module {error.name}): "
            "pip install 'alembic-drift-check[kubernetes]'"
        ) from None
    return client


def _duration(flag: str, text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise ConfigError(f"{flag}: {error}") from None


@contextmanager
def _signals_cancel() -> Iterator[None]:
    """SIGINT/SIGTERM raise :class:`Cancelled` in the main thread while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def cancel(signum: int, _frame: FrameType | None) -> None:
        raise Cancelled(signum)

    previous = {sig: signal.signal(sig, cancel) for sig in SIGNAL_CODES}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _settings_flags(args: argparse.Namespace) -> dict[str, str]:
    values = {key: getattr(args, dest) for dest, key in CONFIG_MAP_FLAGS.items()}
    settings = {key: value for key, value in values.items() if value}
    if args.set_env:
        settings["DRIFT_SET_ENV"] = "\n".join(sorted(args.set_env))
    if args.x:
        settings["DRIFT_ALEMBIC_X"] = ";".join(args.x)
    return settings


def _launch(args: argparse.Namespace, namespace: str, stdin: IO[str]) -> Launch:
    settings = _settings_flags(args)
    extra = [f"--{k}" for k in ("host", "image", "existing_secret") if getattr(args, k)]
    suffix = new_suffix()
    if args.filename is None:
        if not args.host:
            raise ConfigError("k8s run: --host is required without -f (the server the pod reaches)")
        values = ChartDefaults(
            host=args.host,
            existing_secret=args.existing_secret,
            password_key=args.password_key,
            settings=settings,
            **({"image": args.image} if args.image else {}),
        )
        return from_defaults(values, suffix)
    if settings or extra:
        named = ", ".join(extra + sorted(settings))
        raise ConfigError(f"k8s run -f: the manifests carry the settings; drop {named}")
    import yaml  # noqa: PLC0415 - a dependency of the Kubernetes client

    source = "stdin" if args.filename == "-" else args.filename
    try:
        text = stdin.read() if args.filename == "-" else Path(args.filename).read_text("utf-8")
        documents = list(yaml.safe_load_all(text))
    except OSError as error:
        raise ConfigError(f"{source}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: not YAML ({str(error).splitlines()[0]})") from None
    return prepare(documents, namespace, suffix, source)


def _report(verdict: Verdict, job: str, namespace: str, output_format: str, out: IO[str]) -> int:
    status = (verdict.summary or {}).get("status") or STATUS_BY_CODE.get(verdict.exit_code, "error")
    if output_format == "json":
        document = {
            "finished": verdict.finished,
            "namespace": namespace,
            "job": job,
            "exit_code": verdict.exit_code,
            "status": status,
            "reason": verdict.reason,
            "pod": verdict.pod,
            "attempts": verdict.attempts,
            "summary": verdict.summary,
            "message": verdict.message,
        }
        print(json.dumps(document, separators=(",", ":")), file=out)
    else:
        print(
            f"drift-check k8s: Job/{job} in {namespace}: {status} (exit {verdict.exit_code}): "
            f"{verdict.reason}",
            file=out,
        )
        if verdict.summary is not None:
            print(json.dumps(verdict.summary, separators=(",", ":")), file=out)
        elif verdict.message:
            print(verdict.message, file=out)
    return verdict.exit_code


def _wait(cluster: Any, job: str, args: argparse.Namespace, *, wait: bool) -> Verdict:
    logs_to = sys.stdout if args.format == "text" else sys.stderr
    tty = sys.stderr.isatty()

    def stage(name: str, seconds: float, verdict: Verdict) -> None:
        if tty and wait:
            print(f"  {seconds:7.1f} s  {name}  {verdict.reason}", file=sys.stderr, flush=True)

    def log(line: str) -> None:
        print(f"  | {line}", file=logs_to, flush=True)

    return wait_for_verdict(
        cluster,
        job,
        pending_timeout=_duration("--pending-timeout", args.pending_timeout),
        on_stage=stage,
        log_sink=None if args.no_logs else log,
        wait=wait,
    )


def run_k8s(args: argparse.Namespace, stdin: IO[str] | None = None) -> int:
    """Dispatch ``k8s run`` / ``k8s verdict``; every failure is one line and an exit code."""
    try:
        _duration("--pending-timeout", args.pending_timeout)  # refused before anything is created
        if args.k8s_command == "verdict":
            return _verdict(args)
        return _run(args, stdin or sys.stdin)
    except DriftCheckError as error:
        if args.debug:
            traceback.print_exc()
        print(f"drift-check k8s: {error}", file=sys.stderr)
        return int(error.exit_code)
    except KeyboardInterrupt:  # before the handlers are in place, or after
        print("drift-check k8s: interrupted by SIGINT", file=sys.stderr)
        return int(ExitCode.INTERRUPTED_SIGINT)
    except Exception as error:  # a bug or an API answer we did not foresee: still one line
        if args.debug:
            traceback.print_exc()
        first_line = (str(error).strip().splitlines() or [""])[0]
        print(
            f"drift-check k8s: unexpected {error.__class__.__name__}: {first_line} "
            "(run with --debug for details)",
            file=sys.stderr,
        )
        return int(ExitCode.INFRASTRUCTURE)


def _verdict(args: argparse.Namespace) -> int:
    client = _client()
    cluster = client.Cluster.connect(
        kubeconfig=args.kubeconfig, context=args.context, namespace=args.namespace
    )
    if cluster.job(args.job) is None:
        raise ConfigError(f"no Job/{args.job} in namespace {cluster.namespace}")
    with _signals_cancel():
        verdict = _wait(cluster, args.job, args, wait=args.wait)
    if not verdict.finished:
        if args.format == "json":
            _report(
                replace(verdict, exit_code=ExitCode.INFRASTRUCTURE),
                args.job,
                cluster.namespace,
                "json",
                sys.stdout,
            )
        print(
            f"drift-check k8s: Job/{args.job} in {cluster.namespace}: not finished "
            f"({verdict.stage}: {verdict.reason}); use --wait",
            file=sys.stderr,
        )
        return int(ExitCode.INFRASTRUCTURE)
    return _report(verdict, args.job, cluster.namespace, args.format, sys.stdout)


def _run(args: argparse.Namespace, stdin: IO[str]) -> int:
    if args.dry_run:
        import yaml  # noqa: PLC0415

        launch = _launch(args, args.namespace or "default", stdin)
        shown = [_without_secret_values(obj) for obj in launch.objects]
        print(yaml.safe_dump_all(shown, sort_keys=False), end="")
        return int(ExitCode.CLEAN)
    client = _client()
    cluster = client.Cluster.connect(
        kubeconfig=args.kubeconfig, context=args.context, namespace=args.namespace
    )
    launch = _launch(args, cluster.namespace, stdin)
    job = launch.job["metadata"]["name"]
    created: list[tuple[str, str]] = []
    cleaned = False
    with _signals_cancel():
        try:
            for obj in launch.objects:
                cluster.create(obj)
                created.append((obj["kind"], obj["metadata"]["name"]))
                print(
                    f"created {obj['kind']}/{obj['metadata']['name']} in {cluster.namespace}",
                    file=sys.stderr,
                )
            verdict = _wait(cluster, job, args, wait=True)
        except Cancelled:
            _delete(cluster, created)
            cleaned = True
            print(
                f"deleted Job/{job}: its pod gets SIGTERM and drops its temporary database",
                file=sys.stderr,
            )
            raise
        finally:
            if not cleaned and not args.keep:
                _delete(cluster, created)
    return _report(verdict, job, cluster.namespace, args.format, sys.stdout)


def _without_secret_values(obj: dict[str, Any]) -> dict[str, Any]:
    """A Secret as ``--dry-run`` shows it: its keys, never its values."""
    if obj["kind"] != "Secret":
        return obj
    hidden = {**obj}
    for field in ("data", "stringData"):
        if field in obj:
            hidden[field] = dict.fromkeys(obj[field], "***")
    return hidden


def _delete(cluster: Any, created: list[tuple[str, str]]) -> None:
    """The Job first (foreground: its pods stop first), then what it used."""
    for kind, name in reversed(created):
        try:
            cluster.delete(kind, name)
        except DriftCheckError as error:
            print(f"drift-check k8s: could not delete {kind}/{name}: {error}", file=sys.stderr)

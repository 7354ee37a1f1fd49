"""GitHub Actions workflow commands (``--format github``): an annotation per difference, at
the model's class or column line (else env.py), as the SARIF report places them."""

from __future__ import annotations

from drift_job.checks import FAILED
from drift_job.report import CheckResult
from drift_job.source_paths import placed


def _data(text: str) -> str:
    """A workflow command's message, escaped as the runner unescapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


class _Commands:
    """Workflow commands at the same places as the SARIF results: the file when it is in the
    repository, else env.py."""

    def __init__(self, env_py: str | None) -> None:
        self.env_py = env_py

    def __call__(
        self, level: str, message: str, title: str, file: str | None = None, line: int | None = None
    ) -> str:
        where = placed(file, self.env_py) if file else None
        properties = [f"file={_property(where)}"] if where else []
        properties += [f"line={line}"] if where and line and where == placed(file, None) else []
        properties.append(f"title={_property(title)}")
        return f"::{level} {','.join(properties)}::{_data(message)}"


def render_github(result: CheckResult) -> str:
    _command = _Commands(result.env_py)
    lines = [
        _command("error", d.detail, f"schema drift: {d.kind}", d.file, d.line)
        for d in result.differences
    ]
    lines += [
        _command(
            "notice",
            f"{a.difference.detail} (accepted: {a.rule.reason})",
            f"accepted difference: {a.difference.kind}",
            a.difference.file,
            a.difference.line,
        )
        for a in result.ignored
    ]
    if result.status != "error":
        lines += [
            _command("notice", i.detail, f"only in the migrations: {i.kind}", i.file, i.line)
            for i in result.information
        ]
    for check in result.checks:
        level = "error" if check.status == FAILED else "warning"
        lines += [
            _command(level, f.message, f"{check.name}: {f.rule}", f.file, f.line)
            for f in check.findings
        ]
    lines += [_command("warning", w, "drift-check ignore rules") for w in result.ignore_warnings]
    if result.status == "error":
        lines.append(_command("error", result.message, f"drift-check (exit {result.exit_code})"))
    elif result.status == "drift" and result.differences:
        lines.append(f"drift-check: {len(result.differences)} difference(s): schema drift")
    elif result.status in ("drift", "unsafe"):  # the round trip or the lint failed it
        lines.append(f"drift-check: {result.message}")
    else:
        lines.append(f"drift-check: no drift (head {result.alembic_head})")
    return "\n".join(lines) + "\n"

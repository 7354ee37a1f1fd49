"""The password never leaves the process: not on stdout/stderr, not in the JSON/text report,
the summary file or the termination message, not in /proc/<pid>/cmdline of drift-check or
any child, also when the connection fails, when env.py or a migration fails with the URL in
its message, when env.py prints or logs the URL, and with --debug.

Every run of the whole suite is scanned the same way (conftest.py); the tests here force
the situations where a leak is most likely, and each asserts on its own run as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from projects import add_migration, patch

from .reliability_support import (
    ENV_PY,
    SAMPLER,
    STATS,
    count_secret,
    run,
    sessions_running,
    start,
    wait_until,
)

ONLINE = 'def run_migrations_online() -> None:\n    """Run migrations in \'online\' mode, on a shared connection or a fresh engine."""\n'
URL_IN_ERROR = ONLINE + '    raise RuntimeError(config.get_main_option("sqlalchemy.url"))\n'
URL_PRINTED = (
    ONLINE + '    print("connecting to", config.get_main_option("sqlalchemy.url"), flush=True)\n'
)
URL_LOGGED = (
    ONLINE
    + '    import logging\n    logging.getLogger("alembic").warning("url %s", '
    + 'config.get_main_option("sqlalchemy.url"))\n'
)


def _leaks(texts: list[str], password: str) -> int:
    return sum(count_secret(text, password) for text in texts)


def _outputs(tmp_path: Path, *extra: str) -> tuple[list[str], dict[str, str]]:
    """Arguments and environment that make the run write every output it can write."""
    report = tmp_path / "report.out"
    summary = tmp_path / "summary.json"
    termination = tmp_path / "termination.log"
    args = ["check", *extra, "--output", str(report), "--summary-file", str(summary)]
    env = {"DRIFT_TERMINATION_MESSAGE_PATH": str(termination)}
    return args, env


def _cases() -> list[Any]:
    """The URL raised by env.py in every output format, with and without --debug; the other
    situations in plain text and in JSON with --debug."""
    params = []
    cases = (
        "env.py raises the URL",
        "migration raises the URL",
        "env.py prints the URL",
        "env.py logs the URL",
        "wrong password",
        "nothing listening",
    )
    for case in cases:
        variants = [("text", False), ("json", True)]
        if case == "env.py raises the URL":
            variants += [("text", True), ("json", False)]
        for fmt, debug in variants:
            name = f"{case}-{fmt}{'-debug' if debug else ''}"
            params.append(pytest.param(case, fmt, debug, id=name))
    return params


@pytest.mark.parametrize(("case", "fmt", "debug"), _cases())
def test_password_absent_from_every_output(
    pg_server: Any, project: Path, tmp_path: Path, password: str, case: str, fmt: str, debug: bool
) -> None:
    env = pg_server.env()
    expected = 2
    if case == "env.py raises the URL":
        patch(project, ENV_PY, ONLINE, URL_IN_ERROR)
    elif case == "migration raises the URL":
        add_migration(
            project,
            "0007",
            "0006",
            "raise RuntimeError(op.get_bind().engine.url.render_as_string(hide_password=False))",
        )
        expected = 4
    elif case == "env.py prints the URL":
        patch(project, ENV_PY, ONLINE, URL_PRINTED)
        expected = 0
    elif case == "env.py logs the URL":
        patch(project, ENV_PY, ONLINE, URL_LOGGED)
        expected = 0
    elif case == "wrong password":
        env["POSTGRES_PASSWORD"] = password[::-1]
        STATS.fault("wrong password")
    else:
        env.update(POSTGRES_PORT="1", DRIFT_CONNECT_TIMEOUT="1")
        expected = 3
        STATS.fault("connection refused")
    args, files = _outputs(tmp_path, "--format", fmt, *(["--debug"] if debug else []))
    env.update(files)
    result = run(*args, env=env, cwd=project)
    assert result.code == expected, result.describe()
    texts = [result.stdout, result.stderr, *result.files.values()]
    assert set(result.files) >= {"report.out", "summary.json", "termination.log"}
    if case == "wrong password":
        # The reversed password was the configured secret here: it must not show either.
        assert _leaks(texts, password[::-1]) == 0
    assert _leaks(texts, password) == 0, (
        result.describe()
        + "\n"
        + "\n".join(f"--- {name}\n{text}" for name, text in result.files.items())
    )


def test_password_absent_from_process_command_lines(
    pg_server: Any, project: Path, password: str
) -> None:
    """Sampled from /proc while a migration runs: drift-check and every descendant (the
    migration starts a child process of its own)."""
    add_migration(
        project,
        "0007",
        "0006",
        'import subprocess\nsubprocess.run(["sleep", "1"], check=True)\n'
        'op.execute("SELECT pg_sleep(1)")',
    )
    process = start("check", "--debug", env=pg_server.env(), cwd=project)
    try:
        wait_until(lambda: sessions_running(pg_server, "pg_sleep(1)"), 60, "migration", process)
        SAMPLER.sample_once()
        result = process.finish(60)
    finally:
        process.kill()
    assert result.code == 0, result.describe()
    cmdlines = [
        r.text
        for r in STATS.recordings
        if r.test == STATS.current_test and r.label.startswith("/proc cmdline")
    ]
    assert any("drift_job" in line for line in cmdlines), cmdlines
    assert any(line.startswith("sleep 1") for line in cmdlines), cmdlines
    assert _leaks(cmdlines, password) == 0


def test_password_file_and_config_output(
    pg_server: Any, project: Path, tmp_path: Path, password: str
) -> None:
    secret = tmp_path / "pw"
    secret.write_text(password + "\n", encoding="utf-8")
    env = pg_server.env(POSTGRES_PASSWORD_FILE=str(secret))
    del env["POSTGRES_PASSWORD"]
    shown = run("config", "--check-connection", env=env, cwd=project)
    assert shown.code == 0, shown.describe()
    assert "POSTGRES_PASSWORD=***" in shown.stdout
    checked = run("check", "--debug", "--format", "json", env=env, cwd=project)
    assert checked.code == 0, checked.describe()
    assert _leaks([shown.output, checked.output], password) == 0


def test_the_scanner_finds_every_encoding(password: str) -> None:
    """The scan itself must be able to see a leak, or its zero means nothing."""
    from urllib.parse import quote, quote_plus

    from sqlalchemy.engine import URL

    url = URL.create("postgresql", username="u", password=password, host="h", database="d")
    samples = [
        password,
        quote(password, safe=""),
        quote_plus(password),
        url.render_as_string(hide_password=False),
        url.render_as_string(hide_password=False).replace("%", "%%"),
        '{"message": ' + __import__("json").dumps(password) + "}",
        repr(password),
        password[:12] + "…",
    ]
    for sample in samples:
        assert count_secret(sample, password) >= 1, sample
    assert count_secret("postgresql://u:***@h/d", password) == 0

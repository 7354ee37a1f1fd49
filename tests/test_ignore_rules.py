"""Accepted differences and the project's settings file: validation (exit 2 naming the file
and key), matching by stable identity, precedence below flags and the environment, and real
runs with the README's own snippet."""

from __future__ import annotations

import datetime
import re
import textwrap
from pathlib import Path

import pytest
from projects import MODELS, patch
from reports import valid_report, valid_sarif
from servers import REPO_ROOT, PostgresServer, drift_check

from drift_job.comparison import Difference
from drift_job.errors import ConfigError
from drift_job.ignore_rules import apply_rules, parse_rules
from drift_job.settings import load_settings

TODAY = datetime.date(2026, 12, 1)
AUTHOR_BIO = "    bio: str | None = Field(default=None, sa_column=Column(Text, nullable=True))\n"
NICKNAME = (
    "    nickname: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))\n"
)


def _readme_toml() -> str:
    """The settings-file snippet of the README's "Accepted differences" section."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Accepted differences and the project's settings file", 1)[1]
    match = re.search(r"```toml\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def _project(tmp_path: Path, pyproject: str = "", own: str = "") -> Path:
    """A directory with an alembic.ini, and a pyproject.toml and a drift-check.toml if given."""
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    for name, text in (("pyproject.toml", pyproject), ("drift-check.toml", own)):
        if text:
            (tmp_path / name).write_text(textwrap.dedent(text))
    return tmp_path


def _problem(directory: Path, **flags: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(flags, environ={}, cwd=directory)
    return str(caught.value)


RULE = '[[tool.drift-check.ignore]]\nkind = "add_column"\nreason = "known"\n'


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('[[tool.drift-check.ignore]]\ntable = "t"\n', "ignore #1: reason is required"),
        (RULE + 'colum = "x"\n', "ignore #1: unknown key colum (allowed: kind,"),
        (RULE + 'expires = "2027-13-01"\n', "ignore #1: expires '2027-13-01' is not a date"),
        (RULE + "expires = 2027-03-31T10:00:00\n", "expires must be a date (2027-03-31), not a"),
        (RULE + "expires = 2027-02-30\n", "pyproject.toml: not valid TOML"),
        ('[[tool.drift-check.ignore]]\nkind = "*"\nreason = "all"\n', "names nothing to match"),
        ("[tool.drift-check]\nstrickt = true\n", "[tool.drift-check]: unknown key 'strickt'"),
        (
            '[tool.drift-check]\nstrict = "yes"\n',
            "[tool.drift-check]: strict must be true or false",
        ),
        ("[tool.drift-check]\nset-env = [1]\n", "set-env must be a string or an array of strings"),
    ],
    ids=[
        "no reason",
        "unknown key",
        "bad date string",
        "a date and time",
        "impossible TOML date",
        "matches everything",
        "unknown setting",
        "wrong type",
        "wrong list",
    ],
)
def test_bad_rules_and_settings_name_the_file_and_key(
    tmp_path: Path, extra: str, expected: str
) -> None:
    directory = _project(tmp_path, extra)
    problem = _problem(directory)
    assert expected in problem and "pyproject.toml" in problem


def test_a_bad_rule_is_one_line_and_exit_2_from_the_command_line(tmp_path: Path) -> None:
    directory = _project(tmp_path, RULE + 'colum = "x"\n')
    run = drift_check("check", env={"PATH": "/usr/bin:/bin"}, cwd=directory)
    assert run.code == 2, run.output
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "pyproject.toml [tool.drift-check] ignore #1: unknown key colum" in run.stderr


def test_both_settings_files_is_an_error(tmp_path: Path) -> None:
    directory = _project(tmp_path, "[tool.drift-check]\nstrict = true\n", own="strict = false\n")
    assert "both hold drift-check settings; keep one of them" in _problem(directory)


def test_file_settings_rank_below_flags_environment_and_env_file(tmp_path: Path) -> None:
    directory = _project(
        tmp_path,
        own="""
            compare = "autogenerate"
            strict = true
            format = "sarif"
            set-env = ["A={url}", "B={host}"]
            python = "bin/python3"
            report = "json:out.json"
        """,
    )
    (directory / "bin").mkdir()
    (directory / "bin" / "python3").symlink_to(Path("/usr/bin/python3"))
    (directory / ".env.k8s.development").write_text("DRIFT_FORMAT=json\n")
    settings = load_settings({}, environ={}, cwd=directory)
    assert (settings.compare, settings.strict, settings.output_format) == (
        "autogenerate",
        True,
        "json",
    )
    assert settings.set_env == (("A", "{url}"), ("B", "{host}"))
    assert settings.python == str(directory / "bin" / "python3")
    assert settings.describe()["DRIFT_COMPARE"] == "autogenerate  [drift-check.toml]"
    assert settings.reports == (("json", directory / "out.json"),)
    assert settings.describe()["DRIFT_REPORT"].endswith("out.json  [drift-check.toml]")
    environment = load_settings({}, environ={"DRIFT_COMPARE": "both"}, cwd=directory)
    assert environment.compare == "both"
    flag = load_settings(
        {"DRIFT_FORMAT": "github"}, environ={"DRIFT_FORMAT": "json"}, cwd=directory
    )
    assert flag.output_format == "github"


def test_ignore_file_adds_rules_and_strict_ignores_refuses_expired_ones_up_front(
    tmp_path: Path,
) -> None:
    directory = _project(tmp_path, RULE)
    extra = tmp_path / "staging-ignores.toml"
    extra.write_text('[[ignore]]\ntable = "legacy_*"\nreason = "old"\nexpires = 2020-01-01\n')
    settings = load_settings({"DRIFT_IGNORE_FILE": str(extra)}, environ={}, cwd=directory)
    assert [rule.origin for rule in settings.ignore_rules] == [
        "pyproject.toml [tool.drift-check] ignore #1",
        "staging-ignores.toml ignore #1",
    ]
    problem = _problem(directory, DRIFT_IGNORE_FILE=str(extra), DRIFT_STRICT_IGNORES="1")
    assert problem == "staging-ignores.toml ignore #1: expired on 2020-01-01 (--strict-ignores)"
    extra.write_text("[tool.drift-check]\n")
    assert "holds [[ignore]] tables only" in _problem(directory, DRIFT_IGNORE_FILE=str(extra))


def _rules(text: str) -> list:  # type: ignore[type-arg]
    import tomllib

    problems: list[str] = []
    rules = parse_rules(tomllib.loads(text)["ignore"], "f.toml ignore", problems)
    assert not problems
    return rules


def test_rules_match_by_identity_with_globs_and_expire() -> None:
    rules = _rules(
        """
        [[ignore]]
        kind = "add_*"
        schema = "public"
        table = "customer"
        column = "phone"
        reason = "data team"
        [[ignore]]
        object = "ix_?_open"
        reason = "partial index, temporary"
        expires = 2026-11-30
        [[ignore]]
        table = "nothing_like_this"
        reason = "stale"
        """
    )
    phone = Difference("add_column", "customer", "phone", "column customer.phone")
    other_schema = Difference("add_column", "customer", "phone", "…", schema="billing")
    index = Difference("modify_index", "orders", None, "…", "catalog", object="ix_o_open")
    applied = apply_rules([phone, other_schema, index], rules, TODAY)
    assert [a.difference for a in applied.accepted] == [phone]
    assert applied.failing == [other_schema, index]  # the index rule expired yesterday
    assert applied.expired == [
        "ignore rule f.toml ignore #2 expired on 2026-11-30 and no longer applies"
    ]
    assert applied.unused == [
        "ignore rule f.toml ignore #3 matched no difference (remove it if it is no longer needed)"
    ]
    assert apply_rules([index], rules, datetime.date(2026, 11, 30)).accepted[0].rule is rules[1]


def _drifting(project: Path) -> None:
    """A column autogenerate sees and an enum value only the catalog pass sees."""
    patch(project, MODELS, AUTHOR_BIO, AUTHOR_BIO + NICKNAME)
    patch(
        project,
        MODELS,
        '    CANCELLED = "cancelled"\n',
        '    CANCELLED = "cancelled"\n    REFUNDED = "refunded"\n',
    )


def test_the_readme_rules_accept_both_differences(
    pg_server: PostgresServer, project: Path, tmp_path: Path
) -> None:
    _drifting(project)
    (project / "pyproject.toml").write_text(_readme_toml())
    run = drift_check(
        "check",
        "--report",
        f"json:{tmp_path}/r.json",
        "--report",
        f"sarif:{tmp_path}/r.sarif",
        env=pg_server.env(),
        cwd=project,
    )
    assert run.code == 0, run.output
    summary = [line for line in run.stdout.splitlines() if line.startswith("ignored:")]
    assert summary == [
        "ignored: 2 accepted difference(s) not counted as drift (added by the data team's own "
        "tooling; refunds ship in 2.4; the migration comes with them); the JSON report lists them"
    ]
    assert summary[0] in (REPO_ROOT / "README.md").read_text()  # as the README shows it
    assert "warning: ignore rule" not in run.output
    report = valid_report((tmp_path / "r.json").read_text())
    assert report["status"] == "clean"
    assert {d["id"]: d["ignored"]["reason"] for d in report["differences"]} == {
        "add_column:public.authors.nickname": "added by the data team's own tooling",
        "modify_enum:public.order_status": "refunds ship in 2.4; the migration comes with them",
    }
    results = valid_sarif((tmp_path / "r.sarif").read_text())["runs"][0]["results"]
    assert all(r["suppressions"][0]["status"] == "accepted" for r in results) and len(results) == 2
    assert not (project / "drift-check.xml").exists()  # --report replaced the file's report


def test_an_unused_rule_warns_and_fails_with_strict_ignores(
    pg_server: PostgresServer, project: Path, tmp_path: Path
) -> None:
    _drifting(project)
    stale = (
        '\n[[tool.drift-check.ignore]]\ntable = "legacy_audit_log"\nreason = "dropped long ago"\n'
    )
    (project / "pyproject.toml").write_text(_readme_toml() + stale)
    run = drift_check(
        "check", "--format", "json", "--strict-ignores", env=pg_server.env(), cwd=project
    )
    assert run.code == 2, run.output
    report = valid_report(run.stdout)
    warning = (
        "ignore rule pyproject.toml [tool.drift-check] ignore #3 matched no difference "
        "(remove it if it is no longer needed)"
    )
    assert report["ignore_warnings"] == [warning]
    assert report["message"] == f"{warning} (--strict-ignores)"
    assert len([d for d in report["differences"] if d["ignored"]]) == 2  # still reported
    assert f"drift-check: warning: {warning}" in run.stderr
    assert (project / "drift-check.xml").is_file()  # the snippet's own report setting

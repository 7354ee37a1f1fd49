"""The migration cache's keys and settings (no server needed): which changes give another key,
where a cached database may stand in for the start of a chain, and bad cache settings."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from drift_job.cache_key import build_chain, template_name
from drift_job.errors import ConfigError
from drift_job.settings import Settings, load_settings
from drift_job.supervisor.cache_dump import find_tools
from drift_job.worker.cache_chain import _line_on_top


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    (tmp_path / "enums.py").write_text("STATES = ('a', 'b')\n")
    return tmp_path


BASE = {"POSTGRES_HOST": "db.example", "POSTGRES_USER": "app"}


def settings(project_dir: Path, **values: str) -> Settings:
    return load_settings({}, {**BASE, **values}, cwd=project_dir)


def described(**changes: Any) -> dict[str, Any]:
    chain = {
        "revisions": [
            {"revision": f"000{n}", "sha256": f"{n}" * 64, "startable": True} for n in (1, 2, 3)
        ],
        "roots": ["0001"],
        "env_py": "e" * 64,
        "options": {"script_location": "migrations"},
        "versions": {"alembic": "1.16.0", "sqlalchemy": "2.0.40", "psycopg2": "2.9.10"},
    }
    chain.update(changes)
    return chain


def keys(project_dir: Path, chain: dict[str, Any], **values: str) -> list[str]:
    built = build_chain(settings(project_dir, **values), chain, 150010, "app")
    return [position.key for position in built.positions]


def test_a_changed_revision_changes_its_key_and_every_later_one(project_dir: Path) -> None:
    before = keys(project_dir, described())
    edited = described()
    edited["revisions"][1]["sha256"] = "f" * 64
    after = keys(project_dir, edited)
    assert after[0] == before[0]
    assert after[1] != before[1] and after[2] != before[2]


@pytest.mark.parametrize(
    "change",
    [
        {"env_py": "0" * 64},
        {"options": {"script_location": "migrations", "version_locations": "more"}},
        {"versions": {"alembic": "1.16.1", "sqlalchemy": "2.0.40", "psycopg2": "2.9.10"}},
    ],
    ids=["env.py", "alembic-option", "alembic-version"],
)
def test_what_surrounds_the_chain_changes_every_key(
    project_dir: Path, change: dict[str, Any]
) -> None:
    before, after = keys(project_dir, described()), keys(project_dir, described(**change))
    assert all(b != a for b, a in zip(before, after, strict=True))


def test_settings_server_role_and_key_paths_change_every_key(project_dir: Path) -> None:
    chain = described()
    base = keys(project_dir, chain, DRIFT_CACHE_KEY_PATHS="enums.py")
    assert keys(project_dir, chain, DRIFT_CACHE_KEY_PATHS="enums.py") == base  # stable
    assert keys(project_dir, chain, DRIFT_ALEMBIC_X="tenant=b")[0] != keys(project_dir, chain)[0]
    other_server = build_chain(settings(project_dir), chain, 150011, "app").positions[0].key
    other_role = build_chain(settings(project_dir), chain, 150010, "ci").positions[0].key
    assert len({other_server, other_role, keys(project_dir, chain)[0]}) == 3
    (project_dir / "enums.py").write_text("STATES = ('a', 'b', 'c')\n")
    assert keys(project_dir, chain, DRIFT_CACHE_KEY_PATHS="enums.py")[0] != base[0]


def test_template_names_never_look_like_a_run_database() -> None:
    name = template_name("drift_check", "ab" * 32)
    assert name == "drift_check_cache_" + "ab" * 12
    assert len(name) <= 63


def _script(revision: str, down: Any, dependencies: Any = None) -> Any:
    return SimpleNamespace(revision=revision, down_revision=down, dependencies=dependencies)


def test_a_cached_database_stands_in_only_below_a_plain_line() -> None:
    base, left, right = _script("a", None), _script("b", "a"), _script("c", "a")
    merge, top = _script("m", ("b", "c")), _script("t", "m")
    chain = [base, left, right, merge, top]
    assert [_line_on_top(chain, i) for i in range(5)] == [False, False, False, True, True]
    linear = [base, left, _script("d", "b", dependencies="a")]
    assert [_line_on_top(linear, i) for i in range(3)] == [False, False, True]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"DRIFT_CACHE_KEEP": "0"}, "DRIFT_CACHE_KEEP: '0' is not a whole number from 1 to 100"),
        ({"DRIFT_CACHE_KEEP": "three"}, "DRIFT_CACHE_KEEP: 'three' is not a whole number"),
        ({"DRIFT_CACHE_KEY_PATHS": "missing.py"}, "DRIFT_CACHE_KEY_PATHS: "),
        ({"DRIFT_CACHE": "maybe"}, "DRIFT_CACHE: 'maybe' is not one of"),
        ({"DRIFT_CACHE_DIR": "enums.py"}, "DRIFT_CACHE_DIR: "),
    ],
)
def test_bad_cache_settings_name_their_key(
    project_dir: Path, values: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(")):
        settings(project_dir, **values)


def test_cache_settings_and_their_defaults(project_dir: Path) -> None:
    default = settings(project_dir)
    assert (default.cache, default.cache_keep, default.cache_dir) == (False, 3, None)
    chosen = settings(
        project_dir,
        DRIFT_CACHE="1",
        DRIFT_CACHE_KEEP="5",
        DRIFT_CACHE_KEY_PATHS="enums.py;.",
        DRIFT_CACHE_DIR="cache/new",
    )
    assert (chosen.cache, chosen.cache_keep) == (True, 5)
    assert chosen.cache_key_paths == (project_dir / "enums.py", project_dir)
    assert chosen.cache_dir == project_dir / "cache" / "new"
    shown = chosen.describe()
    assert shown["DRIFT_CACHE"].startswith("yes") and shown["DRIFT_CACHE_KEEP"].startswith("5")


def test_no_dump_tools_for_the_server_is_one_clear_line() -> None:
    with pytest.raises(ConfigError) as caught:
        find_tools(99)
    text = str(caught.value)
    assert text.startswith("DRIFT_CACHE_DIR: needs pg_dump and psql of PostgreSQL 99 or newer")
    assert "\n" not in text

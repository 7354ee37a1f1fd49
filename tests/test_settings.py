"""Settings resolution: precedence, env files, *_FILE secrets and validation (no server needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drift_job.errors import ConfigError
from drift_job.settings import KNOWN_KEYS, load_settings, parse_duration, parse_set_env


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    return tmp_path


BASE = {"POSTGRES_HOST": "db.example", "POSTGRES_USER": "app"}


def test_precedence_flag_over_environment_over_env_file_over_default(project_dir: Path) -> None:
    (project_dir / ".env.k8s.development").write_text(
        "POSTGRES_HOST=from-file\nPOSTGRES_PORT=6000\nPOSTGRES_USER=file-user\nPOSTGRES_DB=filedb\n"
        "DRIFT_MAINTENANCE_DB=maint\n"
    )
    settings = load_settings(
        {"POSTGRES_HOST": "from-flag"},
        {"POSTGRES_HOST": "from-env", "POSTGRES_PORT": "7000"},
        cwd=project_dir,
    )
    assert settings.host == "from-flag"
    assert settings.port == 7000
    assert settings.user == "file-user"
    assert settings.app_database == "filedb"
    assert (settings.maintenance_db, settings.maintenance_db_explicit) == ("maint", True)
    assert settings.sslmode is None
    assert settings.prefix == "drift_check"
    assert settings.sources["POSTGRES_HOST"] == "flag"
    assert settings.sources["POSTGRES_USER"] == "env file"


def test_env_file_is_parsed_without_touching_the_environment(project_dir: Path) -> None:
    env_file = project_dir / "custom.env"
    env_file.write_text("POSTGRES_HOST=h\nPOSTGRES_USER=u\nDRIFT_TEST_ONLY_KEY=1\n")
    before = dict(os.environ)
    settings = load_settings({}, {"DRIFT_ENV_FILE": str(env_file)}, cwd=project_dir)
    assert settings.env_file == env_file
    assert dict(os.environ) == before


def test_libpq_variables_are_fallbacks(project_dir: Path) -> None:
    settings = load_settings(
        {}, {"PGHOST": "pg", "PGPORT": "5433", "PGUSER": "u", "PGPASSWORD": "s"}, cwd=project_dir
    )
    assert (settings.host, settings.port, settings.user, settings.password) == (
        "pg",
        5433,
        "u",
        "s",
    )
    settings = load_settings(
        {}, {"PGHOST": "pg", "POSTGRES_HOST": "main", "POSTGRES_USER": "u"}, cwd=project_dir
    )
    assert settings.host == "main"


def test_password_file_strips_one_trailing_newline(project_dir: Path) -> None:
    secret = project_dir / "pw"
    secret.write_text("s3cret \n")
    settings = load_settings({}, {**BASE, "POSTGRES_PASSWORD_FILE": str(secret)}, cwd=project_dir)
    assert settings.password == "s3cret "
    assert "s3cret" not in repr(settings)
    assert settings.describe()["POSTGRES_PASSWORD"].startswith("***")


def test_user_file_like_the_password_file(project_dir: Path) -> None:
    (project_dir / "user").write_text("checker\n")
    settings = load_settings(
        {}, {"POSTGRES_HOST": "h", "POSTGRES_USER_FILE": str(project_dir / "user")}, cwd=project_dir
    )
    assert settings.user == "checker"
    with pytest.raises(ConfigError, match="POSTGRES_USER and POSTGRES_USER_FILE are exclusive"):
        load_settings(
            {},
            {"POSTGRES_HOST": "h", "POSTGRES_USER": "a", "POSTGRES_USER_FILE": "/x"},
            cwd=project_dir,
        )


def test_password_in_the_environment_overrides_a_password_file_in_the_env_file(
    project_dir: Path,
) -> None:
    (project_dir / ".env.k8s.development").write_text("POSTGRES_PASSWORD_FILE=/nonexistent\n")
    settings = load_settings({}, {**BASE, "POSTGRES_PASSWORD": "env"}, cwd=project_dir)
    assert settings.password == "env"


def test_no_host_means_the_embedded_server(project_dir: Path) -> None:
    settings = load_settings({}, {}, cwd=project_dir)
    assert settings.embedded


@pytest.mark.parametrize(
    ("environ", "culprit"),
    [
        ({"POSTGRES_HOST": "h"}, "POSTGRES_USER"),
        ({**BASE, "POSTGRES_PORT": "abc"}, "POSTGRES_PORT"),
        ({**BASE, "POSTGRES_PORT": "70000"}, "POSTGRES_PORT"),
        ({**BASE, "POSTGRES_PORT": "0"}, "POSTGRES_PORT"),
        ({**BASE, "POSTGRES_SSLMODE": "sometimes"}, "POSTGRES_SSLMODE"),
        ({**BASE, "POSTGRES_PASSWORD": "a", "POSTGRES_PASSWORD_FILE": "/x"}, "are exclusive"),
        ({**BASE, "POSTGRES_PASSWORD_FILE": "/nonexistent/pw"}, "POSTGRES_PASSWORD_FILE"),
        ({**BASE, "DRIFT_DB_PREFIX": "Drift"}, "DRIFT_DB_PREFIX"),
        ({**BASE, "DRIFT_DB_PREFIX": "drift'x"}, "DRIFT_DB_PREFIX"),
        ({**BASE, "DRIFT_DB_PREFIX": "drift;drop"}, "DRIFT_DB_PREFIX"),
        ({**BASE, "DRIFT_DB_PREFIX": "d" * 31}, "DRIFT_DB_PREFIX"),
        ({**BASE, "DRIFT_URL_ENV": "not a name"}, "DRIFT_URL_ENV"),
        ({**BASE, "DRIFT_SET_ENV": "DATABASE_URL={uri}"}, "DRIFT_SET_ENV"),
        ({**BASE, "DRIFT_SET_ENV": "no-equals-sign"}, "DRIFT_SET_ENV"),
        ({**BASE, "DRIFT_ORPHAN_TTL": "six hours"}, "DRIFT_ORPHAN_TTL"),
        ({**BASE, "DRIFT_TIMEOUT": "-5"}, "DRIFT_TIMEOUT"),
        ({**BASE, "DRIFT_CONNECT_TIMEOUT": "1x"}, "DRIFT_CONNECT_TIMEOUT"),
        ({**BASE, "DRIFT_FORMAT": "xml"}, "DRIFT_FORMAT"),
        ({**BASE, "DRIFT_DRIVER": "odbc"}, "DRIFT_DRIVER"),
        ({**BASE, "DRIFT_OUTPUT": "/nonexistent-dir/report.json"}, "DRIFT_OUTPUT"),
        ({**BASE, "DRIFT_ENV_FILE": "missing.env"}, "missing.env"),
        ({**BASE, "ALEMBIC_CONFIG": "other.ini"}, "ALEMBIC_CONFIG"),
        ({**BASE, "DRIFT_PROJECT_DIR": "/nonexistent-project"}, "DRIFT_PROJECT_DIR"),
    ],
)
def test_bad_values_name_the_key(project_dir: Path, environ: dict[str, str], culprit: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({}, environ, cwd=project_dir)
    message = str(caught.value)
    assert culprit in message
    assert "\n" not in message


def test_empty_password_file_is_rejected(project_dir: Path) -> None:
    (project_dir / "pw").write_text("\n")
    with pytest.raises(ConfigError, match=r"POSTGRES_PASSWORD_FILE: file .* is empty"):
        load_settings(
            {}, {**BASE, "POSTGRES_PASSWORD_FILE": str(project_dir / "pw")}, cwd=project_dir
        )


def test_unreadable_env_file_lines_are_reported_with_line_numbers(project_dir: Path) -> None:
    (project_dir / ".env.k8s.development").write_text(
        "POSTGRES_HOST=h\nthis is not a setting\nPOSTGRES_HOST=again\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings({}, {"POSTGRES_USER": "u"}, cwd=project_dir)
    assert "line 2: expected KEY=VALUE" in str(caught.value)
    assert "line 3: POSTGRES_HOST is set twice" in str(caught.value)


def test_every_problem_is_reported_at_once(project_dir: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {},
            {**BASE, "POSTGRES_PORT": "x", "DRIFT_DB_PREFIX": "X", "DRIFT_FORMAT": "y"},
            cwd=project_dir,
        )
    for key in ("POSTGRES_PORT", "DRIFT_DB_PREFIX", "DRIFT_FORMAT"):
        assert key in str(caught.value)


def test_durations_and_set_env_parsing() -> None:
    assert parse_duration("90") == 90
    assert parse_duration("15m") == 900
    assert parse_duration("6h") == 21600
    assert parse_duration("1d") == 86400
    assert parse_set_env("DATABASE_URL={url}; POSTGRES_DB={database}\nX=1") == [
        ("DATABASE_URL", "{url}"),
        ("POSTGRES_DB", "{database}"),
        ("X", "1"),
    ]


def test_readme_documents_every_setting() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    missing = [key for key in KNOWN_KEYS if f"| `{key}`" not in readme]
    assert not missing, f"README's settings table lacks {missing}"

"""Settings added for the worker-process design, which server is meant, the files settings come
from and the values they may hold (load_settings directly; no server needed)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from dotenv import dotenv_values

from drift_job.errors import ConfigError
from drift_job.settings import KNOWN_KEYS, load_settings
from drift_job.settings_values import parse_size

BASE = {"POSTGRES_HOST": "db.example", "POSTGRES_USER": "app"}
MiB = 1 << 20


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    return tmp_path


def _problem(
    project_dir: Path, environ: dict[str, str], flags: dict[str, str] | None = None
) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(flags or {}, environ, cwd=project_dir)
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- POSTGRES_DB is the application's database; DRIFT_MAINTENANCE_DB the maintenance one -----


def test_postgres_db_names_the_application_database_not_the_maintenance_one(
    project_dir: Path,
) -> None:
    settings = load_settings({}, {**BASE, "POSTGRES_DB": "test_db"}, cwd=project_dir)
    assert settings.app_database == "test_db"
    assert (settings.maintenance_db, settings.maintenance_db_explicit) == ("postgres", False)
    settings = load_settings({}, {**BASE, "PGDATABASE": "pgdb"}, cwd=project_dir)
    assert (settings.app_database, settings.maintenance_db) == ("pgdb", "postgres")
    settings = load_settings(
        {"DRIFT_MAINTENANCE_DB": "template1"}, {**BASE, "POSTGRES_DB": "x"}, cwd=project_dir
    )
    assert (settings.maintenance_db, settings.maintenance_db_explicit) == ("template1", True)
    assert settings.sources["DRIFT_MAINTENANCE_DB"] == "flag"


# -- which server ------------------------------------------------------------------------------


def test_nothing_set_means_embedded_and_a_host_means_configured(project_dir: Path) -> None:
    assert load_settings({}, {}, cwd=project_dir).server == "embedded"
    assert load_settings({}, {}, cwd=project_dir).embedded
    configured = load_settings({}, BASE, cwd=project_dir)
    assert (configured.server, configured.embedded) == ("configured", False)
    via_pghost = load_settings({}, {"PGHOST": "h", "PGUSER": "u"}, cwd=project_dir)
    assert via_pghost.server == "configured"


def test_libpq_variables_alone_keep_the_embedded_default(project_dir: Path) -> None:
    environ = {"PGUSER": "u", "PGPASSWORD": "p", "PGPORT": "5433", "PGDATABASE": "d"}
    assert load_settings({}, environ, cwd=project_dir).embedded


def test_server_settings_without_a_host_are_an_error_naming_them_and_their_source(
    project_dir: Path,
) -> None:
    (project_dir / ".env.k8s.development").write_text(
        "POSTGRES_USER=app\nPOSTGRES_PASSWORD=secret\n"
    )
    message = _problem(project_dir, {})
    assert message == (
        "POSTGRES_HOST: not set, but POSTGRES_USER, POSTGRES_PASSWORD are "
        "(env file .env.k8s.development); set POSTGRES_HOST=… to check against that server, "
        "or DRIFT_SERVER=embedded to use a throwaway PostgreSQL and ignore them"
    )
    assert "secret" not in message


@pytest.mark.parametrize(
    ("flags", "environ", "listed"),
    [
        ({}, {"POSTGRES_PORT": "5433"}, "POSTGRES_PORT is (environment)"),
        ({}, {"POSTGRES_DB": "test_db"}, "POSTGRES_DB is (environment)"),
        ({}, {"POSTGRES_USER_FILE": "/x"}, "POSTGRES_USER_FILE is (environment)"),
        ({}, {"POSTGRES_PASSWORD_FILE": "/x"}, "POSTGRES_PASSWORD_FILE is (environment)"),
        (
            {"POSTGRES_USER": "u"},
            {"POSTGRES_PASSWORD": "p"},
            "POSTGRES_USER (flag), POSTGRES_PASSWORD (environment) are",
        ),
    ],
)
def test_each_server_setting_without_a_host_is_named(
    project_dir: Path, flags: dict[str, str], environ: dict[str, str], listed: str
) -> None:
    message = _problem(project_dir, environ, flags)
    assert message.startswith(f"POSTGRES_HOST: not set, but {listed};"), message


def test_drift_server_embedded_ignores_them_and_configured_requires_a_host(
    project_dir: Path,
) -> None:
    environ = {"POSTGRES_USER": "app", "POSTGRES_PASSWORD": "p", "DRIFT_SERVER": "embedded"}
    assert load_settings({}, environ, cwd=project_dir).embedded
    message = _problem(project_dir, {"DRIFT_SERVER": "configured"})
    assert message.startswith("POSTGRES_HOST: not set, but DRIFT_SERVER=configured (environment)")
    assert load_settings({}, {**BASE, "DRIFT_SERVER": "configured"}, cwd=project_dir).host


@pytest.mark.parametrize("host_key", ["POSTGRES_HOST", "PGHOST"])
def test_drift_server_embedded_with_a_host_is_a_conflict(project_dir: Path, host_key: str) -> None:
    environ = {host_key: "db.example", "POSTGRES_USER": "app", "DRIFT_SERVER": "embedded"}
    message = _problem(project_dir, environ)
    assert f"DRIFT_SERVER: embedded (environment) conflicts with {host_key}=db.example" in message


def test_drift_server_is_validated(project_dir: Path) -> None:
    assert "DRIFT_SERVER: 'remote' is not one of embedded, configured" in _problem(
        project_dir, {**BASE, "DRIFT_SERVER": "remote"}
    )


# -- the project's interpreter and the worker's memory -------------------------------------------


def test_python_as_a_path_or_a_command_on_path(project_dir: Path, tmp_path: Path) -> None:
    settings = load_settings({"DRIFT_PYTHON": sys.executable}, {}, cwd=project_dir)
    assert settings.python == os.path.abspath(sys.executable)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "projectpython"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    settings = load_settings(
        {}, {"DRIFT_PYTHON": "projectpython", "PATH": str(bin_dir)}, cwd=project_dir
    )
    assert settings.python == str(tool)
    relative = load_settings({}, {"DRIFT_PYTHON": "bin/projectpython"}, cwd=tmp_path)
    assert relative.python == str(tool)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("/nonexistent/bin/python", "not found"),
        ("no-such-python-command", "is neither a path nor a command on PATH"),
        ("./alembic.ini", "is not executable"),
        ("./", "is not a file"),
    ],
)
def test_python_that_cannot_run_is_rejected(project_dir: Path, value: str, reason: str) -> None:
    message = _problem(project_dir, {"DRIFT_PYTHON": value, "PATH": "/nonexistent"})
    assert message == f"DRIFT_PYTHON: {value!r} {reason}"


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("67108864", 64 * MiB),
        ("512M", 512 * MiB),
        ("512m", 512 * MiB),
        ("512Mi", 512 * MiB),
        ("2G", 2048 * MiB),
        ("1.5GiB", 1536 * MiB),
        ("800MB", 800_000_000),
        ("1 TB", 10**12),
        ("65536K", 64 * MiB),
    ],
)
def test_worker_memory_sizes(project_dir: Path, text: str, size: int) -> None:
    assert parse_size(text) == size
    settings = load_settings({}, {"DRIFT_WORKER_MEMORY": text}, cwd=project_dir)
    assert settings.worker_memory == size


@pytest.mark.parametrize("text", ["lots", "512X", "iB", "-1G", "1e9", "63M", "64MB", "0"])
def test_worker_memory_must_be_a_size_of_at_least_64_mib(project_dir: Path, text: str) -> None:
    message = _problem(project_dir, {"DRIFT_WORKER_MEMORY": text})
    assert message.startswith(f"DRIFT_WORKER_MEMORY: {text!r} is ")


# -- verbose, Alembic's -x and -n --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "verbose"), [("1", True), ("TRUE", True), ("yes", True), ("0", False), ("no", False)]
)
def test_verbose(project_dir: Path, text: str, verbose: bool) -> None:
    assert load_settings({}, {"DRIFT_VERBOSE": text}, cwd=project_dir).verbose is verbose
    assert load_settings({"DRIFT_VERBOSE": "1"}, {"DRIFT_VERBOSE": "0"}, cwd=project_dir).verbose
    assert "DRIFT_VERBOSE: 'maybe'" in _problem(project_dir, {"DRIFT_VERBOSE": "maybe"})


def test_alembic_x_arguments_and_section_name(project_dir: Path) -> None:
    settings = load_settings({}, {}, cwd=project_dir)
    assert (settings.x_args, settings.ini_section) == ((), "alembic")
    settings = load_settings(
        {},
        {"DRIFT_ALEMBIC_X": "tenant=a; data=1\nplain", "DRIFT_ALEMBIC_NAME": "db2"},
        cwd=project_dir,
    )
    assert settings.x_args == ("tenant=a", "data=1", "plain")
    assert settings.ini_section == "db2"
    # From the command line each -x is one argument: a ';' inside stays.
    settings = load_settings({"DRIFT_ALEMBIC_X": "sql=a;b\nother"}, {}, cwd=project_dir)
    assert settings.x_args == ("sql=a;b", "other")
    assert settings.sources["DRIFT_ALEMBIC_X"] == "flag"


# -- Alembic configuration only in pyproject.toml ----------------------------------------------

TOOL_ALEMBIC = '[project]\nname = "app"\n\n[tool.alembic]\nscript_location = "migrations"\n'


def test_pyproject_only_configuration(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(TOOL_ALEMBIC)
    settings = load_settings({}, {}, cwd=tmp_path)
    assert settings.alembic_config is None
    assert settings.toml_file == tmp_path / "pyproject.toml"
    assert settings.describe()["ALEMBIC_CONFIG"].startswith("(none: [tool.alembic] in ")
    (tmp_path / "alembic.ini").write_text("[alembic]\n")
    settings = load_settings({}, {}, cwd=tmp_path)
    assert (settings.alembic_config, settings.toml_file) == (
        tmp_path / "alembic.ini",
        tmp_path / "pyproject.toml",
    )


def test_a_pyproject_without_tool_alembic_is_not_a_configuration(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\n[tool.ruff]\n')
    assert _problem(tmp_path, {}) == (
        f"ALEMBIC_CONFIG: {tmp_path}/alembic.ini not found (and no [tool.alembic] in pyproject.toml)"
    )
    (tmp_path / "pyproject.toml").unlink()
    assert "(and no [tool.alembic] in pyproject.toml)" in _problem(tmp_path, {})


def test_a_named_alembic_config_must_exist_even_with_tool_alembic(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(TOOL_ALEMBIC)
    assert _problem(tmp_path, {"ALEMBIC_CONFIG": "other.ini"}) == (
        f"ALEMBIC_CONFIG: {tmp_path}/other.ini not found"
    )


def test_a_broken_pyproject_is_named(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.alembic\n")
    message = _problem(tmp_path, {})
    # The settings file (pyproject.toml's [tool.drift-check]) is read first: named with its path.
    assert message.startswith(f"{tmp_path}/pyproject.toml: not valid TOML")
    assert f"ALEMBIC_CONFIG: {tmp_path}/alembic.ini not found, and " in message
    # With an alembic.ini it is still read, for [tool.drift-check]: still an error, named.
    (tmp_path / "alembic.ini").write_text("[alembic]\n")
    assert _problem(tmp_path, {}).startswith(f"{tmp_path}/pyproject.toml: not valid TOML")


# -- describe(): every setting, its true source, the password only as *** -----------------------


def test_describe_lists_every_setting_with_its_true_source(project_dir: Path) -> None:
    env_file = project_dir / "custom.env"
    env_file.write_text("POSTGRES_USER=from-file\nDRIFT_OUTPUT=report.json\n")
    sub = project_dir / "sub"
    sub.mkdir()
    (sub / "alembic.ini").write_text("[alembic]\n")
    password_file = project_dir / "pw"
    password_file.write_text("hunter2\n")
    settings = load_settings(
        {"DRIFT_ENV_FILE": str(env_file), "DRIFT_PROJECT_DIR": "sub", "DRIFT_VERBOSE": "1"},
        {
            "POSTGRES_HOST": "db",
            "POSTGRES_PASSWORD_FILE": str(password_file),
            "PGPORT": "5433",
            "DRIFT_SUMMARY_FILE": "summary.json",
        },
        cwd=project_dir,
    )
    shown = settings.describe()
    assert list(shown) == list(KNOWN_KEYS)
    assert shown["DRIFT_ENV_FILE"] == f"{env_file}  [flag]"
    assert shown["DRIFT_PROJECT_DIR"] == f"{sub}  [flag]"
    assert shown["POSTGRES_HOST"] == "db  [environment]"
    assert shown["POSTGRES_PORT"] == "5433  [environment: PGPORT]"
    assert shown["POSTGRES_USER"] == "from-file  [env file]"
    assert shown["POSTGRES_PASSWORD"] == "***  [environment: POSTGRES_PASSWORD_FILE]"
    assert shown["POSTGRES_PASSWORD_FILE"] == f"{password_file}  [environment]"
    assert shown["DRIFT_OUTPUT"] == f"{project_dir / 'report.json'}  [env file]"
    assert shown["DRIFT_SUMMARY_FILE"] == f"{project_dir / 'summary.json'}  [environment]"
    assert shown["DRIFT_VERBOSE"] == "yes  [flag]"
    assert shown["DRIFT_SERVER"] == "configured (db)  [default]"
    assert shown["DRIFT_TIMEOUT"] == "900s  [default]"
    assert all("hunter2" not in value for value in shown.values())


def test_describe_shows_values_that_contain_the_password(project_dir: Path) -> None:
    settings = load_settings(
        {},
        {"POSTGRES_HOST": "app", "POSTGRES_USER": "app", "POSTGRES_PASSWORD": "app"},
        cwd=project_dir,
    )
    shown = settings.describe()
    assert shown["POSTGRES_USER"].startswith("app  ")
    assert shown["POSTGRES_HOST"].startswith("app  ")
    assert shown["POSTGRES_PASSWORD"] == "***  [environment]"


# -- env files: python-dotenv's interpolation, regular files of at most 1 MiB -------------------

INTERPOLATED = (
    "BASE=db.${DOMAIN}\n"
    "POSTGRES_HOST=${BASE}\n"
    "POSTGRES_USER=${USER_NAME:-fallback}\n"
    "POSTGRES_DB='${UNSET_ANYWHERE}x'\n"
    'DRIFT_DB_PREFIX="p_${SUFFIX}"\n'
    "EMPTY_DEFAULT=${EMPTY:-not used}\n"
)


def test_env_file_interpolation_matches_python_dotenv(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = project_dir / ".env.k8s.development"
    env_file.write_text(INTERPOLATED)
    environ = {"DOMAIN": "example.org", "SUFFIX": "x1", "EMPTY": ""}
    for key in ("DOMAIN", "SUFFIX", "EMPTY", "USER_NAME", "UNSET_ANYWHERE", "BASE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    expected = dotenv_values(env_file)  # python-dotenv's defaults, as the project loads it
    monkeypatch.undo()
    settings = load_settings({}, environ, cwd=project_dir)
    assert settings.host == expected["POSTGRES_HOST"] == "db.example.org"
    assert settings.user == expected["POSTGRES_USER"] == "fallback"
    assert settings.app_database == expected["POSTGRES_DB"] == "x"
    assert settings.prefix == expected["DRIFT_DB_PREFIX"] == "p_x1"
    assert expected["EMPTY_DEFAULT"] == ""


def _big_file(path: Path, size: int) -> Path:
    path.write_bytes(b"#" * (size - 1) + b"\n")
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda tmp: Path("/dev/zero"), "is not a regular file (a character device)"),
        (lambda tmp: (tmp / "fifo", os.mkfifo(tmp / "fifo"))[0], "is not a regular file (a FIFO)"),
        (
            lambda tmp: (tmp / "dir", (tmp / "dir").mkdir())[0],
            "is not a regular file (a directory)",
        ),
        (lambda tmp: _big_file(tmp / "big", MiB + 1), "is larger than 1 MiB"),
    ],
    ids=["device", "fifo", "directory", "too large"],
)
def test_only_small_regular_files_are_read(
    project_dir: Path, tmp_path: Path, make: object, reason: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    assert _problem(project_dir, {"DRIFT_ENV_FILE": str(path)}) == f"env file {path}: {reason}"
    for key in ("POSTGRES_PASSWORD_FILE", "POSTGRES_USER_FILE"):
        environ = {"POSTGRES_HOST": "h", key: str(path)}
        if key == "POSTGRES_PASSWORD_FILE":
            environ["POSTGRES_USER"] = "u"
        assert _problem(project_dir, environ) == f"{key}: file {path} {reason}"


def test_a_file_of_exactly_1_mib_is_read(project_dir: Path) -> None:
    path = _big_file(project_dir / "big.env", MiB)
    assert load_settings({}, {"DRIFT_ENV_FILE": str(path)}, cwd=project_dir).env_file == path


def test_a_file_that_is_not_an_env_file_is_not_reported_line_by_line(project_dir: Path) -> None:
    path = project_dir / "notes.env"
    path.write_text("some prose\n" * 100)
    message = _problem(project_dir, {"DRIFT_ENV_FILE": str(path)})
    assert message.count("expected KEY=VALUE") == 5
    assert message.endswith(f"env file {path}: 95 more bad line(s)")


# -- values no server, path or libpq can take ----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("db\0.example", "contains a NUL byte"),
        ("db\x1b[2J", "contains a control character (U+001B)"),
        ("db\r", "contains a control character (U+000D)"),
        ("db\nother", "contains a control character (U+000A)"),
        ("db\udcff", "contains bytes that are not UTF-8"),
    ],
)
def test_unusable_characters_name_the_key_never_the_value(
    project_dir: Path, value: str, reason: str
) -> None:
    for key in ("POSTGRES_HOST", "DRIFT_PROJECT_DIR", "DRIFT_ENV_FILE", "ALEMBIC_CONFIG"):
        message = _problem(project_dir, {**BASE, key: value})
        assert f"{key}: {reason} (from the environment)" in message, message
    message = _problem(project_dir, {**BASE, "POSTGRES_PASSWORD": "s3cr" + value})
    assert message == f"POSTGRES_PASSWORD: {reason} (from the environment)"
    assert f"POSTGRES_HOST: {reason} (from the flag)" in _problem(
        project_dir, BASE, {"POSTGRES_HOST": value}
    )


def test_unusable_characters_in_files(project_dir: Path) -> None:
    (project_dir / ".env.k8s.development").write_text(
        'POSTGRES_DB="a\\x00b"\nDRIFT_DB_PREFIX=a\0b\n'
    )
    message = _problem(project_dir, BASE)
    assert message == "DRIFT_DB_PREFIX: contains a NUL byte (from the env file)"
    (project_dir / ".env.k8s.development").unlink()
    (project_dir / "pw").write_bytes(b"pass\0word\n")
    message = _problem(project_dir, {**BASE, "POSTGRES_PASSWORD_FILE": str(project_dir / "pw")})
    assert message == f"POSTGRES_PASSWORD_FILE: file {project_dir / 'pw'} contains a NUL byte"


def test_tabs_and_list_separators_are_fine(project_dir: Path) -> None:
    settings = load_settings(
        {},
        {**BASE, "POSTGRES_PASSWORD": "tab\there", "DRIFT_SET_ENV": "A={url}\nB={port}"},
        cwd=project_dir,
    )
    assert settings.password == "tab\there"
    assert settings.set_env == (("A", "{url}"), ("B", "{port}"))

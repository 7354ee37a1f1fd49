"""``drift-check config``: every setting for display, with where it came from. The password
is shown only as ``***``; other values are shown as they are, never redacted by substring."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from drift_job.settings_cache import describe_cache

if TYPE_CHECKING:
    from drift_job.settings import Settings


def _alembic_shown(settings: Settings) -> str:
    toml = f"[tool.alembic] in {settings.toml_file}" if settings.toml_file else ""
    if settings.alembic_config is None:
        return f"(none: {toml})"
    return f"{settings.alembic_config} and {toml}" if toml else str(settings.alembic_config)


def describe(settings: Settings) -> dict[str, str]:
    """Every setting for display with where it came from; the password only as ``***``
    (other values are shown as they are, never redacted by substring)."""
    memory = settings.worker_memory
    shown: dict[str, str] = {
        "POSTGRES_HOST": settings.host or "(none)",
        "POSTGRES_PORT": str(settings.port),
        "POSTGRES_USER": settings.user or "(none)",
        "POSTGRES_USER_FILE": str(settings.secret_files.get("POSTGRES_USER_FILE", "(none)")),
        "POSTGRES_PASSWORD": "***" if settings.password else "(none)",
        "POSTGRES_PASSWORD_FILE": str(
            settings.secret_files.get("POSTGRES_PASSWORD_FILE", "(none)")
        ),
        "POSTGRES_DB": settings.app_database or "(none)",
        "POSTGRES_SSLMODE": settings.sslmode or "(libpq default)",
        "ALEMBIC_CONFIG": _alembic_shown(settings),
        "DRIFT_ALEMBIC_NAME": settings.ini_section,
        "DRIFT_ALEMBIC_X": "; ".join(settings.x_args) or "(none)",
        "DRIFT_SERVER": settings.server
        + (" (a throwaway PostgreSQL)" if settings.embedded else f" ({settings.host})"),
        "DRIFT_MAINTENANCE_DB": settings.maintenance_db
        + ("" if settings.maintenance_db_explicit else " (else template1)"),
        "DRIFT_PYTHON": settings.python or f"(the one running drift-check: {sys.executable})",
        "DRIFT_WORKER_MEMORY": f"{memory} bytes ({memory / (1 << 20):g} MiB)"
        if memory
        else "(no limit)",
        "DRIFT_DB_PREFIX": settings.prefix,
        "DRIFT_URL_ENV": settings.url_env or "(none)",
        "DRIFT_SET_ENV": "; ".join(f"{k}={v}" for k, v in settings.set_env) or "(none)",
        "DRIFT_DRIVER": settings.driver or "(from the project's URL, else psycopg2)",
        "DRIFT_PROJECT_DIR": str(settings.project_dir),
        "DRIFT_ENV_FILE": str(settings.env_file) if settings.env_file else "(none)",
        "DRIFT_CONNECT_TIMEOUT": f"{settings.connect_timeout:g}s",
        "DRIFT_TIMEOUT": f"{settings.timeout:g}s",
        "DRIFT_ORPHAN_TTL": f"{settings.orphan_ttl:g}s",
        "DRIFT_FORMAT": settings.output_format,
        "DRIFT_OUTPUT": str(settings.output) if settings.output else "(stdout)",
        "DRIFT_SUMMARY_FILE": str(settings.summary_file) if settings.summary_file else "(none)",
        "DRIFT_TERMINATION_MESSAGE_PATH": str(settings.termination_message_path)
        if settings.termination_message_path
        else "(/dev/termination-log if writable)",
        "DRIFT_VERBOSE": "yes" if settings.verbose else "no",
        "DRIFT_COMPARE": settings.compare,
        "DRIFT_STRICT": "yes" if settings.strict else "no",
        "DRIFT_ROUNDTRIP": "yes" if settings.roundtrip else "no",
        "DRIFT_ROUNDTRIP_TO": settings.roundtrip_to or "(base)",
        "DRIFT_ROUNDTRIP_SKIP": "; ".join(f"{r}={why}" for r, why in settings.roundtrip_skip)
        or "(none)",
        "DRIFT_BASE_REVISION": settings.base_revision or "(none)",
        "DRIFT_BASE_REF": settings.base_ref or "(none)",
        "DRIFT_HEADS": settings.heads,
        "DRIFT_LINT": settings.lint,
        "DRIFT_REPORT": "; ".join(f"{fmt}:{path}" for fmt, path in settings.reports) or "(none)",
        "DRIFT_IGNORE_FILE": f"{settings.ignore_file or '(none)'} ({len(settings.ignore_rules)} "
        f"ignore rule(s) in all{_settings_file_shown(settings)})",
        "DRIFT_STRICT_IGNORES": "yes" if settings.strict_ignores else "no",
        **describe_cache(settings),
    }
    return {key: f"{value}  [{_source(settings, key)}]" for key, value in shown.items()}


def _settings_file_shown(settings: Settings) -> str:
    return f"; settings file {settings.settings_file}" if settings.settings_file else ""


def _source(settings: Settings, key: str) -> str:
    layer, _, via = settings.sources.get(key, "default").partition(":")
    return f"{layer}: {via}" if via else layer

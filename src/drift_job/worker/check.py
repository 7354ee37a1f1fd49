"""The check itself, as the worker runs it: revisions, then (once the supervisor has created
the temporary database) the upgrade and the autogenerate comparison."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from . import protocol
from .autogenerate import run_autogenerate, summarise
from .cache_chain import ModelsWatch, StartCheck, chain_description
from .catalog_pass import metadatas_of, run_catalog_pass
from .classify import classify
from .environment import (
    assignments,
    choose_driver,
    needs_password,
    private_home_if_needed,
    sync_driver,
    target_url,
)
from .guard import SafetyGuard
from .locations import SourceIndex
from .main_support import Channel, Commands, Stages
from .models_build import EarlyBuild, Reuse
from .project import Project, load_revisions, open_project, read_config
from .review import lint_revisions, review_graph
from .roundtrip import RoundTrip
from .stray_models import stray_tables
from .upgrade import shared_connection, upgrade, watch_configure


def enter_project(project_dir: str) -> None:
    """Run in the project directory with it importable, as ``alembic`` run from there would."""
    os.chdir(project_dir)
    sys.path.insert(0, project_dir)


class Run:
    """What a failure report needs to know about how far the check got."""

    def __init__(self) -> None:
        self.job: dict[str, Any] = {}
        self.guard: Any = None
        self.env_py = Path("env.py")
        self.version_dirs: list[Path] = []
        self.scratch: list[str] = []


def check(run: Run, commands: Commands, stages: Stages) -> None:
    job, channel, server = run.job, stages.channel, run.job["server"]
    run.guard = SafetyGuard(
        job["database"],
        str(server["host"]),
        int(server["port"]),
        job["run_id"],
        job.get("models_database"),
    )
    run.guard.install()  # before any project code: import-time connections are guarded too
    enter_project(job["project_dir"])
    with stages.stage("revisions") as note:
        config = read_config(job["project"])
        driver = choose_driver(job, config.get_main_option("sqlalchemy.url") or None)
        url: URL = target_url(server, job["database"], driver)
        sync_url: URL = target_url(server, job["database"], sync_driver(driver))
        environment = private_home_if_needed()
        run.scratch = sorted(set(environment.values()))
        with_password = needs_password(job, Path(job["project_dir"]), Path("env.py"))
        environment.update(assignments(job, url, password_in_environment=with_password))
        os.environ.update(environment)  # before the project's first import
        project = open_project(config, job["project"])
        run.env_py, run.version_dirs = project.env_py, project.version_dirs
        review = job.get("review", {})
        load_revisions(project, all_heads=review.get("heads") == "all")
        new = review_graph(project, review)
        trip = RoundTrip(project, url, sync_url, job["roundtrip"]) if job.get("roundtrip") else None
        note.append(f"head {project.head or '(no migrations)'}{new.note}")
    channel.send(
        protocol.REVISIONS,
        head=project.head,
        driver=driver,
        files=project.files,
        environment=sorted(environment),
        version_dirs=[str(d) for d in project.version_dirs],
        env_py=str(project.env_py.resolve()),
        cache=chain_description(project, [driver, sync_driver(driver)])
        if job.get("cache")
        else None,
    )
    go = commands.expect(protocol.GO)
    commands.watch()
    configured: dict[str, Any] = {}
    early = _early_build(job, sync_driver(driver), sync_url, channel, commands)
    models_watch = ModelsWatch() if go.get("snapshot") else None
    watch_configure(
        lambda revision: channel.send(protocol.APPLIED, revision=revision),
        configured,
        configuring=StartCheck(go.get("start")),
        on_configure=_on_configure(early, models_watch),
    )
    with stages.stage("migrate") as note:
        _upgrade(project, url, sync_url, trip)
        note.append(f"upgraded to {project.head or 'base (no migrations)'} ({driver})")
        note.extend(["one revision at a time"] if trip is not None else [])
    if models_watch is not None:
        _wait_for_the_cache(models_watch.changed(configured), channel, commands)
    with stages.stage("compare") as note:
        with shared_connection(project, url, sync_url, autogenerate=True) as autogen_config:
            upgrade_ops, context = run_autogenerate(project, autogen_config)
        differences, suggested = summarise(upgrade_ops, context)
        note.append(f"{len(differences)} difference(s)")
    information: list[dict[str, Any]] = []
    if early is not None:
        differences, information, suggested = _catalog(
            stages,
            configured=configured,
            urls=(sync_url, early.url),
            differences=differences,
            suggested=suggested,
            project_dir=job["project_dir"],
            early=early,
        )
    lint = lint_revisions(project, new, stages) if review.get("lint") else None
    roundtrip = _round_trip(trip, stages)
    if run.guard.violation is not None:  # env.py swallowed the guard's exception
        raise RuntimeError("the safety guard refused a connection")
    if differences or information:  # a clean run reads no model source
        index = SourceIndex(metadatas_of(configured), project.env_py)
        for item in (*differences, *information):
            index.locate(item)
    channel.send(
        protocol.RESULT,
        differences=differences,
        information=information,
        suggested_migration=suggested,
        lint=lint,
        roundtrip=roundtrip,
    )


def _catalog(
    stages: Stages,
    *,
    configured: dict[str, Any],
    urls: tuple[URL, URL],
    differences: list[dict[str, Any]],
    suggested: str,
    project_dir: str,
    early: EarlyBuild,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """The catalog pass: the migrated database against the one the models build (built
    while the migrations ran, if ``early`` stands)."""
    migrated_url, models_url = urls
    with stages.stage("catalog") as note:
        differences, information, fixing = run_catalog_pass(
            configured, migrated_url, models_url, differences, built=early.stands(configured)
        )
        information += stray_tables(Path(project_dir), metadatas_of(configured))
        more = sum(1 for d in differences if d.get("source") == "catalog")
        note.append(f"{more} more difference(s), {len(information)} information")
    return differences, information, _with_catalog_fixes(suggested, fixing)


def _early_build(
    job: dict[str, Any], driver: str, sync_url: URL, channel: Channel, commands: Commands
) -> EarlyBuild | None:
    """The models' database (for the catalog pass): given by the supervisor, or (with the
    cache on a server) asked for by its DDL, cloned if it was built before, and offered for
    keeping once built."""
    if not job.get("models_database"):
        return None
    models_url = target_url(job["server"], job["models_database"], driver)

    def given(digest: str | None) -> bool:
        if job.get("models_cache"):
            channel.send(protocol.MODELS_WANTED, ddl=digest)
        return bool(commands.expect(protocol.MODELS).get("cloned"))

    def kept(digest: str) -> None:
        channel.send(protocol.MODELS_BUILT, ddl=digest)
        commands.expect(protocol.MODELS_KEPT)

    reuse = Reuse(sync_url, kept) if job.get("models_cache") else None
    return EarlyBuild(models_url, given, reuse)


def _upgrade(project: Project, url: URL, sync_url: URL, trip: RoundTrip | None) -> None:
    """To head: in one run, or one revision at a time for the round trip."""
    if trip is not None:
        trip.upgrade()
    else:
        upgrade(project, url, sync_url)


def _round_trip(trip: RoundTrip | None, stages: Stages) -> dict[str, Any] | None:
    """Last: the other passes compare the database at head."""
    if trip is None:
        return None
    with stages.stage("roundtrip") as note:
        found = trip.run()
        checked, findings = len(found["checked"]), len(found["findings"])
        note.append(f"{checked} revision(s) downgraded and upgraded again, {findings} finding(s)")
    return found


def _on_configure(
    early: EarlyBuild | None, models_watch: ModelsWatch | None
) -> Callable[[dict[str, Any]], None]:
    """Once env.py has configured: the models' early build starts, and the cache notes the
    models, to tell whether the migrations change them."""

    def configured(options: dict[str, Any]) -> None:
        if models_watch is not None:
            models_watch.configured(options)
        if early is not None:
            early.start(options)

    return configured


def _wait_for_the_cache(models_changed: bool, channel: Channel, commands: Commands) -> None:
    """The supervisor copies the migrated database into the cache meanwhile (unless running
    the migrations changed the models: a copy would let a later run skip that)."""
    channel.send(protocol.MIGRATED, models_changed=models_changed)
    commands.expect(protocol.RESUME)


def _with_catalog_fixes(suggested: str, fixing: list[str]) -> str:
    """Autogenerate's operations, then the catalog pass's, in one upgrade() body."""
    if not fixing:
        return suggested
    block = "\n".join(
        ["# ### found by the catalog comparison (autogenerate cannot see these) ###", *fixing]
    )
    return f"{suggested}\n{block}" if suggested else block


def versions() -> dict[str, str]:
    """What the supervisor is told about the interpreter the project's code runs in."""
    import alembic  # noqa: PLC0415 - already loaded by the imports above
    import sqlalchemy  # noqa: PLC0415

    return {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "alembic": alembic.__version__,
        "sqlalchemy": sqlalchemy.__version__,
    }


def report_failure(error: BaseException, stage: str, run: Run, channel: Channel) -> None:
    """Classify what the project's code raised and send it as the run's error."""
    guard = run.guard
    failure = classify(
        error,
        stage=stage,
        env_py=run.env_py,
        version_dirs=run.version_dirs,
        guard_message=guard.explain(os.environ) if guard and guard.violation else None,
    )
    channel.send(
        protocol.ERROR,
        stage=stage,
        category=failure.category,
        message=failure.message,
        traceback="".join(traceback.format_exception(type(error), error, error.__traceback__)),
    )

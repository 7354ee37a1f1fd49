"""The main line new revisions are judged against: ``--base-revision`` or ``--base-ref``.

A base ref is read with git itself (``git ls-tree`` and ``git cat-file`` of the version
directories at that commit, into a temporary directory), and Alembic's ScriptDirectory reads
the files there, exactly as it reads the project's own.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory

from .classify import Failure, one_line
from .project import Project

GIT_TIMEOUT = 60.0


@dataclass(frozen=True)
class Base:
    """The base's revisions and heads; ``label`` names it in messages."""

    label: str
    heads: tuple[str, ...]
    revisions: frozenset[str]


def load_base(project: Project, review: dict[str, Any]) -> Base | None:
    """The base named by the job, or None when no base was asked for."""
    if review.get("base_revision"):
        return _from_revision(project, str(review["base_revision"]))
    if review.get("base_ref"):
        return _from_git(project, str(review["base_ref"]))
    return None


def _from_revision(project: Project, revision: str) -> Base:
    script = project.script
    try:
        heads = tuple(s.revision for s in script.get_revisions(revision) if s is not None)
        below = {s.revision for s in script.iterate_revisions(revision, "base") if s is not None}
    except Exception as exc:  # an unknown, ambiguous or misspelt id: Alembic's own words
        raise Failure(
            "config", f"DRIFT_BASE_REVISION: {revision!r} is not usable ({one_line(exc)})"
        ) from exc
    return Base(f"revision {revision}", heads, frozenset(below))


def _git(arguments: list[str], where: Path, ref: str, given: bytes = b"") -> bytes:
    """Run git; any failure is a configuration problem naming the ref."""
    try:
        done = subprocess.run(  # noqa: S603 - list arguments, the ref validated by settings
            ["git", *arguments],  # noqa: S607 - git from PATH, as the user runs it
            cwd=str(where),
            input=given,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise Failure("config", f"DRIFT_BASE_REF: cannot run git ({one_line(exc)})") from exc
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        raise Failure(
            "config",
            f"DRIFT_BASE_REF: git cannot read {ref!r} in {where} "
            f"({said[-1] if said else f'git {arguments[0]} exited {done.returncode}'})",
        )
    return done.stdout


def _from_git(project: Project, ref: str) -> Base:
    here = Path(project.script.dir)
    top = Path(_git(["rev-parse", "--show-toplevel"], here, ref).decode().strip()).resolve()
    commit = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], top, ref)
    commit_id = commit.decode().strip()
    with tempfile.TemporaryDirectory(prefix="drift-check-base-") as scratch:
        locations = []
        for directory in project.version_dirs:
            try:
                relative = directory.resolve().relative_to(top)
            except ValueError:
                raise Failure(
                    "config",
                    f"DRIFT_BASE_REF: the versions directory {directory} is outside the git "
                    f"repository at {top}",
                ) from None
            copy = Path(scratch, "tree", relative)
            copy.mkdir(parents=True, exist_ok=True)
            listed = _git(
                ["ls-tree", "-r", "-z", "--name-only", commit_id, "--", str(relative)], top, ref
            )
            names = [n for n in listed.decode().split("\0") if n.endswith(".py")]
            for name, content in _contents(commit_id, names, top, ref).items():
                target = Path(scratch, "tree", name)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            locations.append(str(copy))
        return _read_base(project, ref, scratch, locations)


def _contents(commit: str, names: list[str], top: Path, ref: str) -> dict[str, bytes]:
    """The files at ``commit``, read by one ``git cat-file --batch``, however many."""
    if not names:
        return {}
    wanted = "".join(f"{commit}:{name}\n" for name in names).encode()
    output = _git(["cat-file", "--batch"], top, ref, wanted)
    contents: dict[str, bytes] = {}
    at = 0
    for name in names:
        header_end = output.index(b"\n", at)
        size = int(output[at:header_end].split()[2])  # "<object> blob <size>"
        contents[name] = output[header_end + 1 : header_end + 1 + size]
        at = header_end + 1 + size + 1
    return contents


def _read_base(project: Project, ref: str, scratch: str, locations: list[str]) -> Base:
    options: dict[str, Any] = {"version_locations": locations}
    recursive = getattr(project.script, "recursive_version_locations", None)
    if recursive is not None:  # Alembic 1.10 and newer
        options["recursive_version_locations"] = recursive
    script = ScriptDirectory(scratch, **options)
    try:
        heads = tuple(script.get_heads())
        scripts = [s for s in script.walk_revisions() if s is not None]
    except Exception as exc:
        raise Failure(
            "config",
            f"DRIFT_BASE_REF: the revision files at {ref} cannot be read ({one_line(exc)})",
        ) from exc
    return Base(ref, heads, frozenset(s.revision for s in scripts))

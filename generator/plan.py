"""The plan: every output file rendered in memory, then written, checked or listed.

``generate``, ``generate --check`` and ``generate --dry-run`` are three small consumers of one
plan, so they cannot drift apart.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from . import ir
from .render import environment, render_package

MANIFEST = ".eventspec-manifest"


@dataclass(frozen=True)
class Plan:
    root: Path
    files: dict[Path, str]  # relative to root, sorted
    owned: frozenset[Path]  # files the manifest tracks (removed when no longer generated)
    manifest: Path
    warnings: tuple[str, ...] = ()
    removed: tuple[Path, ...] = ()  # snapshots of dropped or renamed tables


@dataclass
class Drift:
    changed: list[Path] = field(default_factory=list)
    missing: list[Path] = field(default_factory=list)
    extra: list[Path] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changed or self.missing or self.extra)


def make_plan(
    project: ir.Project,
    *,
    name: str | None = None,
    allow_destructive: bool = False,
    accept_breaking: Collection[str] = (),
) -> Plan:
    from .contracts import plan_lock
    from .migrations import plan_migrations

    env = environment()
    package_files = render_package(project, env)
    files = {project.output / rel: text for rel, text in package_files.items()}
    manifest = project.output / MANIFEST
    files[manifest] = "".join(f"{path.as_posix()}\n" for path in sorted(files))
    migration = plan_migrations(project, name=name, allow_destructive=allow_destructive)
    owned = frozenset(files)
    files.update(migration.files)
    lock, accepted = plan_lock(project, accept_breaking)
    files.update(lock)
    return Plan(
        root=project.root,
        files=dict(sorted(files.items())),
        owned=owned,
        manifest=manifest,
        warnings=(*migration.warnings, *accepted, *_partitioning_notes(project)),
        removed=tuple(migration.removed),
    )


def _partitioning_notes(project: ir.Project) -> list[str]:
    """Partitioning is PostgreSQL's: say so when the project's database is SQLite."""
    url = project.database_url or ""
    if not url.startswith("sqlite"):
        return []
    return [
        f"{log.name}: partitioning applies on PostgreSQL only; on SQLite (database_url) "
        f"{log.table} is a plain table"
        for log in project.event_logs
        if log.partitioning is not None
    ]


def _previous_manifest(plan: Plan) -> set[Path]:
    path = plan.root / plan.manifest
    if not path.exists():
        return set()
    return {Path(line) for line in path.read_text().splitlines() if line.strip()}


def _stale(plan: Plan) -> list[Path]:
    stale = (_previous_manifest(plan) - set(plan.files)) | set(plan.removed)
    return sorted(p for p in stale if (plan.root / p).exists())


def drift(plan: Plan) -> Drift:
    result = Drift()
    for rel, text in plan.files.items():
        path = plan.root / rel
        if not path.exists():
            result.missing.append(rel)
            continue
        current = path.read_text(encoding="utf-8")
        if current != text:
            result.changed.append(rel)
            result.diff.extend(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    fromfile=f"a/{rel.as_posix()}",
                    tofile=f"b/{rel.as_posix()}",
                )
            )
    result.extra = _stale(plan)
    return result


def write(plan: Plan) -> Drift:
    """Write what changed, atomically file by file; remove files no longer generated."""
    changes = drift(plan)
    for rel in changes.missing + changes.changed:
        _atomic_write(plan.root / rel, plan.files[rel])
    for rel in changes.extra:
        (plan.root / rel).unlink()
    return changes


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

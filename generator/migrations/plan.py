"""Plan the next migration: read snapshots and revisions, diff, render one revision file."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .. import ir
from ..tables import table_defs
from .diff import diff
from .revision import heads, revision_file
from .snapshot import Table, dump, load

SLUG_LENGTH = 60


@dataclass(frozen=True)
class MigrationPlan:
    files: dict[Path, str]  # relative to the project root: the new revision and changed snapshots
    warnings: list[str]
    removed: list[Path] = field(default_factory=list)  # snapshots of dropped or renamed tables
    revision: str | None = None  # id of the new revision, if any

    @property
    def pending(self) -> bool:
        return bool(self.files or self.removed)


def plan_migrations(
    project: ir.Project,
    existing: Mapping[Path, str] | None = None,
    *,
    name: str | None = None,
    allow_destructive: bool = False,
) -> MigrationPlan:
    """The migration from the stored snapshots to the current spec; no files when nothing changed.

    ``existing`` maps paths relative to the project root to file contents; by default the
    ``versions/`` and ``snapshots/`` folders under ``project.migrations`` are read from disk.
    Raises :class:`~eventspec.migrations.snapshot.SnapshotError` for an unreadable snapshot.
    """
    versions = project.migrations / "versions"
    snapshots = project.migrations / "snapshots"
    files = dict(existing) if existing is not None else read_files(project)
    stored: dict[str, Table] = {}
    for path, text in sorted(files.items()):
        if path.parent == snapshots and path.suffix == ".json":
            snap = load(text, path.as_posix())
            stored[snap.name] = snap
    revisions = {p: t for p, t in files.items() if p.parent == versions}
    result = diff(
        stored, table_defs(project), allow_destructive=allow_destructive, package=project.package
    )
    if not result.upgrade:
        return MigrationPlan({}, result.warnings)
    parents = heads(revisions)
    warnings = list(result.warnings)
    if len(parents) > 1:
        warnings.append(f"the new revision merges the heads {', '.join(parents)}")
    slug = slugify(name) if name else derived_slug(result.words, initial=not stored)
    revision = revision_file(
        message=slug.replace("_", " ").capitalize() + ".",
        slug=slug,
        down=parents,
        upgrade=result.upgrade,
        versions=versions,
        source=f"{project.specs.as_posix()}/",
    )
    out = {revision.path: revision.text}
    for table, snap in sorted(result.snapshots.items()):
        out[snapshots / f"{table}.json"] = dump(snap)
    removed = [
        snapshots / f"{table}.json"
        for table in sorted(result.removed)
        if table not in result.snapshots
    ]
    return MigrationPlan(out, warnings, removed, revision.id)


def read_files(project: ir.Project) -> dict[Path, str]:
    out: dict[Path, str] = {}
    for folder, pattern in (("versions", "*.py"), ("snapshots", "*.json")):
        base = project.root / project.migrations / folder
        if base.is_dir():
            for path in sorted(base.glob(pattern)):
                out[path.relative_to(project.root)] = path.read_text(encoding="utf-8")
    return out


def slugify(text: str) -> str:
    slug = re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")[:SLUG_LENGTH].strip("_")
    return slug or "migration"


def derived_slug(words: list[str], *, initial: bool) -> str:
    if initial:
        return "initial"
    unique = list(dict.fromkeys(words))
    if not unique:
        return "destructive_changes_left_out"
    if len(unique) == 1:
        return slugify(unique[0])
    return slugify(f"{unique[0]}_and_{len(unique) - 1}_more")

"""Event contracts: the event-schema lock, and the breaking changes found by comparing with it.

``load_project`` calls :func:`lock_diagnostics` after the semantic rules, so ``validate``,
``generate`` and ``generate --check`` all refuse a break (exit 2, nothing written); ``make_plan``
calls :func:`plan_lock` to write the updated lock with the rest of the output.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from .. import ir
from ..diagnostics import Diagnostic, file_diagnostic
from .breaking import CODES, Break, find_breaks
from .lock import FILE_NAME, LockError, dump, lock_path, read_lock, updated_lock

__all__ = ["CODES", "FILE_NAME", "Break", "lock_diagnostics", "plan_lock"]


def lock_diagnostics(project: ir.Project, accept: Collection[str] = ()) -> list[Diagnostic]:
    """ES300 for an unreadable lock; every breaking change whose code is not accepted."""
    try:
        lock = read_lock(project)
    except LockError as error:
        return [file_diagnostic(lock_path(project).as_posix(), "ES300", str(error))]
    return [b.diagnostic for b in find_breaks(project, lock) if b.code not in accept]


def plan_lock(
    project: ir.Project, accept: Collection[str] = ()
) -> tuple[dict[Path, str], list[str]]:
    """The lock file to write (none for a project that tracks nothing and has no lock yet), and
    one loud warning per accepted breaking change."""
    lock = read_lock(project)
    accepted = [b for b in find_breaks(project, lock) if b.code in accept]
    new = updated_lock(project, lock, (key for b in accepted for key in b.keys))
    warnings = [
        f"accepted breaking change {b.code} ({b.diagnostic.file}:{b.diagnostic.line}): "
        f"{b.diagnostic.message}; events recorded under the dropped lock entries may no longer "
        "replay"
        for b in accepted
    ]
    path = lock_path(project)
    if not new and not (project.root / path).exists():
        return {}, warnings
    return {path: dump(new)}, warnings

"""Diff the stored snapshots against the tables of the current spec, into alembic operations.

The upgrade is a list of ``alembic.operations.ops`` objects (plus :class:`CodeOp` for PostgreSQL
enum types and operations left out); the downgrade is its ``reverse()``. Alongside, every table's
resulting snapshot records what the migration does, and nothing more: a destructive change that is
left commented out keeps the old definition and is listed under ``deferred``, so later runs do not
repeat it (they warn) until ``allow_destructive`` applies it.

The comparison itself lives in :mod:`.compare`, one module per concern.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..tables import TableDef
from .codeop import CodeOp
from .compare import tables
from .compare.context import Context, Diff
from .snapshot import Table, snapshot_of

__all__ = ["CodeOp", "Diff", "diff"]


def diff(
    old: Mapping[str, Table],
    defs: Sequence[TableDef],
    *,
    allow_destructive: bool = False,
    package: str = "",
) -> Diff:
    ctx = Context(
        package=package,
        allow=allow_destructive,
        defs={t.name: t for t in defs},
        target={t.name: snapshot_of(t) for t in defs},
        original=dict(old),
        state=dict(old),
    )
    tables.rename_tables(ctx)
    for name in sorted(ctx.target.keys() & ctx.state.keys()):
        tables.alter_table(ctx, name)
    tables.create_tables(ctx, set(ctx.target.keys() - ctx.state.keys()))
    tables.drop_tables(ctx, set(ctx.state.keys() - ctx.target.keys()))
    ctx.result.upgrade = ctx.upgrade()
    return ctx.result

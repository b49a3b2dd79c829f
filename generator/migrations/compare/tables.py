"""Tables: renamed, created, dropped, and the comparison of a table that stays."""

from __future__ import annotations

from dataclasses import replace

from alembic.operations import ops

from .. import codeop
from ..codeop import CodeOp
from ..schema import metadata_of
from . import columns, constraints, partitions
from .context import Context, Work


def rename_tables(ctx: Context) -> None:
    for name, table in sorted(ctx.defs.items()):
        previous = table.renamed_from
        if not previous or previous not in ctx.state or name in ctx.state:
            continue
        if previous in ctx.target:
            continue  # the old name is still in use: not a rename
        ctx.state[name] = replace(ctx.state.pop(previous), name=name)
        ctx.original[name] = ctx.original.pop(previous)
        ctx.result.removed.add(previous)
        ctx.renames.append(codeop.RenameTable(previous, name))
        ctx.word(f"rename_{previous}")
        for other_name, other in ctx.state.items():
            foreign_keys = tuple(
                replace(fk, referred_table=name) if fk.referred_table == previous else fk
                for fk in other.foreign_keys
            )
            ctx.state[other_name] = replace(other, foreign_keys=foreign_keys)


def create_tables(ctx: Context, names: set[str]) -> None:
    metadata = metadata_of(ctx.target.values())
    for table in metadata.sorted_tables:
        if table.name not in names:
            continue
        snap = ctx.target[table.name]
        for column in snap.columns:
            if column.type.is_enum:
                # create_table creates the type; the downgrade must drop it after drop_table.
                ctx.created.append(CodeOp([], codeop.drop_enum(column.type.enum_name)))
        if snap.partition_by is None:
            ctx.created.append(ops.CreateTableOp.from_table(table))
        else:
            ctx.created.append(partitions.create_table(snap))
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            ctx.created.append(ops.CreateIndexOp.from_index(index))
        if snap.partition_by is not None:
            ctx.created.append(partitions.first_partitions(ctx, snap))
        ctx.result.snapshots[table.name] = snap
        ctx.word(f"add_{table.name}")


def drop_tables(ctx: Context, names: set[str]) -> None:
    metadata = metadata_of(ctx.state.values())
    for table in reversed(metadata.sorted_tables):
        if table.name not in names:
            continue
        snap = ctx.state[table.name]
        if not ctx.allow:
            drop = ops.DropTableOp.from_table(table)
            message = f"{table.name}: dropping the table loses its data"
            deferred = list(snap.deferred)
            ctx.defer(deferred, "drop_table", drop, message, into=ctx.dropped)
            snap = ctx.state[table.name] = replace(snap, deferred=tuple(sorted(set(deferred))))
            if snap != ctx.original[table.name]:
                ctx.result.snapshots[table.name] = snap
            continue
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            ctx.dropped.append(ops.DropIndexOp.from_index(index))
        ctx.dropped.append(ops.DropTableOp.from_table(table))
        for column in snap.columns:
            if column.type.is_enum:
                ctx.dropped.append(CodeOp(codeop.drop_enum(column.type.enum_name), []))
        ctx.result.removed.add(table.name)
        ctx.word(f"drop_{table.name}")


def alter_table(ctx: Context, name: str) -> None:
    """The columns and constraints of a table that is in both the snapshots and the spec."""
    current, target = ctx.state[name], ctx.target[name]
    partitions.check_unchanged(ctx, current, target)
    seen = frozenset(current.deferred)
    work = Work.of(current)
    table_ops: list[ops.MigrateOperation] = []
    columns.rename_columns(ctx, work, table_ops)
    before = work.freeze()
    constraints.drop_constraints(before, target, table_ops)
    changes = columns.Changes(seen)
    added = [c for c in target.columns if work.column(c.name) is None]
    for column in list(work.columns):
        wanted = target.column(column.name)
        if wanted is not None:
            columns.alter_column(ctx, work, column.name, wanted, changes, table_ops)
    for column in added:
        columns.add_column(ctx, work, column, table_ops)
    for column in list(work.columns):
        if target.column(column.name) is None:
            columns.drop_column(ctx, work, column, seen, table_ops)
    work.take_constraints(target)
    constraints.create_constraints(before, target, table_ops)
    if table_ops:
        ctx.modified.append(ops.ModifyTableOps(name, table_ops))
    if changes.backfill:
        ctx.modified.append(CodeOp(changes.backfill, []))
    if changes.tighten:
        ctx.modified.append(ops.ModifyTableOps(name, changes.tighten))
    snap = ctx.state[name] = work.freeze()
    if snap != ctx.original[name]:
        ctx.result.snapshots[name] = snap

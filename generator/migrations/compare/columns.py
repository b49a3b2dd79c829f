"""Columns of a table that stays: renamed, added, dropped, and altered (type, default, NULL)."""

from __future__ import annotations

import json
from collections.abc import Set
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from alembic.operations import ops

from .. import codeop
from ..codeop import CodeOp
from ..schema import to_column
from ..snapshot import Column, DbType
from . import enums
from .context import Context, Work, existing


@dataclass
class Changes:
    """What a table's columns add after its own operations."""

    seen: Set[str]  # keys of operations the stored snapshot had left out
    tighten: list[ops.MigrateOperation] = field(default_factory=list)  # SET NOT NULL, last
    backfill: list[str] = field(default_factory=list)  # UPDATEs that must run before those


def rename_columns(ctx: Context, work: Work, out: list[ops.MigrateOperation]) -> None:
    for definition in ctx.defs[work.name].columns:
        previous = definition.renamed_from
        column = work.column(previous) if previous else None
        if column is None or previous is None or work.column(definition.name) is not None:
            continue
        out.append(
            codeop.AlterColumn(work.name, previous, modify_name=definition.name, **existing(column))
        )
        work.put(previous, replace(column, name=definition.name))
        work.rename_in_constraints(previous, definition.name)
        ctx.word(f"rename_{work.name}_{previous}")


def add_column(ctx: Context, work: Work, column: Column, out: list[ops.MigrateOperation]) -> None:
    table, applied = work.name, column
    if not column.nullable and column.server_default is None:
        message = (
            f"{table}.{column.name}: adding a NOT NULL column without a default fails on a "
            "table that has rows"
        )
        if ctx.allow:
            ctx.applied(message)
        else:
            applied = replace(column, nullable=True)
            key = f"not_null:{column.name}"
            tighten = codeop.AlterColumn(
                table, column.name, modify_nullable=False, **existing(applied)
            )
            ctx.defer(work.deferred, key, tighten, message, note="added as nullable")
    if column.type.is_enum:
        name = column.type.enum_name
        ctx.pre.append(CodeOp(codeop.create_enum(name, column.type.values), codeop.drop_enum(name)))
    out.append(ops.AddColumnOp.from_column_and_tablename(None, table, to_column(applied)))
    work.columns.append(applied)
    ctx.word(f"add_{table}_{column.name}")


def drop_column(
    ctx: Context, work: Work, column: Column, seen: Set[str], out: list[ops.MigrateOperation]
) -> None:
    table = work.name
    drop = ops.DropColumnOp.from_column_and_tablename(None, table, to_column(column))
    if not ctx.allow:
        message = f"{table}.{column.name}: dropping the column loses its data"
        ctx.defer(work.deferred, f"drop_column:{column.name}", drop, message, seen=seen)
        return
    out.append(drop)
    if column.type.is_enum:
        name, values = column.type.enum_name, column.type.values
        ctx.post.append(CodeOp(codeop.drop_enum(name), codeop.create_enum(name, values)))
    work.columns = [c for c in work.columns if c.name != column.name]
    ctx.word(f"drop_{table}_{column.name}")


def alter_column(
    ctx: Context,
    work: Work,
    name: str,
    wanted: Column,
    changes: Changes,
    out: list[ops.MigrateOperation],
) -> None:
    table = work.name
    column = work.column(name)
    assert column is not None, f"{table}.{name} is not in the snapshot"
    before = existing(column)
    alter: dict[str, Any] = {}
    kind = classify(column.type, wanted.type)
    if kind == "enum":
        column = enums.alter_enum(ctx, work, column, wanted, changes.seen)
    elif kind == "widen":
        alter["modify_type"] = wanted.type.sa()
    elif kind == "narrow":
        message = f"{table}.{name}: changing the type to {wanted.type.sa()!r} may lose data"
        key = f"type:{name}:{json.dumps(wanted.type.to_json(), sort_keys=True)}"
        if ctx.allow:
            alter["modify_type"] = wanted.type.sa()
            ctx.applied(message)
            enums.swap(ctx, column.type, wanted.type)
        else:
            change = codeop.AlterColumn(table, name, modify_type=wanted.type.sa(), **before)
            ctx.defer(work.deferred, key, change, message, seen=changes.seen)
    if "modify_type" in alter:
        column = replace(column, type=wanted.type)
    if column.server_default != wanted.server_default:
        alter["modify_server_default"] = wanted.server_default
        column = replace(column, server_default=wanted.server_default)
    if column.nullable and not wanted.nullable:
        column = _tighten(ctx, work, column, wanted, changes)
    elif not column.nullable and wanted.nullable:
        alter["modify_nullable"] = True
        column = replace(column, nullable=True)
    if (column.primary_key, column.autoincrement) != (wanted.primary_key, wanted.autoincrement):
        ctx.result.warnings.append(
            f"{table}.{name}: primary key changes are not migrated; write that one by hand"
        )
    work.put(name, column)
    if alter:
        out.append(codeop.AlterColumn(table, name, **before, **alter))
        ctx.word(f"alter_{table}_{name}")


def _tighten(ctx: Context, work: Work, column: Column, wanted: Column, changes: Changes) -> Column:
    """NOT NULL: after filling NULLs with the default, or left out when there is none."""
    table, name = work.name, column.name
    change = codeop.AlterColumn(table, name, modify_nullable=False, **existing(column))
    default = wanted.server_default
    if default is None and not ctx.allow:
        message = f"{table}.{name}: NOT NULL without a default fails while NULLs remain"
        ctx.defer(work.deferred, f"not_null:{name}", change, message, seen=changes.seen)
        return column
    if default is not None:
        sql = (
            f"UPDATE {codeop.ident(table)} SET {codeop.ident(name)} = "
            f"{codeop.sql_literal(default)} WHERE {codeop.ident(name)} IS NULL"
        )
        changes.backfill.append(codeop.line(codeop.execute(sql)))
    changes.tighten.append(change)
    ctx.word(f"alter_{table}_{name}")
    return replace(column, nullable=False)


def classify(old: DbType, new: DbType) -> Literal["same", "enum", "widen", "narrow"]:
    """How a column's type changes: a wider type keeps every value, a narrower one may not."""
    if old == new:
        return "same"
    kinds = (old.kind, new.kind)
    if kinds == ("enum", "enum"):
        return "enum"
    if kinds == ("string", "string"):
        longer = new.length is None or (old.length is not None and new.length >= old.length)
        return "widen" if longer else "narrow"
    if kinds in (("string", "text"), ("integer", "big_integer"), ("big_integer", "big_integer")):
        return "widen"
    return "narrow"

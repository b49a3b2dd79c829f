"""Enum types: PostgreSQL types renamed, given values, recreated without some; VARCHARs resized.

Alembic's batch operations do not manage PostgreSQL enum types, so each change is a
:class:`~eventspec.migrations.codeop.CodeOp` with its own reverse.
"""

from __future__ import annotations

import json
from collections.abc import Sequence, Set
from dataclasses import replace

from alembic.operations import ops

from ...filters import INDENT
from .. import codeop
from ..codeop import CodeOp
from ..revision import render_ops
from ..snapshot import Column, DbType
from .context import HOW_TO_APPLY, Context, Work, existing, pending


def alter_enum(ctx: Context, work: Work, column: Column, wanted: Column, seen: Set[str]) -> Column:
    """``column`` (an enum) with the enum of ``wanted``; what is left out stays as it was."""
    table, name = work.name, column.name
    old, new = column.type, wanted.type
    if old.name != new.name:
        ctx.pre.append(codeop.rename_enum(old.enum_name, new.enum_name))
        old = replace(old, name=new.name)
        column = replace(column, type=old)
    removed = [v for v in old.values if v not in new.values]
    added = [v for v in new.values if v not in old.values]
    if removed:
        message = f"{table}.{name}: removing enum values {', '.join(removed)} may lose data"
        key = f"enum_values:{name}:{json.dumps(list(new.values))}"
        if not ctx.allow:
            if key not in seen:
                explanation = (
                    f"Not applied: {message}.\n{HOW_TO_APPLY}\n"
                    f"It recreates PostgreSQL type {new.name} with the values "
                    f"{', '.join(new.values)}"
                )
                ctx.post.append(CodeOp(codeop.comment(explanation), []))
            ctx.result.warnings.append(pending(message))
            work.deferred.append(key)
            return column
        ctx.applied(message)
        ctx.post.append(
            codeop.recreate_enum(
                table, name, new.enum_name, old.values, new.values, wanted.server_default
            )
        )
    elif added:
        ctx.pre.append(codeop.add_enum_values(new.enum_name, added))
    if _longest(old.values) != _longest(new.values):
        ctx.post.append(_resize(table, column, new))
    ctx.word(f"alter_{table}_{name}")
    return replace(column, type=new)


def _resize(table: str, column: Column, new: DbType) -> CodeOp:
    """Elsewhere than on PostgreSQL an enum is a VARCHAR as long as its longest value."""
    alter = codeop.AlterColumn(table, column.name, modify_type=new.sa(), **existing(column))
    lines = [
        INDENT * codeop.BODY + codeop.NOT_PG_GUARD,
        *render_ops([ops.ModifyTableOps(table, [alter])], codeop.BODY + 1),
    ]
    reverse = [
        INDENT * codeop.BODY + codeop.NOT_PG_GUARD,
        *render_ops([ops.ModifyTableOps(table, [alter.reverse()])], codeop.BODY + 1),
    ]
    return CodeOp(lines, reverse)


def swap(ctx: Context, old: DbType, new: DbType) -> None:
    """A column type changed to or from an enum: create / drop the PostgreSQL type."""
    if new.is_enum:
        name = new.enum_name
        ctx.pre.append(CodeOp(codeop.create_enum(name, new.values), codeop.drop_enum(name)))
    if old.is_enum:
        name = old.enum_name
        ctx.post.append(CodeOp(codeop.drop_enum(name), codeop.create_enum(name, old.values)))


def _longest(values: Sequence[str]) -> int:
    return max((len(v) for v in values), default=0)

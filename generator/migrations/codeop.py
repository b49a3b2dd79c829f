"""A migration operation that renders fixed lines of alembic code, with its own reverse.

Alembic has no operation objects for PostgreSQL enum types nor for an operation left commented
out, so these are expressed as :class:`CodeOp`: the lines to render on upgrade and the lines its
reverse renders on downgrade. It takes part in ``UpgradeOps.reverse()`` like any other operation.
Lines are complete, indented for the body of ``upgrade()`` / ``downgrade()``.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from typing import Any

from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from sqlalchemy import text

from ..filters import INDENT, WIDTH, layout
from ..printer import py
from ..pyfmt import Call, Expr, flat

BODY = 1  # indentation level of statements in upgrade() / downgrade()
PG_GUARD = 'if op.get_bind().dialect.name == "postgresql":'
NOT_PG_GUARD = 'if op.get_bind().dialect.name != "postgresql":'


class CodeOp(ops.MigrateOperation):
    def __init__(self, lines: Sequence[str], reverse_lines: Sequence[str] = ()) -> None:
        self.lines = tuple(lines)
        self.reverse_lines = tuple(reverse_lines)

    def reverse(self) -> CodeOp:
        return CodeOp(self.reverse_lines, self.lines)

    def to_diff_tuple(self) -> tuple[Any, ...]:
        return ("code", self.lines)


class RenameTable(ops.RenameTableOp):
    """``rename_table`` with a reverse (alembic's autogenerate never emits renames itself)."""

    def reverse(self) -> RenameTable:
        return RenameTable(self.new_table_name, self.table_name)


@renderers.dispatch_for(RenameTable)
def _render_rename_table(autogen_context: AutogenContext, op: RenameTable) -> str:
    return f"op.rename_table({op.table_name!r}, {op.new_table_name!r})"


class AlterColumn(ops.AlterColumnOp):
    """``alter_column`` whose reverse also undoes a rename and restores a missing default.

    ``existing_server_default=None`` means the column had none, so the reverse drops it.
    """

    def reverse(self) -> AlterColumn:
        kwargs: dict[str, Any] = {
            "existing_type": self.existing_type if self.modify_type is None else self.modify_type,
            "existing_nullable": self.existing_nullable
            if self.modify_nullable is None
            else self.modify_nullable,
            "existing_server_default": self.existing_server_default
            if self.modify_server_default is False
            else self.modify_server_default,
        }
        if self.modify_type is not None:
            kwargs["modify_type"] = self.existing_type
        if self.modify_nullable is not None:
            kwargs["modify_nullable"] = self.existing_nullable
        if self.modify_server_default is not False:
            kwargs["modify_server_default"] = self.existing_server_default
        if self.modify_name is not None:
            kwargs["modify_name"] = self.column_name
        return AlterColumn(self.table_name, self.modify_name or self.column_name, **kwargs)


def line(expr: Expr, level: int = BODY) -> str:
    return INDENT * level + layout(expr, level)


def comment(text: str, level: int = BODY) -> list[str]:
    """``text`` as comment lines, wrapped to stay within 100 columns."""
    width = WIDTH - len(INDENT) * level - 2
    parts = [
        wrapped for part in text.splitlines() for wrapped in textwrap.wrap(part, width) or [""]
    ]
    return [INDENT * level + ("# " + part if part else "#") for part in parts]


def create_enum(name: str, values: Sequence[str]) -> list[str]:
    enum = Call("sa.Enum", [py(v) for v in values], [("name", py(name))])
    return [line(Call(f"{flat(enum)}.create", ["op.get_bind()"], [("checkfirst", "True")]))]


def drop_enum(name: str) -> list[str]:
    # A no-op on SQLite, where an enum is a plain VARCHAR.
    enum = f"sa.Enum(name={py(name)})"
    return [line(Call(f"{enum}.drop", ["op.get_bind()"], [("checkfirst", "True")]))]


def pg_statements(statements: Sequence[str], *, autocommit: bool = False) -> list[str]:
    """``op.execute`` of each SQL statement, on PostgreSQL only."""
    level = BODY + (2 if autocommit else 1)
    lines = [INDENT * BODY + PG_GUARD]
    if autocommit:
        lines.append(INDENT * (BODY + 1) + "with op.get_context().autocommit_block():")
    lines += [line(execute(sql), level) for sql in statements]
    return lines


def execute(sql: str) -> Call:
    """``op.execute(sql)``. Alembic runs a string through ``text()``, where ``:word`` would be a
    bind parameter (an enum value ``':noon'``) and a backslash before a colon is dropped. When
    either could happen, every colon is escaped with a backslash: then none can start a bind
    parameter, and text() removes exactly the backslashes added here."""
    if text(sql).compile().params or "\\:" in sql:
        sql = sql.replace(":", "\\:")
    return Call("op.execute", [py(sql)])


def add_enum_values(name: str, values: Sequence[str]) -> CodeOp:
    """New values of a PostgreSQL enum type (outside a transaction, as PostgreSQL requires)."""
    sql = [f"ALTER TYPE {ident(name)} ADD VALUE IF NOT EXISTS {sql_literal(v)}" for v in values]
    reverse = comment(f"PostgreSQL cannot drop enum values: {', '.join(values)} stay in {name}.")
    return CodeOp(pg_statements(sql, autocommit=True), reverse)


def rename_enum(old: str, new: str) -> CodeOp:
    return CodeOp(
        pg_statements([f"ALTER TYPE {ident(old)} RENAME TO {ident(new)}"]),
        pg_statements([f"ALTER TYPE {ident(new)} RENAME TO {ident(old)}"]),
    )


def recreate_enum(
    table: str,
    column: str,
    name: str,
    old: Sequence[str],
    new: Sequence[str],
    server_default: str | None,
) -> CodeOp:
    """Replace a PostgreSQL enum type by one with other values (the only way to drop values)."""

    alter = f"ALTER TABLE {ident(table)} ALTER COLUMN {ident(column)}"
    kind, previous = ident(name), ident(f"{name}_old")  # verify/identifiers.py checks its length

    def statements(values: Sequence[str]) -> list[str]:
        sql = [
            f"{alter} DROP DEFAULT",
            f"ALTER TYPE {kind} RENAME TO {previous}",
            f"CREATE TYPE {kind} AS ENUM ({', '.join(sql_literal(v) for v in values)})",
            f"{alter} TYPE {kind} USING {ident(column)}::text::{kind}",
            f"DROP TYPE {previous}",
        ]
        if server_default is not None:
            sql.append(f"{alter} SET DEFAULT {sql_literal(server_default)}")
        return pg_statements(sql)

    return CodeOp(statements(new), statements(old))


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def ident(name: str) -> str:
    """An SQL identifier, quoted only when it has to be."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name) and name not in RESERVED_WORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


# PostgreSQL's reserved key words (SQLite accepts the same quoting).
_RESERVED = """all analyse analyze and any array as asc asymmetric authorization binary both case
    cast check collate collation column concurrently constraint create cross current_catalog
    current_date current_role current_schema current_time current_timestamp current_user default
    deferrable desc distinct do else end except false fetch for foreign freeze from full grant
    group having ilike in initially inner intersect into is isnull join lateral leading left like
    limit localtime localtimestamp natural not notnull null offset on only or order outer overlaps
    placing primary references returning right select session_user similar some symmetric
    system_user table tablesample then to trailing true union unique user using variadic verbose
    when where window with"""
RESERVED_WORDS = frozenset(_RESERVED.split())

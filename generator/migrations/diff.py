"""Diff the stored snapshots against the tables of the current spec, into alembic operations.

The upgrade is a list of ``alembic.operations.ops`` objects (plus :class:`CodeOp` for PostgreSQL
enum types and operations left out); the downgrade is its ``reverse()``. Alongside, every table's
resulting snapshot records what the migration does, and nothing more: a destructive change that is
left commented out keeps the old definition and is listed under ``deferred``, so later runs do not
repeat it (they warn) until ``allow_destructive`` applies it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from alembic.operations import ops

from ..filters import INDENT
from ..tables import TableDef, sa_type
from . import codeop
from .codeop import CodeOp
from .revision import render_commented, render_ops
from .snapshot import Snap, column, metadata_of, snapshot_of, to_column

CONSTRAINT_KINDS = ("indexes", "unique_constraints", "foreign_keys")
HOW_TO_APPLY = "Run `eventspec generate --allow-destructive` to write a migration that applies it."


@dataclass
class Diff:
    upgrade: list[ops.MigrateOperation] = field(default_factory=list)
    snapshots: dict[str, Snap] = field(default_factory=dict)  # tables whose snapshot changed
    removed: set[str] = field(default_factory=set)  # tables whose snapshot goes away
    warnings: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)  # what happened, for the revision's name


def diff(
    old: Mapping[str, Snap], tables: Sequence[TableDef], *, allow_destructive: bool = False
) -> Diff:
    return _Differ(old, tables, allow_destructive).run()


class _Differ:
    def __init__(
        self, old: Mapping[str, Snap], tables: Sequence[TableDef], allow_destructive: bool
    ) -> None:
        self.original = {name: copy.deepcopy(snap) for name, snap in old.items()}
        self.state = copy.deepcopy(self.original)  # the database as operations so far leave it
        self.defs = {t.name: t for t in tables}
        self.target = {t.name: snapshot_of(t) for t in tables}
        self.allow = allow_destructive
        self.result = Diff()
        self.renames: list[ops.MigrateOperation] = []
        self.created: list[ops.MigrateOperation] = []
        self.pre: list[ops.MigrateOperation] = []
        self.modified: list[ops.MigrateOperation] = []
        self.post: list[ops.MigrateOperation] = []
        self.dropped: list[ops.MigrateOperation] = []

    def run(self) -> Diff:
        self._rename_tables()
        for name in sorted(self.target.keys() & self.state.keys()):
            self._alter_table(name)
        self._create_tables(self.target.keys() - self.state.keys())
        self._drop_tables(self.state.keys() - self.target.keys())
        self.result.upgrade = [
            *self.renames,
            *self.created,
            *self.pre,
            *self.modified,
            *self.post,
            *self.dropped,
        ]
        return self.result

    # --- tables -------------------------------------------------------------------------------

    def _rename_tables(self) -> None:
        for name, table in sorted(self.defs.items()):
            previous = table.renamed_from
            if not previous or previous not in self.state or name in self.state:
                continue
            if previous in self.target:
                continue  # the old name is still in use: not a rename
            snap = self.state.pop(previous)
            snap["table"] = name
            self.state[name] = snap
            self.original[name] = self.original.pop(previous)
            self.result.removed.add(previous)
            self.renames.append(codeop.RenameTable(previous, name))
            self.result.words.append(f"rename_{previous}")
            for other in self.state.values():
                for fk in other["foreign_keys"]:
                    if fk["referred_table"] == previous:
                        fk["referred_table"] = name

    def _create_tables(self, names: set[str]) -> None:
        metadata = metadata_of(self.target.values())
        for table in metadata.sorted_tables:
            if table.name not in names:
                continue
            snap = self.target[table.name]
            for data in snap["columns"]:
                if data["type"]["type"] == "enum":
                    # create_table creates the type; the downgrade must drop it after drop_table.
                    self.created.append(CodeOp([], codeop.drop_enum(data["type"]["name"])))
            self.created.append(ops.CreateTableOp.from_table(table))
            for index in sorted(table.indexes, key=lambda i: str(i.name)):
                self.created.append(ops.CreateIndexOp.from_index(index))
            self.result.snapshots[table.name] = snap
            self.result.words.append(f"add_{table.name}")

    def _drop_tables(self, names: set[str]) -> None:
        metadata = metadata_of(self.state.values())
        for table in reversed(metadata.sorted_tables):
            if table.name not in names:
                continue
            snap = self.state[table.name]
            if not self.allow:
                drop = ops.DropTableOp.from_table(table)
                message = f"{table.name}: dropping the table loses its data"
                self._defer(snap, "drop_table", drop, message, self.dropped)
                snap["deferred"] = sorted(set(snap["deferred"]))
                if snap != self.original[table.name]:
                    self.result.snapshots[table.name] = snap
                continue
            for index in sorted(table.indexes, key=lambda i: str(i.name)):
                self.dropped.append(ops.DropIndexOp.from_index(index))
            self.dropped.append(ops.DropTableOp.from_table(table))
            for data in snap["columns"]:
                if data["type"]["type"] == "enum":
                    self.dropped.append(CodeOp(codeop.drop_enum(data["type"]["name"]), []))
            self.result.removed.add(table.name)
            self.result.words.append(f"drop_{table.name}")

    # --- columns and constraints of a table that stays ----------------------------------------

    def _alter_table(self, name: str) -> None:
        current, target = self.state[name], self.target[name]
        previous_deferred = set(current.get("deferred", []))
        current["deferred"] = []
        table_ops: list[ops.MigrateOperation] = []
        self._rename_columns(name, current, table_ops)
        before = {kind: {i["name"]: i for i in current[kind]} for kind in CONSTRAINT_KINDS}
        self._drop_constraints(current, target, table_ops)
        tighten: list[ops.MigrateOperation] = []
        backfill: list[str] = []
        added = [c for c in target["columns"] if column(current, c["name"]) is None]
        for data in current["columns"]:
            wanted = column(target, data["name"])
            if wanted is not None:
                self._alter_column(
                    name, data, wanted, previous_deferred, table_ops, tighten, backfill
                )
        for data in added:
            self._add_column(name, current, data, table_ops)
        for data in list(current["columns"]):
            if column(target, data["name"]) is None:
                self._drop_column(name, current, data, previous_deferred, table_ops)
        for kind in CONSTRAINT_KINDS:
            current[kind] = copy.deepcopy(target[kind])
        self._create_constraints(before, target, table_ops)
        if table_ops:
            self.modified.append(ops.ModifyTableOps(name, table_ops))
        if backfill:
            self.modified.append(CodeOp(backfill, []))
        if tighten:
            self.modified.append(ops.ModifyTableOps(name, tighten))
        current["deferred"] = sorted(set(current["deferred"]))
        if current != self.original[name]:
            self.result.snapshots[name] = current

    def _rename_columns(self, table: str, current: Snap, out: list[ops.MigrateOperation]) -> None:
        for col in self.defs[table].columns:
            previous = col.renamed_from
            data = column(current, previous) if previous else None
            if data is None or previous is None or column(current, col.name) is not None:
                continue
            out.append(
                codeop.AlterColumn(
                    table,
                    previous,
                    modify_name=col.name,
                    **_existing(data),
                )
            )
            data["name"] = col.name
            for kind in CONSTRAINT_KINDS:
                for item in current[kind]:
                    item["columns"] = [col.name if c == previous else c for c in item["columns"]]
            self.result.words.append(f"rename_{table}_{previous}")

    def _drop_constraints(
        self, current: Snap, target: Snap, out: list[ops.MigrateOperation]
    ) -> None:
        table = _standalone(current)
        for kind in CONSTRAINT_KINDS:
            wanted = {item["name"]: item for item in target[kind]}
            for item in sorted(current[kind], key=lambda i: str(i["name"])):
                if wanted.get(item["name"]) == item:
                    continue
                if kind == "indexes":
                    index = next(i for i in table.indexes if i.name == item["name"])
                    out.append(ops.DropIndexOp.from_index(index))
                else:
                    out.append(ops.DropConstraintOp.from_constraint(_constraint(table, item)))

    def _create_constraints(
        self,
        before: Mapping[str, Mapping[str, Any]],
        target: Snap,
        out: list[ops.MigrateOperation],
    ) -> None:
        table = _standalone(target)
        for kind in CONSTRAINT_KINDS:
            for item in target[kind]:
                if before[kind].get(item["name"]) == item:
                    continue
                if kind == "indexes":
                    index = next(i for i in table.indexes if i.name == item["name"])
                    out.append(ops.CreateIndexOp.from_index(index))
                elif kind == "unique_constraints":
                    constraint = _constraint(table, item)
                    out.append(ops.CreateUniqueConstraintOp.from_constraint(constraint))
                else:
                    constraint = _constraint(table, item)
                    out.append(ops.CreateForeignKeyOp.from_constraint(constraint))

    def _add_column(
        self, table: str, current: Snap, data: dict[str, Any], out: list[ops.MigrateOperation]
    ) -> None:
        applied = dict(data)
        if not data["nullable"] and data["server_default"] is None:
            message = (
                f"{table}.{data['name']}: adding a NOT NULL column without a default fails on a "
                "table that has rows"
            )
            if self.allow:
                self.result.warnings.append(message + " (applied: --allow-destructive)")
            else:
                applied["nullable"] = True
                key = f"not_null:{data['name']}"
                tighten = codeop.AlterColumn(
                    table, data["name"], modify_nullable=False, **_existing(applied)
                )
                self._defer(current, key, tighten, message, self.post, note="added as nullable")
        enum = data["type"] if data["type"]["type"] == "enum" else None
        if enum is not None:
            self.pre.append(
                CodeOp(
                    codeop.create_enum(enum["name"], enum["values"]),
                    codeop.drop_enum(enum["name"]),
                )
            )
        out.append(ops.AddColumnOp.from_column_and_tablename(None, table, to_column(applied)))
        current["columns"].append(applied)
        self.result.words.append(f"add_{table}_{data['name']}")

    def _drop_column(
        self,
        table: str,
        current: Snap,
        data: dict[str, Any],
        previous_deferred: set[str],
        out: list[ops.MigrateOperation],
    ) -> None:
        drop = ops.DropColumnOp.from_column_and_tablename(None, table, to_column(data))
        key = f"drop_column:{data['name']}"
        if not self.allow:
            message = f"{table}.{data['name']}: dropping the column loses its data"
            self._defer(current, key, drop, message, self.post, seen=previous_deferred)
            return
        out.append(drop)
        enum = data["type"] if data["type"]["type"] == "enum" else None
        if enum is not None:
            self.post.append(
                CodeOp(
                    codeop.drop_enum(enum["name"]),
                    codeop.create_enum(enum["name"], enum["values"]),
                )
            )
        current["columns"].remove(data)
        self.result.words.append(f"drop_{table}_{data['name']}")

    def _alter_column(
        self,
        table: str,
        data: dict[str, Any],
        wanted: dict[str, Any],
        previous_deferred: set[str],
        out: list[ops.MigrateOperation],
        tighten: list[ops.MigrateOperation],
        backfill: list[str],
    ) -> None:
        name = data["name"]
        existing = _existing(data)
        changes: dict[str, Any] = {}
        snap = self.state[table]
        kind = _classify(data["type"], wanted["type"])
        if kind == "enum":
            self._alter_enum(table, data, wanted, previous_deferred)
        elif kind == "widen":
            changes["modify_type"] = sa_type(wanted["type"])
        elif kind == "narrow":
            message = (
                f"{table}.{name}: changing the type to {_describe(wanted['type'])} may lose data"
            )
            key = f"type:{name}:{json.dumps(wanted['type'], sort_keys=True)}"
            if self.allow:
                changes["modify_type"] = sa_type(wanted["type"])
                self.result.warnings.append(message + " (applied: --allow-destructive)")
                self._enum_swap(data["type"], wanted["type"])
            else:
                change = codeop.AlterColumn(
                    table, name, modify_type=sa_type(wanted["type"]), **existing
                )
                self._defer(snap, key, change, message, self.post, seen=previous_deferred)
        if kind in ("widen", "narrow") and "modify_type" in changes:
            data["type"] = copy.deepcopy(wanted["type"])
        if data["server_default"] != wanted["server_default"]:
            changes["modify_server_default"] = wanted["server_default"]
            data["server_default"] = wanted["server_default"]
        if data["nullable"] and not wanted["nullable"]:
            self._tighten(table, data, wanted, previous_deferred, tighten, backfill)
        elif not data["nullable"] and wanted["nullable"]:
            changes["modify_nullable"] = True
            data["nullable"] = True
        if (data["primary_key"], data["autoincrement"]) != (
            wanted["primary_key"],
            wanted["autoincrement"],
        ):
            self.result.warnings.append(
                f"{table}.{name}: primary key changes are not migrated; write that one by hand"
            )
        if changes:
            out.append(codeop.AlterColumn(table, name, **existing, **changes))
            self.result.words.append(f"alter_{table}_{name}")

    def _tighten(
        self,
        table: str,
        data: dict[str, Any],
        wanted: dict[str, Any],
        previous_deferred: set[str],
        tighten: list[ops.MigrateOperation],
        backfill: list[str],
    ) -> None:
        name = data["name"]
        change = codeop.AlterColumn(table, name, modify_nullable=False, **_existing(data))
        default = wanted["server_default"]
        if default is None and not self.allow:
            message = f"{table}.{name}: NOT NULL without a default fails while NULLs remain"
            key = f"not_null:{name}"
            self._defer(self.state[table], key, change, message, self.post, seen=previous_deferred)
            return
        if default is not None:
            sql = (
                f"UPDATE {codeop.ident(table)} SET {codeop.ident(name)} = "
                f"{codeop.sql_literal(default)} WHERE {codeop.ident(name)} IS NULL"
            )
            backfill.append(codeop.line(codeop.execute(sql)))
        tighten.append(change)
        data["nullable"] = False
        self.result.words.append(f"alter_{table}_{name}")

    def _alter_enum(
        self,
        table: str,
        data: dict[str, Any],
        wanted: dict[str, Any],
        previous_deferred: set[str],
    ) -> None:
        old, new = data["type"], wanted["type"]
        name = data["name"]
        if old["name"] != new["name"]:
            self.pre.append(codeop.rename_enum(old["name"], new["name"]))
            old["name"] = new["name"]
        removed = [v for v in old["values"] if v not in new["values"]]
        added = [v for v in new["values"] if v not in old["values"]]
        if removed:
            message = f"{table}.{name}: removing enum values {', '.join(removed)} may lose data"
            key = f"enum_values:{name}:{json.dumps(new['values'])}"
            if not self.allow:
                if key not in previous_deferred:
                    explanation = (
                        f"Not applied: {message}.\n{HOW_TO_APPLY}\n"
                        f"It recreates PostgreSQL type {new['name']} with the values "
                        f"{', '.join(new['values'])}"
                    )
                    self.post.append(CodeOp(codeop.comment(explanation), []))
                self.result.warnings.append(_pending(message))
                self.state[table]["deferred"].append(key)
                return
            self.result.warnings.append(message + " (applied: --allow-destructive)")
            self.post.append(
                codeop.recreate_enum(
                    table, name, new["name"], old["values"], new["values"], wanted["server_default"]
                )
            )
        elif added:
            self.pre.append(codeop.add_enum_values(new["name"], added))
        if _longest(old["values"]) != _longest(new["values"]):
            self.post.append(self._resize_enum(table, data, new))
        data["type"] = copy.deepcopy(new)
        self.result.words.append(f"alter_{table}_{name}")

    def _resize_enum(self, table: str, data: dict[str, Any], new: Mapping[str, Any]) -> CodeOp:
        """Elsewhere than on PostgreSQL an enum is a VARCHAR as long as its longest value."""
        alter = codeop.AlterColumn(table, data["name"], modify_type=sa_type(new), **_existing(data))
        lines = [
            INDENT * codeop.BODY + codeop.NOT_PG_GUARD,
            *render_ops([ops.ModifyTableOps(table, [alter])], codeop.BODY + 1),
        ]
        reverse = [
            INDENT * codeop.BODY + codeop.NOT_PG_GUARD,
            *render_ops([ops.ModifyTableOps(table, [alter.reverse()])], codeop.BODY + 1),
        ]
        return CodeOp(lines, reverse)

    def _enum_swap(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        """A column type changed to or from an enum: create / drop the PostgreSQL type."""
        if new["type"] == "enum":
            self.pre.append(
                CodeOp(
                    codeop.create_enum(new["name"], new["values"]), codeop.drop_enum(new["name"])
                )
            )
        if old["type"] == "enum":
            self.post.append(
                CodeOp(
                    codeop.drop_enum(old["name"]), codeop.create_enum(old["name"], old["values"])
                )
            )

    # --- destructive operations left out ------------------------------------------------------

    def _defer(
        self,
        snap: Snap,
        key: str,
        operation: ops.MigrateOperation,
        message: str,
        into: list[ops.MigrateOperation],
        *,
        seen: set[str] | None = None,
        note: str = "",
    ) -> None:
        """Leave ``operation`` out: commented in the revision the first time, a warning after."""
        already = key in set(snap.get("deferred", [])) | (seen or set())
        if not already:
            done = f" ({note})" if note else ""
            explanation = f"Not applied{done}: {message}.\n{HOW_TO_APPLY}"
            into.append(CodeOp([*codeop.comment(explanation), *render_commented(operation)], []))
        self.result.warnings.append(_pending(message))
        snap.setdefault("deferred", []).append(key)


def _pending(message: str) -> str:
    return f"{message}; left out of the migration (pending until --allow-destructive)"


def _existing(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "existing_type": sa_type(data["type"]),
        "existing_nullable": data["nullable"],
        "existing_server_default": data["server_default"],
    }


def _standalone(snap: Snap) -> sa.Table:
    """The table of ``snap`` with stand-ins for the tables its foreign keys refer to."""
    return metadata_of([snap]).tables[snap["table"]]


def _constraint(table: sa.Table, item: Mapping[str, Any]) -> sa.Constraint:
    return next(c for c in table.constraints if c.name == item["name"])


def _classify(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> Literal["same", "enum", "widen", "narrow"]:
    if old == new:
        return "same"
    kinds = (old["type"], new["type"])
    if kinds == ("enum", "enum"):
        return "enum"
    if kinds == ("string", "string"):
        longer = new["length"] is None or (
            old["length"] is not None and new["length"] >= old["length"]
        )
        return "widen" if longer else "narrow"
    if kinds in (("string", "text"), ("integer", "big_integer"), ("big_integer", "big_integer")):
        return "widen"
    return "narrow"


def _longest(values: Sequence[str]) -> int:
    return max((len(v) for v in values), default=0)


def _describe(db: Mapping[str, Any]) -> str:
    return repr(sa_type(db))

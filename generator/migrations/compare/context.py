"""What every comparison shares: the result, the database state so far, the operation buckets.

The upgrade is assembled from buckets in a fixed order (renames, created tables, operations that
must come first such as new enum types, altered tables, operations that must come last, dropped
tables), so each comparer appends where its operation belongs and the order never depends on
which comparer ran first.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field, replace
from typing import Any

from alembic.operations import ops

from ...tables import TableDef
from .. import codeop
from ..codeop import CodeOp
from ..revision import render_commented
from ..snapshot import Column, ForeignKey, Index, Table, Unique

HOW_TO_APPLY = "Run `eventspec generate --allow-destructive` to write a migration that applies it."


@dataclass
class Diff:
    upgrade: list[ops.MigrateOperation] = field(default_factory=list)
    snapshots: dict[str, Table] = field(default_factory=dict)  # tables whose snapshot changed
    removed: set[str] = field(default_factory=set)  # tables whose snapshot goes away
    warnings: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)  # what happened, for the revision's name


@dataclass
class Context:
    allow: bool  # apply destructive operations instead of leaving them out
    defs: Mapping[str, TableDef]  # the current spec's tables
    target: Mapping[str, Table]  # their snapshots
    original: dict[str, Table]  # the stored snapshots (renamed tables under their new name)
    state: dict[str, Table]  # the database as the operations so far leave it
    package: str = ""  # import path of the generated package (for its runtime)
    result: Diff = field(default_factory=Diff)
    renames: list[ops.MigrateOperation] = field(default_factory=list)
    created: list[ops.MigrateOperation] = field(default_factory=list)
    pre: list[ops.MigrateOperation] = field(default_factory=list)
    modified: list[ops.MigrateOperation] = field(default_factory=list)
    post: list[ops.MigrateOperation] = field(default_factory=list)
    dropped: list[ops.MigrateOperation] = field(default_factory=list)

    def upgrade(self) -> list[ops.MigrateOperation]:
        buckets = (self.renames, self.created, self.pre, self.modified, self.post, self.dropped)
        return [op for bucket in buckets for op in bucket]

    def word(self, word: str) -> None:
        self.result.words.append(word)

    def applied(self, message: str) -> None:
        self.result.warnings.append(message + " (applied: --allow-destructive)")

    def defer(
        self,
        deferred: list[str],
        key: str,
        operation: ops.MigrateOperation,
        message: str,
        *,
        seen: Set[str] = frozenset(),
        note: str = "",
        into: list[ops.MigrateOperation] | None = None,
    ) -> None:
        """Leave ``operation`` out: commented in the revision the first time, a warning after.

        ``deferred`` collects the keys of the table's operations left out; ``seen`` are the keys
        its stored snapshot already had; the comment goes ``into`` the operations that come last.
        """
        if key not in set(deferred) | seen:
            done = f" ({note})" if note else ""
            explanation = f"Not applied{done}: {message}.\n{HOW_TO_APPLY}"
            lines = [*codeop.comment(explanation), *render_commented(operation)]
            (self.post if into is None else into).append(CodeOp(lines, []))
        self.result.warnings.append(pending(message))
        deferred.append(key)


@dataclass
class Work:
    """A table that stays, changing while it is compared; :meth:`freeze` gives its snapshot."""

    name: str
    columns: list[Column]
    foreign_keys: tuple[ForeignKey, ...]
    unique_constraints: tuple[Unique, ...]
    indexes: tuple[Index, ...]
    deferred: list[str] = field(default_factory=list)  # keys of operations left out this time
    partition_by: str | None = None  # kept: migrations do not re-partition a table

    @classmethod
    def of(cls, table: Table) -> Work:
        return cls(
            table.name,
            list(table.columns),
            table.foreign_keys,
            table.unique_constraints,
            table.indexes,
            partition_by=table.partition_by,
        )

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def put(self, name: str, column: Column) -> None:
        """Replace the column called ``name`` (``column`` may have another name)."""
        self.columns = [column if c.name == name else c for c in self.columns]

    def freeze(self) -> Table:
        return Table(
            self.name,
            tuple(self.columns),
            self.foreign_keys,
            self.unique_constraints,
            self.indexes,
            tuple(sorted(set(self.deferred))),
            self.partition_by,
        )

    def take_constraints(self, table: Table) -> None:
        self.foreign_keys = table.foreign_keys
        self.unique_constraints = table.unique_constraints
        self.indexes = table.indexes

    def rename_in_constraints(self, old: str, new: str) -> None:
        def renamed(columns: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(new if c == old else c for c in columns)

        self.foreign_keys = tuple(replace(f, columns=renamed(f.columns)) for f in self.foreign_keys)
        self.unique_constraints = tuple(
            replace(u, columns=renamed(u.columns)) for u in self.unique_constraints
        )
        self.indexes = tuple(replace(i, columns=renamed(i.columns)) for i in self.indexes)


def pending(message: str) -> str:
    return f"{message}; left out of the migration (pending until --allow-destructive)"


def existing(column: Column) -> dict[str, Any]:
    """The ``existing_*`` arguments of an ``alter_column`` of ``column``."""
    return {
        "existing_type": column.type.sa(),
        "existing_nullable": column.nullable,
        "existing_server_default": column.server_default,
    }

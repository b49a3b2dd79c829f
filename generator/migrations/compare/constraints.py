"""Indexes, unique constraints and foreign keys of a table that stays.

A constraint is matched by name; one whose definition changed is dropped before the columns change
and created again after, so it never refers to a column in between states.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic.operations import ops

from ..schema import constraint_of, index_of, standalone
from ..snapshot import Constraint, ForeignKey, Index, Table, Unique


def _groups(table: Table) -> tuple[Sequence[Constraint], ...]:
    """The constraints of ``table`` by kind, in the order they are compared."""
    return (table.indexes, table.unique_constraints, table.foreign_keys)


def drop_constraints(current: Table, target: Table, out: list[ops.MigrateOperation]) -> None:
    """Drop what ``target`` does not have as ``current`` has it."""
    table = standalone(current)
    for have, want in zip(_groups(current), _groups(target), strict=True):
        wanted = {item.name: item for item in want}
        for item in sorted(have, key=lambda i: i.name):
            if wanted.get(item.name) == item:
                continue
            if isinstance(item, Index):
                out.append(ops.DropIndexOp.from_index(index_of(table, item.name)))
            else:
                out.append(ops.DropConstraintOp.from_constraint(constraint_of(table, item)))


def create_constraints(before: Table, target: Table, out: list[ops.MigrateOperation]) -> None:
    """Create what ``target`` has and ``before`` did not have as it is."""
    table = standalone(target)
    for had, want in zip(_groups(before), _groups(target), strict=True):
        existed = {item.name: item for item in had}
        for item in want:
            if existed.get(item.name) == item:
                continue
            if isinstance(item, Index):
                out.append(ops.CreateIndexOp.from_index(index_of(table, item.name)))
            elif isinstance(item, Unique):
                constraint = constraint_of(table, item)
                out.append(ops.CreateUniqueConstraintOp.from_constraint(constraint))
            else:
                assert isinstance(item, ForeignKey)
                constraint = constraint_of(table, item)
                out.append(ops.CreateForeignKeyOp.from_constraint(constraint))

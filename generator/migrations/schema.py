"""Snapshots as SQLAlchemy schema objects, which alembic's operation objects are built from."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from ..tables import NAMING_CONVENTION
from .snapshot import Column, Constraint, Table


def to_column(column: Column) -> sa.Column[Any]:
    kwargs: dict[str, Any] = {"nullable": column.nullable, "primary_key": column.primary_key}
    if column.autoincrement:
        kwargs["autoincrement"] = True
    if column.server_default is not None:
        kwargs["server_default"] = column.server_default
    return sa.Column(column.name, column.type.sa(), **kwargs)


def to_table(table: Table, metadata: sa.MetaData) -> sa.Table:
    items: list[Any] = [to_column(c) for c in table.columns]
    for fk in table.foreign_keys:
        refs = [f"{fk.referred_table}.{col}" for col in fk.referred_columns]
        items.append(
            sa.ForeignKeyConstraint(list(fk.columns), refs, name=fk.name, ondelete=fk.ondelete)
        )
    for unique in table.unique_constraints:
        items.append(sa.UniqueConstraint(*unique.columns, name=unique.name))
    for index in table.indexes:
        items.append(sa.Index(index.name, *index.columns, unique=index.unique))
    if table.partition_by is not None:
        return sa.Table(
            table.name, metadata, *items, postgresql_partition_by=f"RANGE ({table.partition_by})"
        )
    return sa.Table(table.name, metadata, *items)


def metadata_of(tables: Iterable[Table]) -> sa.MetaData:
    """The ``tables``, plus stand-ins for tables their foreign keys refer to."""
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    ordered = sorted(tables, key=lambda t: t.name)
    for table in ordered:
        to_table(table, metadata)
    for table in ordered:
        for fk in table.foreign_keys:
            if fk.referred_table not in metadata.tables:
                columns = [sa.Column(c, sa.Integer()) for c in fk.referred_columns]
                sa.Table(fk.referred_table, metadata, *columns)
    return metadata


def standalone(table: Table) -> sa.Table:
    """``table`` with stand-ins for the tables its foreign keys refer to."""
    return metadata_of([table]).tables[table.name]


def index_of(table: sa.Table, name: str) -> sa.Index:
    return next(i for i in table.indexes if i.name == name)


def constraint_of(table: sa.Table, item: Constraint) -> sa.Constraint:
    return next(c for c in table.constraints if c.name == item.name)

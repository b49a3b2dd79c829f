"""The table definitions :mod:`eventspec.tables` builds from the IR: tables, their columns,
foreign keys, unique constraints and indexes, as plain data (``tables`` re-exports each)."""

from __future__ import annotations

from dataclasses import dataclass

from . import ir
from .pyfmt import Expr
from .typemap import ColumnType, Import


@dataclass(frozen=True)
class ForeignKeyDef:
    name: str
    table: str  # referred table
    column: str  # referred column
    ondelete: str | None = None


@dataclass(frozen=True)
class ColumnDef:
    name: str  # column name in the database
    key: str  # attribute name on the model (differs only for ``metadata_``)
    type: ColumnType
    nullable: bool
    primary_key: bool = False
    autoincrement: bool = False
    default: Expr | None = None  # Python-side default as source text
    onupdate: Expr | None = None
    server_default: str | None = None  # portable literal server default
    foreign_key: ForeignKeyDef | None = None
    renamed_from: str | None = None
    imports: frozenset[Import] = frozenset()  # what ``default`` / ``onupdate`` need

    @property
    def annotation(self) -> str:
        return f"{self.type.python} | None" if self.nullable else self.type.python


@dataclass(frozen=True)
class UniqueDef:
    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class IndexDef:
    name: str
    columns: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class TableDef:
    name: str
    class_name: str
    columns: tuple[ColumnDef, ...]
    uniques: tuple[UniqueDef, ...] = ()
    indexes: tuple[IndexDef, ...] = ()
    renamed_from: str | None = None
    source: str = ""  # spec file it came from
    partitioning: ir.Partitioning | None = None  # range partitions on PostgreSQL (event logs)

    def column(self, name: str) -> ColumnDef | None:
        return next((c for c in self.columns if c.name == name), None)

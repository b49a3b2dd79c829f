"""Schema snapshots: one sorted-key JSON file per table, as the applied migrations left it.

A snapshot is a frozen :class:`Table` of :class:`Column`, :class:`ForeignKey`, :class:`Unique`
and :class:`Index` values. It is built from a :class:`~eventspec.tables.TableDef` by
:func:`snapshot_of`, compared with the previous one by :mod:`.compare`, and turned into SQLAlchemy
``Table`` objects for alembic's operation objects by :mod:`.schema`. JSON exists only at the edges:
:func:`load` reads a stored file (checking its hash and that nothing in it is unknown) and
:func:`dump` writes one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from ..tables import TableDef, sa_type

FORMAT = 1
Json = dict[str, Any]


class SnapshotError(ValueError):
    """A snapshot file that cannot be read: unknown format or edited by hand."""


@dataclass(frozen=True)
class DbType:
    """A column's database type: the ``db`` descriptor of :class:`~eventspec.tables.ColumnType`."""

    kind: str  # "string", "enum", "array", "datetime", "integer", ...
    length: int | None = None  # string: its maximum length, None for unbounded
    timezone: bool | None = None  # datetime
    sqlite: str | None = None  # big_integer primary key: the type SQLite stores instead
    name: str | None = None  # enum: the PostgreSQL type's name
    values: tuple[str, ...] = ()  # enum
    item: DbType | None = None  # array

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DbType:
        item = data.get("item")
        return cls(
            kind=str(data["type"]),
            length=data.get("length"),
            timezone=data.get("timezone"),
            sqlite=data.get("sqlite"),
            name=data.get("name"),
            values=tuple(data.get("values", ())),
            item=cls.from_json(item) if item is not None else None,
        )

    def to_json(self) -> Json:
        out: Json = {"type": self.kind}
        if self.kind == "string" or self.length is not None:
            out["length"] = self.length
        if self.kind == "datetime" or self.timezone is not None:
            out["timezone"] = self.timezone
        if self.sqlite is not None:
            out["sqlite"] = self.sqlite
        if self.kind == "enum":
            out["name"] = self.name
            out["values"] = list(self.values)
        if self.item is not None:
            out["item"] = self.item.to_json()
        return out

    @property
    def is_enum(self) -> bool:
        return self.kind == "enum"

    @property
    def enum_name(self) -> str:
        assert self.name is not None, f"{self.kind} type without a name"
        return self.name

    def sa(self) -> sa.types.TypeEngine[Any]:
        return sa_type(self.to_json())


@dataclass(frozen=True)
class Column:
    name: str
    type: DbType
    nullable: bool
    primary_key: bool = False
    autoincrement: bool = False
    server_default: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Column:
        return cls(
            name=str(data["name"]),
            type=DbType.from_json(data["type"]),
            nullable=bool(data["nullable"]),
            primary_key=bool(data["primary_key"]),
            autoincrement=bool(data.get("autoincrement", False)),
            server_default=data.get("server_default"),
        )

    def to_json(self) -> Json:
        return {
            "name": self.name,
            "type": self.type.to_json(),
            "nullable": self.nullable,
            "primary_key": self.primary_key,
            "autoincrement": self.autoincrement,
            "server_default": self.server_default,
        }


@dataclass(frozen=True)
class ForeignKey:
    name: str
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]
    ondelete: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ForeignKey:
        return cls(
            name=str(data["name"]),
            columns=tuple(data["columns"]),
            referred_table=str(data["referred_table"]),
            referred_columns=tuple(data["referred_columns"]),
            ondelete=data.get("ondelete"),
        )

    def to_json(self) -> Json:
        return {
            "name": self.name,
            "columns": list(self.columns),
            "referred_table": self.referred_table,
            "referred_columns": list(self.referred_columns),
            "ondelete": self.ondelete,
        }


@dataclass(frozen=True)
class Unique:
    name: str
    columns: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Unique:
        return cls(str(data["name"]), tuple(data["columns"]))

    def to_json(self) -> Json:
        return {"name": self.name, "columns": list(self.columns)}


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    unique: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Index:
        return cls(str(data["name"]), tuple(data["columns"]), bool(data["unique"]))

    def to_json(self) -> Json:
        return {"name": self.name, "columns": list(self.columns), "unique": self.unique}


Constraint = ForeignKey | Unique | Index


@dataclass(frozen=True)
class Table:
    """One table as the migrations leave it; ``deferred`` keys destructive changes left out."""

    name: str
    columns: tuple[Column, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()  # each sorted by name
    unique_constraints: tuple[Unique, ...] = ()
    indexes: tuple[Index, ...] = ()
    deferred: tuple[str, ...] = field(default=())  # sorted
    partition_by: str | None = None  # the range partition key on PostgreSQL (event logs)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Table:
        return cls(
            name=str(data["table"]),
            columns=tuple(Column.from_json(c) for c in data["columns"]),
            foreign_keys=tuple(ForeignKey.from_json(f) for f in data["foreign_keys"]),
            unique_constraints=tuple(Unique.from_json(u) for u in data["unique_constraints"]),
            indexes=tuple(Index.from_json(i) for i in data["indexes"]),
            deferred=tuple(data.get("deferred", ())),
            partition_by=data.get("partition_by"),
        )

    def to_json(self) -> Json:
        out: Json = {
            "table": self.name,
            "columns": [c.to_json() for c in self.columns],
            "foreign_keys": [f.to_json() for f in self.foreign_keys],
            "unique_constraints": [u.to_json() for u in self.unique_constraints],
            "indexes": [i.to_json() for i in self.indexes],
            "deferred": list(self.deferred),
        }
        if self.partition_by is not None:  # absent otherwise: older snapshots stay as they were
            out["partition_by"] = self.partition_by
        return out


def snapshot_of(table: TableDef) -> Table:
    """The snapshot a freshly created ``table`` would have."""
    columns = tuple(
        Column(
            name=c.name,
            type=DbType.from_json(c.type.db),
            nullable=c.nullable,
            primary_key=c.primary_key,
            autoincrement=c.autoincrement,
            server_default=c.server_default,
        )
        for c in table.columns
    )
    foreign_keys = [
        ForeignKey(
            c.foreign_key.name,
            (c.name,),
            c.foreign_key.table,
            (c.foreign_key.column,),
            c.foreign_key.ondelete,
        )
        for c in table.columns
        if c.foreign_key is not None
    ]
    return Table(
        name=table.name,
        columns=columns,
        foreign_keys=tuple(sorted(foreign_keys, key=lambda f: f.name)),
        unique_constraints=tuple(
            sorted((Unique(u.name, tuple(u.columns)) for u in table.uniques), key=lambda u: u.name)
        ),
        indexes=tuple(
            sorted(
                (Index(i.name, tuple(i.columns), i.unique) for i in table.indexes),
                key=lambda i: i.name,
            )
        ),
        partition_by=table.partitioning.by if table.partitioning else None,
    )


# --- JSON, at the edges -----------------------------------------------------------------------


def content_hash(body: Mapping[str, Any]) -> str:
    body = {k: v for k, v in body.items() if k not in ("format", "hash")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def dump(table: Table) -> str:
    body = table.to_json()
    document = {"format": FORMAT, "hash": content_hash(body), **body}
    return json.dumps(document, sort_keys=True, indent=2) + "\n"


def load(text: str, name: str) -> Table:
    try:
        document: Json = json.loads(text)
    except json.JSONDecodeError as error:
        raise SnapshotError(f"{name}: not valid JSON ({error})") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else None
        raise SnapshotError(f"{name}: unknown snapshot format {found!r}")
    if document.get("hash") != content_hash(document):
        raise SnapshotError(
            f"{name}: content does not match its hash (edited by hand?); restore it from version "
            "control, snapshots must describe what the migrations did"
        )
    body = {k: v for k, v in document.items() if k not in ("format", "hash")}
    try:
        table = Table.from_json(body)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise SnapshotError(f"{name}: not a table snapshot ({error!r})") from error
    if table.to_json() != body:
        raise SnapshotError(
            f"{name}: holds keys or values this version of eventspec does not read; restore it "
            "from version control, or use the eventspec version that wrote it"
        )
    return table

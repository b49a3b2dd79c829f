"""The column mapping: one table definition per resource and event log, built from the IR.

``models.py`` renders these definitions as Python source and the migration planner turns the very
same definitions into snapshots and SQLAlchemy ``Table`` objects, so models and migrations cannot
disagree. Each column type carries three views of itself: the SQLAlchemy expression as source text
for the template, the Python annotation, and a JSON descriptor of the database type (``db``) that
:func:`sa_type` turns back into a ``TypeEngine`` for migrations.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    Time,
    Uuid,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

from . import ir
from .printer import py
from .pyfmt import Call, Expr

# (module, name); module "" means ``import name``; "._support" is the generated runtime module.
Import = tuple[str, str]
JsonDict = dict[str, Any]

SUPPORT = "._support"
TYPES = "._types"

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_ON_DELETE = {"cascade": "CASCADE", "restrict": "RESTRICT", "set_null": "SET NULL"}


@dataclass(frozen=True)
class ColumnType:
    expr: Expr  # SQLAlchemy type as Python source, e.g. Call("String", ["320"])
    python: str  # annotation without ``| None``, e.g. "str"
    imports: frozenset[Import]
    db: JsonDict = field(compare=False)  # database type descriptor, JSON-serializable


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

    def column(self, name: str) -> ColumnDef | None:
        return next((c for c in self.columns if c.name == name), None)


# --- types ------------------------------------------------------------------------------------

_SIMPLE: dict[str, tuple[str, str, JsonDict]] = {
    # IR type: (SQLAlchemy class, Python annotation, db descriptor)
    "text": ("Text", "str", {"type": "text"}),
    "integer": ("Integer", "int", {"type": "integer"}),
    "big_integer": ("BigInteger", "int", {"type": "big_integer"}),
    "float": ("Float", "float", {"type": "float"}),
    "boolean": ("Boolean", "bool", {"type": "boolean"}),
    "uuid": ("Uuid", "uuid.UUID", {"type": "uuid"}),
    "uuidv7": ("Uuid", "uuid.UUID", {"type": "uuid"}),
    "date": ("Date", "datetime.date", {"type": "date"}),
    "time": ("Time", "datetime.time", {"type": "time"}),
    "naive_datetime": ("DateTime", "datetime.datetime", {"type": "datetime", "timezone": False}),
    "binary": ("LargeBinary", "bytes", {"type": "binary"}),
}
_PY_IMPORTS: dict[str, Import] = {
    "decimal.Decimal": ("", "decimal"),
    "uuid.UUID": ("", "uuid"),
    "datetime.date": ("", "datetime"),
    "datetime.time": ("", "datetime"),
    "datetime.datetime": ("", "datetime"),
}
# UTCDateTime's impl in the runtime module (checked by the tests).
UTC_DATETIME_DB: JsonDict = {"type": "datetime", "timezone": True}
JSON_DB: JsonDict = {"type": "json"}


def column_type(
    type_: ir.TypeRef,
    *,
    table: str,
    column: str,
    max_length: int | None = None,
    primary_key: bool = False,
) -> ColumnType:
    """The column type of an attribute of ``type_`` stored in ``table.column``."""
    name = type_.name
    if name == "string":
        expr: Expr = Call("String", [str(max_length)] if max_length else [])
        return ColumnType(expr, "str", _sa("String"), {"type": "string", "length": max_length})
    if name in ("utc_datetime", "utc_datetime_usec"):
        args = ['"second"'] if name == "utc_datetime" else []
        imports = frozenset({(SUPPORT, "UTCDateTime"), ("", "datetime")})
        return ColumnType(Call("UTCDateTime", args), "datetime.datetime", imports, UTC_DATETIME_DB)
    if name == "map":
        imports = frozenset({(SUPPORT, "JSONMap"), ("typing", "Any")})
        return ColumnType("JSONMap", "dict[str, Any]", imports, JSON_DB)
    if name == "enum":
        enum_name = f"{table}_{column}"
        args = [py(v) for v in type_.values]
        literal = "Literal[" + ", ".join(args) + "]"
        expr = Call("Enum", args, [("name", py(enum_name))])
        db = {"type": "enum", "name": enum_name, "values": list(type_.values)}
        return ColumnType(expr, literal, _sa("Enum") | {("typing", "Literal")}, db)
    if name == "array":
        assert type_.item is not None, "array without an item type"
        item = column_type(type_.item, table=table, column=column)
        # ARRAY on PostgreSQL, JSON on SQLite with each item encoded as events encode it.
        expr = Call("Array", [item.expr, py(type_.item.name)])
        imports = item.imports | {(TYPES, "Array")}
        return ColumnType(expr, f"list[{item.python}]", imports, {"type": "array", "item": item.db})
    if name == "decimal":  # exact on SQLite too: see the runtime's ExactNumeric
        imports = frozenset({(TYPES, "ExactNumeric"), ("", "decimal")})
        return ColumnType(Call("ExactNumeric"), "decimal.Decimal", imports, {"type": "numeric"})
    if name == "big_integer" and primary_key:
        # SQLite only autoincrements an INTEGER PRIMARY KEY.
        expr = Call("BigInteger().with_variant", ["Integer()", '"sqlite"'])
        db = {"type": "big_integer", "sqlite": "integer"}
        return ColumnType(expr, "int", _sa("BigInteger", "Integer"), db)
    sa_name, python, db = _SIMPLE[name]
    imports = _sa(sa_name)
    if python in _PY_IMPORTS:
        imports |= {_PY_IMPORTS[python]}
    return ColumnType(Call(sa_name), python, imports, dict(db))


def _sa(*names: str) -> frozenset[Import]:
    return frozenset(("sqlalchemy", n) for n in names)


def sa_type(db: Mapping[str, Any]) -> TypeEngine[Any]:
    """The SQLAlchemy type of a database type descriptor (no runtime module needed)."""
    kind = db["type"]
    if kind == "string":
        return String(db.get("length"))
    if kind == "datetime":
        return DateTime(timezone=bool(db.get("timezone")))
    if kind == "json":
        return JSON().with_variant(postgresql.JSONB(), "postgresql")
    if kind == "enum":
        return Enum(*db["values"], name=db["name"])
    if kind == "array":
        # The generic ARRAY: alembic renders its item type (it cannot for postgresql.ARRAY).
        return JSON().with_variant(ARRAY(sa_type(db["item"])), "postgresql")
    if kind == "big_integer" and db.get("sqlite") == "integer":
        return BigInteger().with_variant(Integer(), "sqlite")
    simple: dict[str, type[TypeEngine[Any]]] = {
        "text": Text,
        "integer": Integer,
        "big_integer": BigInteger,
        "float": Float,
        "numeric": Numeric,
        "boolean": Boolean,
        "uuid": Uuid,
        "date": Date,
        "time": Time,
        "binary": LargeBinary,
    }
    return simple[kind]()


# --- defaults ---------------------------------------------------------------------------------

_SERVER_DEFAULT_TYPES = frozenset(
    {"string", "text", "enum", "integer", "big_integer", "float", "decimal", "boolean"}
)


def default_of(default: ir.Default | None, type_: ir.TypeRef) -> tuple[Expr | None, set[Import]]:
    """The Python-side default (``default=`` of ``mapped_column``) and the imports it needs."""
    if default is None:
        return None, set()
    if default.kind == "now":
        if type_.name == "date":
            return "lambda: utcnow().date()", {(SUPPORT, "utcnow")}
        if type_.name == "naive_datetime":
            return "lambda: utcnow().replace(tzinfo=None)", {(SUPPORT, "utcnow")}
        if type_.name == "utc_datetime":  # whole seconds, as the type holds them
            return "utcnow_seconds", {(SUPPORT, "utcnow_seconds")}
        return "utcnow", {(SUPPORT, "utcnow")}
    if default.kind == "uuid4":
        return "uuid.uuid4", {("", "uuid")}
    if default.kind == "uuidv7":
        return "uuidv7", {(SUPPORT, "uuidv7")}
    value = default.value
    if value is None:
        return None, set()
    if isinstance(value, dict):
        return ("dict", set()) if not value else (f"lambda: {py(_thaw(value))}", set())
    if isinstance(value, list):
        return ("list", set()) if not value else (f"lambda: {py(_thaw(value))}", set())
    return typed_literal(value, type_.name)


def typed_literal(value: object, kind: str) -> tuple[str, set[Import]]:
    """A literal default of ``kind`` as Python source, and the imports it needs."""
    if kind == "decimal":
        return f"decimal.Decimal({py(str(value))})", {("", "decimal")}
    if kind in ("uuid", "uuidv7"):
        return f"uuid.UUID({py(str(value))})", {("", "uuid")}
    if kind == "date" and isinstance(value, str):
        return py(datetime.date.fromisoformat(value)), {("", "datetime")}
    if kind == "time" and isinstance(value, str):
        return py(datetime.time.fromisoformat(value)), {("", "datetime")}
    if kind in ir.TIMESTAMP_TYPES and isinstance(value, str):
        parsed = datetime.datetime.fromisoformat(value)
        if kind != "naive_datetime":
            tz = parsed.tzinfo or datetime.UTC
            parsed = parsed.replace(tzinfo=tz).astimezone(datetime.UTC)
        return py(parsed), {("", "datetime")}
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return py(_thaw(value)), set()


def server_default_of(default: ir.Default | None, type_: ir.TypeRef) -> str | None:
    """A server default for literal defaults of scalar types, portable across SQLite and PG.

    It lets a migration add a NOT NULL column with a default to a table that already has rows.
    """
    if default is None or default.kind != "literal" or default.value is None:
        return None
    if type_.name not in _SERVER_DEFAULT_TYPES:
        return None
    value = default.value
    if isinstance(value, bool):
        return "1" if value else "0"  # '1' and '0' are booleans on PostgreSQL too
    if type_.name == "float" and isinstance(value, int):
        return repr(float(value))
    if isinstance(value, float | decimal.Decimal):
        return repr(value) if isinstance(value, float) else str(value)
    return str(value)


def _thaw(value: object) -> object:
    """Spec lists are frozen into tuples in the IR; a default is printed as a list."""
    if isinstance(value, tuple | list):
        return [_thaw(v) for v in value]
    if isinstance(value, dict):
        return {k: _thaw(v) for k, v in value.items()}
    return value


# --- tables -----------------------------------------------------------------------------------


def table_defs(project: ir.Project) -> tuple[TableDef, ...]:
    """Every table of the project (resources, then event logs), sorted by table name."""
    tables = [resource_table(project, r) for r in project.resources]
    tables += [event_log_table(log) for log in project.event_logs]
    return tuple(sorted(tables, key=lambda t: t.name))


def resource_table(project: ir.Project, resource: ir.Resource) -> TableDef:
    columns: list[ColumnDef] = []
    for attr in resource.attributes:
        ctype = column_type(
            attr.type,
            table=resource.table,
            column=attr.name,
            max_length=attr.constraints.max_length,
            primary_key=attr.primary_key,
        )
        default, imports = default_of(attr.default, attr.type)
        onupdate, more = default_of(attr.update_default, attr.type)
        columns.append(
            ColumnDef(
                name=attr.name,
                key=attr.name,
                type=ctype,
                nullable=attr.allow_nil and not attr.primary_key,
                primary_key=attr.primary_key,
                default=default,
                onupdate=onupdate,
                server_default=server_default_of(attr.default, attr.type),
                foreign_key=_foreign_key(project, resource, attr),
                renamed_from=attr.renamed_from,
                imports=frozenset(imports | more),
            )
        )
    uniques = tuple(
        UniqueDef(f"uq_{resource.table}_{identity.name}", resource.identity_keys(identity))
        for identity in resource.identities
    )
    return TableDef(
        name=resource.table,
        class_name=resource.name,
        columns=tuple(columns),
        uniques=tuple(sorted(uniques, key=lambda u: u.name)),
        renamed_from=resource.renamed_from,
        source=resource.origin.source.name,
    )


def _foreign_key(
    project: ir.Project, resource: ir.Resource, attr: ir.Attribute
) -> ForeignKeyDef | None:
    if attr.belongs_to is None:
        return None
    rel = next(r for r in resource.relationships if r.name == attr.belongs_to)
    destination = project.resource(rel.destination)
    assert destination is not None, f"unknown destination {rel.destination}"
    column = rel.destination_attribute or (
        destination.primary_key.name if destination.primary_key else "id"
    )
    name = f"fk_{resource.table}_{attr.name}_{destination.table}"
    ondelete = _ON_DELETE[rel.on_delete] if rel.on_delete else None
    return ForeignKeyDef(name, destination.table, column, ondelete)


def event_log_table(log: ir.EventLog) -> TableDef:
    table = log.table
    if log.primary_key_type == "uuidv7":
        id_column = ColumnDef(
            "id",
            "id",
            column_type(ir.TypeRef("uuid"), table=table, column="id"),
            nullable=False,
            primary_key=True,
            default="uuidv7",
            imports=frozenset({(SUPPORT, "uuidv7")}),
        )
    else:
        id_type = column_type(ir.TypeRef("big_integer"), table=table, column="id", primary_key=True)
        id_column = ColumnDef(
            "id", "id", id_type, nullable=False, primary_key=True, autoincrement=True
        )
    record_ir = {"uuid": "uuid", "integer": "big_integer", "string": "string"}[log.record_id_type]

    def plain(name: str, type_name: str) -> ColumnDef:
        ctype = column_type(ir.TypeRef(type_name), table=table, column=name)
        return ColumnDef(name, name, ctype, nullable=False)

    if log.encryption_key_env is not None:
        map_type = ColumnType(
            Call("EncryptedJSON", [py(log.encryption_key_env)]),
            "dict[str, Any]",
            frozenset({(SUPPORT, "EncryptedJSON"), ("typing", "Any")}),
            {"type": "binary"},
        )
    else:
        map_type = column_type(ir.TypeRef("map"), table=table, column="data")

    def json_map(name: str, key: str) -> ColumnDef:
        return ColumnDef(name, key, map_type, nullable=False, default="dict")

    columns = [
        id_column,
        plain("record_id", record_ir),
        ColumnDef(
            "version",
            "version",
            column_type(ir.TypeRef("integer"), table=table, column="version"),
            nullable=False,
            default="1",
            server_default="1",
        ),
        ColumnDef(
            "occurred_at",
            "occurred_at",
            column_type(ir.TypeRef("utc_datetime_usec"), table=table, column="occurred_at"),
            nullable=False,
            default="utcnow",
            imports=frozenset({(SUPPORT, "utcnow")}),
        ),
        plain("resource", "string"),
        plain("action", "string"),
        plain("action_type", "string"),
        json_map("data", "data"),
        json_map("metadata", "metadata_"),
        json_map("changed_attributes", "changed_attributes"),
    ]
    for actor in log.actors:
        ctype = column_type(actor.attribute_type, table=table, column=actor.name)
        columns.append(ColumnDef(actor.name, actor.name, ctype, nullable=actor.allow_nil))
    indexes = [
        IndexDef(f"ix_{table}_resource_record_id", ("resource", "record_id")),
        IndexDef(f"ix_{table}_occurred_at", ("occurred_at",)),
    ]
    indexes += [IndexDef(f"ix_{table}_{a.name}", (a.name,)) for a in log.actors]
    return TableDef(
        name=table,
        class_name=log.name,
        columns=tuple(columns),
        indexes=tuple(indexes),
        source=log.origin.source.name,
    )

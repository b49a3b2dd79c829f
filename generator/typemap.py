"""The one table of spec types: each one's Python annotation, column type and what they import.

Models, actions and migrations all read this table, so an attribute's annotation in ``models.py``,
its TypedDict field in an actions module and its column in a migration cannot disagree. Imports are
carried as data (``(module, name)`` pairs) next to the source that needs them, never sniffed from
the text afterwards.
"""

from __future__ import annotations

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
from .printer import expr, py
from .pyfmt import Call, Expr

# (module, name); module "" means ``import name``; "._support" is the generated runtime module.
Import = tuple[str, str]
JsonDict = dict[str, Any]

SUPPORT = "._support"
TYPES = "._types"
EMBEDDED = ".embedded"  # the generated module of the embedded specs' TypedDicts and definitions
SQLALCHEMY = "sqlalchemy"

# UTCDateTime's impl in the runtime module (checked by the tests).
UTC_DATETIME_DB: JsonDict = {"type": "datetime", "timezone": True}
JSON_DB: JsonDict = {"type": "json"}


@dataclass(frozen=True)
class SpecType:
    """One row of the table: how a value of a spec type is annotated and stored."""

    python: str  # the annotation ("Literal" and "list" are completed by the values / item type)
    column: str  # the column type's class, from ``column_module``
    db: JsonDict  # the database type descriptor migrations compare (JSON-serializable)
    column_module: str = SQLALCHEMY
    python_imports: frozenset[Import] = frozenset()


def _std(module: str) -> frozenset[Import]:
    return frozenset({("", module)})


_DATETIME = _std("datetime")
TABLE: dict[str, SpecType] = {
    "string": SpecType("str", "String", {"type": "string"}),
    "text": SpecType("str", "Text", {"type": "text"}),
    "integer": SpecType("int", "Integer", {"type": "integer"}),
    "big_integer": SpecType("int", "BigInteger", {"type": "big_integer"}),
    "float": SpecType("float", "Float", {"type": "float"}),
    # Exact on SQLite too: see the runtime's ExactNumeric.
    "decimal": SpecType(
        "decimal.Decimal", "ExactNumeric", {"type": "numeric"}, TYPES, _std("decimal")
    ),
    "boolean": SpecType("bool", "Boolean", {"type": "boolean"}),
    "uuid": SpecType("uuid.UUID", "Uuid", {"type": "uuid"}, python_imports=_std("uuid")),
    "uuidv7": SpecType("uuid.UUID", "Uuid", {"type": "uuid"}, python_imports=_std("uuid")),
    "date": SpecType("datetime.date", "Date", {"type": "date"}, python_imports=_DATETIME),
    "time": SpecType("datetime.time", "Time", {"type": "time"}, python_imports=_DATETIME),
    "utc_datetime": SpecType(
        "datetime.datetime", "UTCDateTime", UTC_DATETIME_DB, SUPPORT, _DATETIME
    ),
    "utc_datetime_usec": SpecType(
        "datetime.datetime", "UTCDateTime", UTC_DATETIME_DB, SUPPORT, _DATETIME
    ),
    "naive_datetime": SpecType(
        "datetime.datetime",
        "DateTime",
        {"type": "datetime", "timezone": False},
        python_imports=_DATETIME,
    ),
    "map": SpecType("dict[str, Any]", "JSONMap", JSON_DB, SUPPORT, frozenset({("typing", "Any")})),
    "binary": SpecType("bytes", "LargeBinary", {"type": "binary"}),
    "enum": SpecType(
        "Literal", "Enum", {"type": "enum"}, python_imports=frozenset({("typing", "Literal")})
    ),
    "array": SpecType("list", "Array", {"type": "array"}, TYPES),
    # A JSON column (JSONB on PostgreSQL) whose value is checked, stored and decoded by its spec.
    "embedded": SpecType("", "Embedded", JSON_DB, TYPES),
}


def python_type(type_: ir.TypeRef, *, nullable: bool = False) -> str:
    """The Python annotation of a spec type, e.g. ``list[uuid.UUID] | None``."""
    if type_.name == "enum":
        text = "Literal[" + ", ".join(py(v) for v in type_.values) + "]"
    elif type_.name == "array" and type_.item is not None:
        text = f"list[{python_type(type_.item)}]"
    elif type_.name == "embedded":
        text = type_.ref
    else:
        text = TABLE[type_.name].python
    return f"{text} | None" if nullable else text


def python_imports(type_: ir.TypeRef) -> frozenset[Import]:
    """What :func:`python_type` needs imported: a module, or a name from ``typing``."""
    if type_.name == "embedded":
        return frozenset({(EMBEDDED, type_.ref)})
    imports = TABLE[type_.name].python_imports
    return imports | python_imports(type_.item) if type_.item is not None else imports


def type_kind(type_: ir.TypeRef) -> str:
    """The spec type's name, as the runtime checks and decodes values by it."""
    return type_.name


def type_details(type_: ir.TypeRef) -> list[tuple[str, Expr]]:
    """The keyword arguments completing :func:`type_kind` for the runtime: item type, values."""
    details: list[tuple[str, Expr]] = []
    if type_.item is not None:
        details.append(("item", py(type_.item.name)))
    if type_.values:
        details.append(("values", expr(tuple(type_.values))))
    return details


# --- columns ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnType:
    expr: Expr  # SQLAlchemy type as Python source, e.g. Call("String", ["320"])
    python: str  # annotation without ``| None``, e.g. "str"
    imports: frozenset[Import]
    db: JsonDict = field(compare=False)  # database type descriptor, JSON-serializable


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
    if type_.base.name == "embedded" and type_.base.embedded is not None:
        # One JSON value, or a JSON list of them: never a PostgreSQL ARRAY.
        spec = type_.base.embedded
        column = "EmbeddedList" if name == "array" else "Embedded"
        imports = frozenset({(TYPES, column), (EMBEDDED, spec.constant)}) | python_imports(type_)
        return ColumnType(Call(column, [spec.constant]), python_type(type_), imports, dict(JSON_DB))
    row = TABLE[name]
    imports = frozenset({(row.column_module, row.column)}) | python_imports(type_)
    db = dict(row.db)
    source: Expr = Call(row.column)
    if name == "string":
        source = Call("String", [str(max_length)] if max_length else [])
        db["length"] = max_length
    elif name == "utc_datetime":
        source = Call("UTCDateTime", ['"second"'])
    elif name == "map":
        source = "JSONMap"
    elif name == "enum":
        enum_name = f"{table}_{column}"
        source = Call("Enum", [py(v) for v in type_.values], [("name", py(enum_name))])
        db.update(name=enum_name, values=list(type_.values))
    elif name == "array":
        assert type_.item is not None, "array without an item type"
        item = column_type(type_.item, table=table, column=column)
        # ARRAY on PostgreSQL, JSON on SQLite with each item encoded as events encode it.
        source = Call("Array", [item.expr, py(type_.item.name)])
        imports |= item.imports
        db["item"] = item.db
    elif name == "big_integer" and primary_key:
        # SQLite only autoincrements an INTEGER PRIMARY KEY.
        source = Call("BigInteger().with_variant", ["Integer()", '"sqlite"'])
        imports |= {(SQLALCHEMY, "Integer")}
        db["sqlite"] = "integer"
    return ColumnType(source, python_type(type_), imports, db)


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

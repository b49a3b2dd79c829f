"""The one renderer of spec defaults and literal values as Python source, with their imports.

``models.py`` passes a default to ``mapped_column(default=...)`` and an actions module to
``AttributeDef(default=...)``: both print the :class:`Source` this module returns, so the row an
action writes and the row the model's own default fills hold the same value.
"""

from __future__ import annotations

import datetime
import decimal
from dataclasses import dataclass

from . import ir
from .printer import py
from .typemap import SUPPORT, Import

# Types whose literals are printed as values of their Python type, not as the YAML scalar.
_TYPED_LITERALS = frozenset(
    {"decimal", "uuid", "uuidv7", "date", "time", "float", *ir.TIMESTAMP_TYPES}
)
_SERVER_DEFAULT_TYPES = frozenset(
    {"string", "text", "enum", "integer", "big_integer", "float", "decimal", "boolean"}
)


@dataclass(frozen=True)
class Source:
    """Python source text and what it needs imported."""

    text: str
    imports: frozenset[Import] = frozenset()
    callable: bool = False  # ``text`` is a zero-argument callable, not a value

    @property
    def factory(self) -> str:
        """The source as a zero-argument callable (the runtime calls defaults)."""
        return self.text if self.callable else f"lambda: {self.text}"


def _support(name: str) -> frozenset[Import]:
    return frozenset({(SUPPORT, name)})


def default_source(default: ir.Default, type_: ir.TypeRef) -> Source:
    """A default of ``type_``: a callable for ``now`` and generated ids, else the literal.

    Of the spec type exactly, as the runtime checks attributes set by defaults: ``now`` of a
    ``utc_datetime`` has whole seconds, as its column stores it.
    """
    if default.kind == "now":
        if type_.name == "date":
            return Source("lambda: utcnow().date()", _support("utcnow"), callable=True)
        if type_.name == "naive_datetime":
            return Source(
                "lambda: utcnow().replace(tzinfo=None)", _support("utcnow"), callable=True
            )
        name = "utcnow_seconds" if type_.name == "utc_datetime" else "utcnow"
        return Source(name, _support(name), callable=True)
    if default.kind == "uuid4":
        return Source("uuid.uuid4", frozenset({("", "uuid")}), callable=True)
    if default.kind == "uuidv7":
        return Source("uuidv7", _support("uuidv7"), callable=True)
    value = default.value
    if isinstance(value, dict | list | tuple):
        # A fresh container per row: an empty one is its type, a full one a lambda building it.
        if not value:
            return Source("dict" if isinstance(value, dict) else "list", callable=True)
        return Source(f"lambda: {py(thaw(value))}", callable=True)
    return literal(value, type_)


def default_expr(default: ir.Default | None, type_: ir.TypeRef) -> str:
    """A zero-argument callable (as source) producing the default, or ``None``."""
    return "None" if default is None else default_source(default, type_).factory


def is_typed(type_: ir.TypeRef) -> bool:
    """Whether a literal of ``type_`` is printed as its Python type, not as the YAML scalar."""
    return type_.name in _TYPED_LITERALS


def literal(value: object, type_: ir.TypeRef) -> Source:
    """A spec literal (a default, a set_attribute value) as a value of ``type_``."""
    kind = type_.name
    if value is None or kind not in _TYPED_LITERALS:
        return Source(py(thaw(value)))
    if kind == "decimal":
        return Source(f"decimal.Decimal({py(str(value))})", frozenset({("", "decimal")}))
    if kind in ("uuid", "uuidv7"):
        return Source(f"uuid.UUID({py(str(value))})", frozenset({("", "uuid")}))
    parsed: object = value
    if kind == "date" and isinstance(value, str):
        parsed = datetime.date.fromisoformat(value)
    elif kind == "time" and isinstance(value, str):
        parsed = datetime.time.fromisoformat(value)
    elif kind in ir.TIMESTAMP_TYPES and isinstance(value, str):
        moment = datetime.datetime.fromisoformat(value)
        if kind != "naive_datetime":
            moment = moment.replace(tzinfo=moment.tzinfo or datetime.UTC).astimezone(datetime.UTC)
        parsed = moment
    elif kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return Source(py(float(value)))
    if isinstance(parsed, datetime.date | datetime.time):
        return Source(py(parsed), frozenset({("", "datetime")}))
    return Source(py(thaw(parsed)))


def value_literal(value: object, type_: ir.TypeRef) -> str:
    """:func:`literal` as source text (its imports are the runtime's ``datetime`` and so on)."""
    return literal(value, type_).text


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


def thaw(value: object) -> object:
    """A spec value as JSON holds it: the IR freezes lists into tuples, source prints lists."""
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    if isinstance(value, dict):
        return {k: thaw(v) for k, v in value.items()}
    return value

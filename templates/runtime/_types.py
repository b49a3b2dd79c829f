"""The runtime's type discipline: what each spec type accepts from Python, and how it is stored.

Every input and argument of an action, and every attribute it writes, goes through the checker of
its spec type (:func:`checker`) before anything is written. A checker returns the value exactly as
the row and the event will hold it (``int`` for a ``decimal`` becomes a ``Decimal``, an aware
datetime for ``utc_datetime_usec`` becomes UTC), or raises :class:`Refused` with a message that
names the expected type, never the value (it may be sensitive). The rules are the same on SQLite
and PostgreSQL, so an action accepted on one database is accepted on the other, and replay
decodes (:func:`decoder`) what was recorded back to the value that was written.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import JSON, Numeric
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from ._support import json_decoder, to_json

Checker = Callable[[Any], Any]
Decoder = Callable[[Any], Any]

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
_MAP_DEPTH = 64
_JSON_FLOAT = 2.0**53


class Refused(ValueError):
    """A value its spec type does not accept; the message says what it accepts. ``path`` is
    where inside the value (``.zip``, ``[2].quantity``) when the value is an embedded one."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path

    def within(self, step: str) -> Refused:
        """This refusal, one step further inside the value (``step`` is ``.name`` or ``[i]``)."""
        return Refused(str(self), step + self.path)


def checker(
    kind: str,
    item: str | None = None,
    values: tuple[str, ...] = (),
    embedded: EmbeddedDef | None = None,
) -> Checker:
    """The checker of a spec type: ``kind``, the ``item`` type of an array, an enum's ``values``,
    the ``embedded`` spec of an embedded value (or of the items of an array of them)."""
    if kind == "array":
        assert item is not None, "an array without an item type"
        return _array(checker(item, embedded=embedded), paths=item == "embedded")
    if kind == "enum":
        return _enum(values)
    if kind == "embedded":
        assert embedded is not None, "an embedded value without its spec"
        return embedded.check
    return _SCALARS[kind]


def decoder(
    kind: str, item: str | None = None, embedded: EmbeddedDef | None = None
) -> Decoder | None:
    """The function turning a recorded (JSON) non-null value back into what was written."""
    if kind == "array":
        assert item is not None, "an array without an item type"
        decode = decoder(item, embedded=embedded)
        if decode is None:
            return None
        return lambda value: [x if x is None else decode(x) for x in value]
    if kind == "float":
        return float  # PostgreSQL's JSONB gives back an integral float as an int
    if kind == "embedded":
        assert embedded is not None, "an embedded value without its spec"
        return embedded.decode
    return json_decoder(kind)


def _type_name(value: Any) -> str:
    return type(value).__name__


# --- scalars -------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise Refused(f"must be a str, not {_type_name(value)}")
    # A str subclass (StrEnum, ...) is stored as its text.
    text: str = value if type(value) is str else str.__str__(value)
    if "\x00" in text:
        # SQLite stores NUL, PostgreSQL refuses it: refuse it on both.
        raise Refused("must not contain NUL characters")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise Refused("must be valid Unicode (it holds a lone surrogate)") from None
    return text


def _integer(bounds: tuple[int, int], name: str) -> Checker:
    low, high = bounds

    def check(value: Any) -> int:
        if type(value) is int:
            number: int = value
        elif isinstance(value, bool) or not isinstance(value, int):
            raise Refused(f"must be an int, not {_type_name(value)}")
        else:
            number = int(value)  # an IntEnum, say, is stored as its number
        if not low <= number <= high:
            raise Refused(f"must be within the {name} range {low}..{high}")
        return number

    return check


def _float(value: Any) -> float:
    if type(value) is float:
        if not math.isfinite(value):
            raise Refused("must be a finite number (not NaN or infinity)")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Refused(f"must be a float or an int, not {_type_name(value)}")
    if isinstance(value, int):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if number != value:  # an exact comparison: a float cannot hold every int
            raise Refused("must be an int that a float holds exactly")
        return number
    return _float(float(value))


def _decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, bool) or not isinstance(value, decimal.Decimal | int):
        raise Refused(f"must be a decimal.Decimal or an int, not {_type_name(value)}")
    number = decimal.Decimal(value)
    if not number.is_finite():
        raise Refused("must be a finite number (not NaN or infinity)")
    # SQLite keeps NUMERIC as a double; ExactNumeric reads back its shortest repr. A value that
    # round trip would change is refused on both databases, so every database reads back what was
    # written: any decimal of up to 15 significant digits passes.
    try:
        exact = decimal.Decimal(repr(float(number))) == number
    except OverflowError:
        exact = False
    if not exact:
        raise Refused(
            "must be a decimal that a double holds exactly (up to 15 significant digits), "
            "so that SQLite reads back what PostgreSQL does"
        )
    return number


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Refused(f"must be a bool, not {_type_name(value)}")
    return value


def _uuid(value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            raise Refused("must be a uuid.UUID or a str holding one") from None
    raise Refused(f"must be a uuid.UUID or a str holding one, not {_type_name(value)}")


def _date(value: Any) -> dt.date:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise Refused(f"must be a datetime.date, not {_type_name(value)}")
    return value


def _time(value: Any) -> dt.time:
    if not isinstance(value, dt.time):
        raise Refused(f"must be a datetime.time, not {_type_name(value)}")
    if value.tzinfo is not None:
        raise Refused("must be a time without a timezone")
    return value


def _naive_datetime(value: Any) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise Refused(f"must be a datetime.datetime, not {_type_name(value)}")
    if value.utcoffset() is not None:
        raise Refused("must be a naive datetime (without a timezone)")
    return value


def _utc_datetime(whole_seconds: bool) -> Checker:
    def check(value: Any) -> dt.datetime:
        if not isinstance(value, dt.datetime):
            raise Refused(f"must be a datetime.datetime, not {_type_name(value)}")
        if value.utcoffset() is None:
            raise Refused("must be a timezone-aware datetime")
        try:
            utc: dt.datetime = value if value.tzinfo is dt.UTC else value.astimezone(dt.UTC)
        except OverflowError:
            raise Refused("must be a datetime within years 1..9999 in UTC") from None
        if whole_seconds and utc.microsecond:
            raise Refused(
                "must be a whole second (utc_datetime stores no microseconds; use "
                "utc_datetime_usec, or .replace(microsecond=0))"
            )
        return utc

    return check


def _binary(value: Any) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise Refused(f"must be bytes or a bytearray, not {_type_name(value)}")
    return bytes(value)


def _map(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Refused(f"must be a dict, not {_type_name(value)}")
    result = _json(value, 0)
    assert isinstance(result, dict)
    return result


def _json(value: Any, depth: int) -> Any:
    """``value`` as JSON holds it (tuples become lists), or Refused."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, int):
        if not INT64[0] <= value <= INT64[1]:
            raise Refused("must hold integers within the 64-bit range")
        return int(value)
    if isinstance(value, float):
        # PostgreSQL's JSONB keeps numbers as decimals and gives a large one back as an int
        # that may differ from the float: refuse those on both databases.
        if not abs(value) < _JSON_FLOAT:
            raise Refused("must hold finite floats below 2**53 in magnitude")
        return float(value)
    if depth >= _MAP_DEPTH:
        raise Refused(f"must nest at most {_MAP_DEPTH} levels deep")
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise Refused(f"must have str keys, not {_type_name(key)}")
            out[_text(key)] = _json(item, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_json(item, depth + 1) for item in value]
    raise Refused(f"must hold JSON values only, not {_type_name(value)}")


_SCALARS: dict[str, Checker] = {
    "string": _text,
    "text": _text,
    "integer": _integer(INT32, "32-bit"),
    "big_integer": _integer(INT64, "64-bit"),
    "float": _float,
    "decimal": _decimal,
    "boolean": _boolean,
    "uuid": _uuid,
    "uuidv7": _uuid,
    "date": _date,
    "time": _time,
    "naive_datetime": _naive_datetime,
    "utc_datetime": _utc_datetime(whole_seconds=True),
    "utc_datetime_usec": _utc_datetime(whole_seconds=False),
    "binary": _binary,
    "map": _map,
}


@cache
def _enum(values: tuple[str, ...]) -> Checker:
    allowed = frozenset(values)
    listed = ", ".join(values)

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise Refused(f"must be one of {listed}, not a {_type_name(value)}")
        text = _text(value)
        if text not in allowed:
            raise Refused(f"must be one of {listed}")
        return text

    return check


def _array(check_item: Checker, *, paths: bool = False) -> Checker:
    """A list's checker; ``paths``: a refused item is named by its path (``[2]``, of embedded
    values), not in the message."""

    def check(value: Any) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise Refused(f"must be a list or a tuple, not {_type_name(value)}")
        items = []
        for index, item in enumerate(value):
            if item is None:
                if paths:
                    raise Refused("must not be None", f"[{index}]")
                raise Refused(f"item {index} must not be None")
            try:
                items.append(check_item(item))
            except Refused as refused:
                if paths:
                    raise refused.within(f"[{index}]") from None
                raise Refused(f"item {index} {refused}") from None
        return items

    return check


# --- embedded values -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldDef:
    """A field of an embedded spec: its type (as an attribute's), nullability, default and
    constraints. A default is a value (copied for every value when it is a list or a dict) or a
    function of no arguments (``default_factory``: the current time, a new UUID)."""

    kind: str
    allow_nil: bool = True
    default: Any = None
    default_factory: Callable[[], Any] | None = None
    item: str | None = None
    values: tuple[str, ...] = ()
    embedded: EmbeddedDef | None = None
    max_length: int | None = None
    min_length: int | None = None
    min: float | None = None
    max: float | None = None
    check: Checker = field(init=False, repr=False, compare=False)
    decode: Decoder | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "check", checker(self.kind, self.item, self.values, self.embedded))
        object.__setattr__(self, "decode", decoder(self.kind, self.item, self.embedded))

    def make_default(self) -> Any:
        if self.default_factory is not None:
            return self.default_factory()
        return (
            copy.deepcopy(self.default) if isinstance(self.default, list | dict) else self.default
        )

    def checked(self, value: Any) -> Any:
        """``value`` as the field holds it, its constraints met; None is judged by the caller."""
        value = self.check(value)
        if isinstance(value, str):
            if self.max_length is not None and len(value) > self.max_length:
                raise Refused(f"must be at most {self.max_length} characters")
            if self.min_length is not None and len(value) < self.min_length:
                raise Refused(f"must be at least {self.min_length} characters")
        elif isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool):
            if self.min is not None and value < self.min:
                raise Refused(f"must be at least {self.min}")
            if self.max is not None and value > self.max:
                raise Refused(f"must be at most {self.max}")
        return value


@dataclass(frozen=True, slots=True, eq=False)
class EmbeddedDef:
    """An embedded spec: the generated TypedDict ``name`` and its fields.

    A value is a dict of the fields (no other keys). Checking returns a new dict holding every
    field, in the spec's order: a missing one gets its default, else None; each is of its type
    as an attribute of that type would be (a ``Decimal``, an aware UTC datetime, ...). That dict
    is what the row stores and the event records (as JSON), and decoding a recorded one gives it
    back. Compared by identity, so that it can key SQLAlchemy's statement cache.
    """

    name: str
    fields: Mapping[str, FieldDef]
    # The spec's validations (``_rules.Check``s naming fields), run on the checked value.
    validations: tuple[Any, ...] = ()

    def check(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise Refused(f"must be a dict ({self.name}), not {_type_name(value)}")
        for key in value:
            if key not in self.fields:
                if not isinstance(key, str):
                    raise Refused(f"must have str keys ({self.name}), not {_type_name(key)}")
                raise Refused(f"is not a field of {self.name}", f".{key}")
        out: dict[str, Any] = {}
        for name, spec in self.fields.items():
            item = value[name] if name in value else spec.make_default()
            if item is None:
                if not spec.allow_nil:
                    raise Refused("is required", f".{name}")
                out[name] = None
                continue
            try:
                out[name] = spec.checked(item)
            except Refused as refused:
                raise refused.within(f".{name}") from None
        if self.validations:
            self._validate(out)
        return out

    def _validate(self, out: dict[str, Any]) -> None:
        """The spec's validations of the whole (checked) value; a failure names its field."""
        fields = _Fields(out)
        for check in self.validations:
            if not all(condition.test(fields) is None for condition in check.where):
                continue
            failure = check.test(fields)
            if failure is not None:
                name, message = failure
                raise Refused(check.message or message, f".{name}" if name else "")

    def decode(self, value: Any) -> dict[str, Any]:
        """A recorded (JSON) value back to what was written (unknown keys are kept: replay's
        checking refuses them, after the upcasters had their chance)."""
        out: dict[str, Any] = {}
        for name, item in value.items():
            spec = self.fields.get(name)
            decode = spec.decode if spec is not None else None
            out[name] = item if item is None or decode is None else decode(item)
        return out


class _Fields:
    """A checked embedded value, as the built-in validations read a changeset: ``get``."""

    __slots__ = ("values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values

    def get(self, name: str) -> Any:
        return self.values.get(name)


class Embedded(TypeDecorator[Any]):
    """An embedded value: JSON (JSONB on PostgreSQL), encoded as events encode it (decimals and
    dates as text, ...) and decoded back to its types, so a row reads back what was written."""

    impl = JSON
    cache_ok = True

    def __init__(self, spec: EmbeddedDef) -> None:
        super().__init__()
        self.spec = spec

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        # SQL NULL for None (not a JSON null), on every path a write takes.
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(JSON(none_as_null=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else to_json(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else self.decode(value)

    def decode(self, value: Any) -> Any:
        return self.spec.decode(value)


class EmbeddedList(Embedded):
    """A list of embedded values, stored as one JSON list (never a PostgreSQL ARRAY)."""

    cache_ok = True

    def decode(self, value: Any) -> Any:
        return [item if item is None else self.spec.decode(item) for item in value]


# --- the array column -----------------------------------------------------------------------


class Array(TypeDecorator[list[Any]]):
    """A list of ``item`` values: a PostgreSQL ARRAY, a JSON list on SQLite.

    On SQLite each item is encoded as events encode it (a UUID as its text, bytes as base64, ...)
    and decoded back to its type, so a list reads back as it was written on both databases.
    """

    impl = JSON
    cache_ok = True

    def __init__(self, item: TypeEngine[Any], kind: str) -> None:
        super().__init__()
        self.item = item
        self.kind = kind

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(self.item))
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value: Sequence[Any] | None, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return [to_json(item) for item in value]

    def process_result_value(self, value: Any, dialect: Dialect) -> list[Any] | None:
        if value is None or dialect.name == "postgresql":
            return value  # type: ignore[no-any-return]
        decode = decoder(self.kind)
        return [item if item is None or decode is None else decode(item) for item in value]


class ExactNumeric(TypeDecorator[decimal.Decimal]):
    """NUMERIC that reads back the decimal that was written, on SQLite too.

    SQLite stores a NUMERIC value as a double, which SQLAlchemy reads back at 10 places
    (``12345678.12`` came back as ``12345678.1199999993``). This reads the double's shortest repr
    instead, exact for every decimal the runtime accepts; PostgreSQL keeps NUMERIC exactly.
    """

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Numeric(asdecimal=False))
        return dialect.type_descriptor(Numeric())

    def process_bind_param(self, value: decimal.Decimal | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return float(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> decimal.Decimal | None:
        if value is None or isinstance(value, decimal.Decimal):
            return value
        return decimal.Decimal(repr(value) if isinstance(value, float) else value)

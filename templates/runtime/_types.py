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

import datetime as dt
import decimal
import math
import uuid
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from sqlalchemy import JSON, Numeric
from sqlalchemy.dialects.postgresql import ARRAY
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
    """A value its spec type does not accept; the message says what it accepts."""


def checker(kind: str, item: str | None = None, values: tuple[str, ...] = ()) -> Checker:
    """The checker of a spec type: ``kind``, the ``item`` type of an array, an enum's ``values``."""
    if kind == "array":
        assert item is not None, "an array without an item type"
        return _array(checker(item))
    if kind == "enum":
        return _enum(values)
    return _SCALARS[kind]


def decoder(kind: str, item: str | None = None) -> Decoder | None:
    """The function turning a recorded (JSON) non-null value back into what was written."""
    if kind == "array":
        assert item is not None, "an array without an item type"
        decode = decoder(item)
        if decode is None:
            return None
        return lambda value: [x if x is None else decode(x) for x in value]
    if kind == "float":
        return float  # PostgreSQL's JSONB gives back an integral float as an int
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


def _array(check_item: Checker) -> Checker:
    def check(value: Any) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise Refused(f"must be a list or a tuple, not {_type_name(value)}")
        items = []
        for index, item in enumerate(value):
            if item is None:
                raise Refused(f"item {index} must not be None")
            try:
                items.append(check_item(item))
            except Refused as refused:
                raise Refused(f"item {index} {refused}") from None
        return items

    return check


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

"""Values are checked where they are declared: defaults parse as their type, enum values fit.

Codes: ES280 a default or ``set_attribute`` value that is not a value of its type (a datetime
default that does not parse, ``1.0`` for an integer, a number that is not finite, ``now`` on a
type that is not a date or time, ...); ES281 an enum default that is not one of its values;
ES282 an enum value PostgreSQL refuses (over 63 bytes) or given twice. Integers written as
``1.0`` where the schema wants an integer are ES103 (``loader.py``); NUL characters are ES283
(``build_checks.py``).
"""

from __future__ import annotations

import datetime
import decimal
import math
import uuid
from collections.abc import Iterator

from ..diagnostics import Diagnostic, Origin, at
from ..ir import Default, Project, TypeRef
from .common import Rule

PG_MAX_ENUM_LABEL = 63  # bytes
INT_RANGE = {"integer": 2**31, "big_integer": 2**63}  # PostgreSQL integer / bigint
_NOW_TYPES = frozenset({"date", "utc_datetime", "utc_datetime_usec", "naive_datetime"})
_UUID_TYPES = frozenset({"uuid", "uuidv7"})
_PARSERS = {
    "date": datetime.date.fromisoformat,
    "time": datetime.time.fromisoformat,
    "utc_datetime": datetime.datetime.fromisoformat,
    "utc_datetime_usec": datetime.datetime.fromisoformat,
    "naive_datetime": datetime.datetime.fromisoformat,
    "uuid": uuid.UUID,
    "uuidv7": uuid.UUID,
}
_EXAMPLES = {
    "date": "2024-05-31",
    "time": "13:45:00",
    "utc_datetime": "2024-05-31T13:45:00Z",
    "utc_datetime_usec": "2024-05-31T13:45:00.123456Z",
    "naive_datetime": "2024-05-31T13:45:00",
    "uuid": "0b6f1d2e-8c55-4a7a-9d3e-2f1c6b7a8e90",
    "uuidv7": "0b6f1d2e-8c55-7a7a-9d3e-2f1c6b7a8e90",
}


def problem(value: object, type_: TypeRef) -> str | None:
    """Why ``value`` (as loaded from YAML) is not a value of ``type_``; None when it is."""
    kind = type_.name
    if value is None:
        return None
    if kind == "array":
        if not isinstance(value, list | tuple):
            return f"expected a list of {type_.item.name if type_.item else 'items'}"
        assert type_.item is not None
        for index, item in enumerate(value):
            reason = problem(item, type_.item)
            if reason:
                return f"item {index + 1}: {reason}"
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a finite number"
    if kind in ("string", "text"):
        return None if isinstance(value, str) else f"expected a string, got {_show(value)}"
    if kind in ("integer", "big_integer"):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"expected an integer, got {_show(value)}"
        bound = INT_RANGE[kind]
        if not -bound <= value < bound:
            return f"{value} is out of range for {kind} ({-bound} to {bound - 1})"
        return None
    if kind == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else f"expected a number, got {_show(value)}"
    if kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return f"expected a number or a decimal string, got {_show(value)}"
        try:
            parsed = decimal.Decimal(str(value).strip())
        except decimal.InvalidOperation:
            return f"{_show(value)} is not a decimal number"
        return None if parsed.is_finite() else f"{_show(value)} is not a finite number"
    if kind == "boolean":
        return None if isinstance(value, bool) else f"expected true or false, got {_show(value)}"
    if kind == "map":
        return None if isinstance(value, dict) else f"expected a map, got {_show(value)}"
    if kind == "binary":
        return "a binary attribute takes no literal default"
    if kind == "enum":
        return None if isinstance(value, str) else f"expected a string, got {_show(value)}"
    parse = _PARSERS.get(kind)
    if parse is not None:
        if not isinstance(value, str):
            return f"expected a {kind} string like '{_EXAMPLES[kind]}', got {_show(value)}"
        try:
            parse(value)
        except ValueError:
            return f"{_show(value)} is not a {kind} (write it like '{_EXAMPLES[kind]}')"
    return None


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list | tuple):
        return "a list"
    return str(value)


def _default(
    default: Default | None, type_: TypeRef, what: str, origin: Origin, key: str
) -> Iterator[Diagnostic]:
    if default is None:
        return
    if default.kind == "now" and type_.name not in _NOW_TYPES:
        message = f"{key} 'now' of {what}: {type_.name} is not a date or timestamp type"
        yield at(origin, "ES280", message, key, hint="use a literal value, or no default")
        return
    if default.kind in ("uuid4", "uuidv7") and type_.name not in _UUID_TYPES:
        message = f"{key} '{default.kind}' of {what}: {type_.name} is not a uuid type"
        yield at(origin, "ES280", message, key, hint="use a literal value, or no default")
        return
    if default.kind != "literal":
        return
    reason = problem(default.value, type_)
    if reason:
        yield at(origin, "ES280", f"invalid {key} of {what}: {reason}", key)
    elif type_.name == "enum" and default.value not in type_.values:
        allowed = ", ".join(type_.values)
        message = f"{key} '{default.value}' of {what} is not one of its values ({allowed})"
        yield at(origin, "ES281", message, key)


def _enum_values(type_: TypeRef, what: str, origin: Origin) -> Iterator[Diagnostic]:
    if type_.name == "array" and type_.item is not None:
        yield from _enum_values(type_.item, what, origin)
        return
    if type_.name != "enum":
        return
    if not type_.values:
        yield at(origin, "ES282", f"{what} is an enum without values", "type", hint="add values")
    seen: set[str] = set()
    for index, value in enumerate(type_.values):
        size = len(value.encode("utf-8"))
        if size > PG_MAX_ENUM_LABEL:
            message = f"enum value {index + 1} of {what} is {size} bytes; PostgreSQL allows 63"
            yield at(origin, "ES282", message, "values", index)
        elif value in seen:
            message = f"enum value '{value}' of {what} is given twice"
            yield at(origin, "ES282", message, "values", index)
        seen.add(value)


def defaults(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        for attr in resource.attributes:
            what = f"attribute '{attr.name}'"
            yield from _enum_values(attr.type, what, attr.origin)
            yield from _default(attr.default, attr.type, what, attr.origin, "default")
            update = attr.update_default
            yield from _default(update, attr.type, what, attr.origin, "update_default")
            for bound in ("min", "max"):
                number = getattr(attr.constraints, bound)
                if isinstance(number, float) and not math.isfinite(number):
                    message = f"constraint {bound} of {what} is not a finite number"
                    yield at(attr.origin, "ES280", message, "constraints", bound)
        for action in resource.actions:
            for arg in action.arguments:
                what = f"argument '{arg.name}' of action '{action.name}'"
                yield from _enum_values(arg.type, what, arg.origin)
                yield from _default(arg.default, arg.type, what, arg.origin, "default")
            for change in action.changes:
                if change.kind != "set_attribute" or not change.has_value:
                    continue
                target = resource.attribute(change.attribute or "")
                if target is None:
                    continue  # ES218
                value = _thaw(change.value)
                where = ("set_attribute", "value")
                reason = problem(value, target.type)
                if reason:
                    message = f"invalid value for attribute '{target.name}': {reason}"
                    yield at(change.origin, "ES280", message, *where)
                elif (
                    target.type.name == "enum"
                    and value is not None
                    and value not in target.type.values
                ):
                    allowed = ", ".join(target.type.values)
                    message = (
                        f"value '{value}' for attribute '{target.name}' is not one of {allowed}"
                    )
                    yield at(change.origin, "ES281", message, *where)


def _thaw(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


RULES: tuple[Rule, ...] = (defaults,)

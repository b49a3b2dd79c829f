"""The IR's vocabulary of values: spec types, defaults, constraints and the kinds of things.

:mod:`eventspec.ir` re-exports every name here; the IR's nodes (resources, actions, event logs)
are built from these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ScalarType = Literal[
    "string",
    "text",
    "integer",
    "big_integer",
    "float",
    "decimal",
    "boolean",
    "uuid",
    "uuidv7",
    "date",
    "time",
    "utc_datetime",
    "utc_datetime_usec",
    "naive_datetime",
    "map",
    "binary",
    "enum",
]
SCALAR_TYPES: tuple[str, ...] = ScalarType.__args__  # type: ignore[attr-defined]
TIMESTAMP_TYPES = frozenset({"utc_datetime", "utc_datetime_usec", "naive_datetime"})
ActionType = Literal["create", "update", "destroy"]
# Built-in validations; ``call`` runs user code. The first two take a list of attributes.
VALIDATION_KINDS = (
    "present",
    "absent",
    "match",
    "one_of",
    "compare",
    "string_length",
    "attribute_equals",
    "attribute_does_not_equal",
    "call",
)
ReplayStrategy = Literal["force_change", "as_arguments"]


@dataclass(frozen=True)
class TypeRef:
    """An attribute or argument type: a scalar, an enum with values, or an array of a type."""

    name: str  # one of SCALAR_TYPES, or "array"
    values: tuple[str, ...] = ()  # enum values
    item: TypeRef | None = None  # array item type

    @property
    def is_timestamp(self) -> bool:
        return self.name in TIMESTAMP_TYPES


@dataclass(frozen=True)
class Default:
    """A default value: ``now``, ``uuid4``, ``uuidv7`` or a literal."""

    kind: Literal["now", "uuid4", "uuidv7", "literal"]
    value: object = None  # the literal, for kind == "literal"


@dataclass(frozen=True)
class Constraints:
    max_length: int | None = None
    min_length: int | None = None
    min: float | None = None
    max: float | None = None

"""The IR's vocabulary of values: spec types, defaults, constraints and the kinds of things.

:mod:`eventspec.ir` re-exports every name here; the IR's nodes (resources, actions, event logs)
are built from these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .diagnostics import Origin

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
    """An attribute or argument type: a scalar, an enum with values, an array of a type, or an
    embedded spec (``name`` "embedded", ``ref`` its name; ``embedded`` the spec, None when the
    name is unknown or the spec contains itself: reported by the verifiers)."""

    name: str  # one of SCALAR_TYPES, "array" or "embedded"
    values: tuple[str, ...] = ()  # enum values
    item: TypeRef | None = None  # array item type
    ref: str = ""  # the embedded spec's name
    embedded: Embedded | None = None

    @property
    def is_timestamp(self) -> bool:
        return self.name in TIMESTAMP_TYPES

    @property
    def base(self) -> TypeRef:
        """The type of an array's items (of their items...), else this type."""
        return self if self.item is None else self.item.base


@dataclass(frozen=True)
class Validation:
    """A built-in validation (``kind`` one of present, absent, match, one_of, compare,
    string_length, attribute_equals, attribute_does_not_equal) or ``call`` of user code.

    ``options`` holds the validation's own keys as written in the spec (attribute(s), pattern,
    values, ...; ``call`` for a call); ``message`` replaces the default error message when given.
    """

    kind: str
    options: tuple[tuple[str, object], ...]
    origin: Origin = field(compare=False, repr=False)
    message: str | None = None
    where: tuple[Validation, ...] = ()

    def option(self, key: str, default: object = None) -> object:
        for name, value in self.options:
            if name == key:
                return value
        return default


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


@dataclass(frozen=True)
class EmbeddedField:
    """A field of an embedded spec: an attribute without a column of its own."""

    name: str
    type: TypeRef
    origin: Origin = field(compare=False, repr=False)
    allow_nil: bool = True
    default: Default | None = None
    constraints: Constraints = field(default_factory=Constraints)
    description: str = ""


@dataclass(frozen=True)
class Embedded:
    """An embedded spec (``kind: embedded``): a typed sub-document that attributes hold, stored
    as JSON. Generated as a TypedDict ``name`` and the runtime's definition ``constant``."""

    name: str
    origin: Origin = field(compare=False, repr=False)
    fields: tuple[EmbeddedField, ...] = ()
    description: str = ""
    validations: tuple[Validation, ...] = ()  # of the whole value, naming its fields

    @property
    def constant(self) -> str:
        """The runtime definition's name in the generated ``embedded.py``, e.g. LINE_ITEM."""
        return snake_case(self.name).upper()

    def embedded_types(self) -> list[TypeRef]:
        """The embedded types its fields hold (directly, or as array items)."""
        return [f.type.base for f in self.fields if f.type.base.name == "embedded"]


def snake_case(name: str) -> str:
    out: list[str] = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and (not name[i - 1].isupper() or _next_is_lower(name, i)):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def _next_is_lower(name: str, i: int) -> bool:
    return i + 1 < len(name) and name[i + 1].islower()


ManageType = Literal["create", "upsert", "direct_control", "append", "remove", "append_and_remove"]


@dataclass(frozen=True)
class Manage:
    """A managed relationship of an action (``manage_relationships``): the caller passes a list
    of dicts under ``argument``; each is written through the destination's own actions."""

    argument: str
    relationship: str
    type: ManageType
    origin: Origin = field(compare=False, repr=False)
    identity: str | None = None  # None: items are matched by the destination's primary key
    create_action: str = "create"
    update_action: str = "update"
    destroy_action: str = "destroy"
    description: str = ""


@dataclass(frozen=True)
class Partitioning:
    """``partitioning`` of an event log: range partitions of its table on PostgreSQL."""

    by: Literal["occurred_at", "id"] = "occurred_at"
    interval: Literal["day", "month", "year"] = "month"  # by occurred_at
    size: int = 1_000_000  # by id: ids per partition
    ahead: int = 3  # partitions kept ready after the current one


@dataclass(frozen=True)
class DataSubject:
    """Whose personal data a resource's ``personal`` fields are: the record itself, the actor,
    or the value of ``attribute`` (see docs/privacy.md)."""

    kind: Literal["record", "actor", "attribute"]
    origin: Origin = field(compare=False, repr=False)
    attribute: str | None = None

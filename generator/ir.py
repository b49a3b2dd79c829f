"""The intermediate representation: frozen, typed dataclasses built from validated spec dicts.

Everything after ``build`` (verifiers, templates, migrations) reads only these classes. Names are
validated once, when the IR is built, so templates never see a bad identifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .diagnostics import Origin
from .ir_types import SCALAR_TYPES as SCALAR_TYPES
from .ir_types import TIMESTAMP_TYPES as TIMESTAMP_TYPES
from .ir_types import VALIDATION_KINDS as VALIDATION_KINDS
from .ir_types import ActionType as ActionType
from .ir_types import Constraints as Constraints
from .ir_types import DataSubject as DataSubject
from .ir_types import Default as Default
from .ir_types import Embedded as Embedded
from .ir_types import EmbeddedField as EmbeddedField
from .ir_types import Manage as Manage
from .ir_types import Partitioning as Partitioning
from .ir_types import ReplayStrategy as ReplayStrategy
from .ir_types import ScalarType as ScalarType
from .ir_types import TypeRef as TypeRef
from .ir_types import Validation as Validation
from .ir_types import snake_case as snake_case
from .plural import plural as plural  # the default table name of a spec


@dataclass(frozen=True)
class Attribute:
    name: str
    type: TypeRef
    origin: Origin = field(compare=False, repr=False)
    primary_key: bool = False
    allow_nil: bool = True
    default: Default | None = None
    update_default: Default | None = None
    writable: bool = True
    sensitive: bool = False
    personal: bool = False  # erasable personal data of the resource's data_subject
    constraints: Constraints = field(default_factory=Constraints)
    description: str = ""
    renamed_from: str | None = None
    # Set for the foreign key column a belongs_to relationship adds: the relationship's name.
    belongs_to: str | None = None


@dataclass(frozen=True)
class Relationship:
    name: str
    type: Literal["belongs_to", "has_many", "has_one"]
    destination: str  # resource name
    origin: Origin = field(compare=False, repr=False)
    # belongs_to: the local FK column (default <name>_id);
    # has_many/has_one: the FK on the destination.
    source_attribute: str = ""
    destination_attribute: str = ""
    allow_nil: bool = True
    attribute_type: TypeRef | None = None  # belongs_to FK type; None: the destination's PK type
    on_delete: Literal["cascade", "restrict", "set_null"] | None = None
    # belongs_to into a resource of another event log: its replay may clear the rows (ES315).
    allow_replay_clear: bool = False


@dataclass(frozen=True)
class Identity:
    name: str
    keys: tuple[str, ...]
    origin: Origin = field(compare=False, repr=False)


@dataclass(frozen=True)
class Change:
    """``set_attribute`` (attribute + value | from_argument | from_actor), ``call``,
    ``before_action`` or ``after_action`` (the last three reference user code
    ``pkg.module:name``)."""

    kind: Literal["set_attribute", "call", "before_action", "after_action"]
    origin: Origin = field(compare=False, repr=False)
    attribute: str | None = None
    value: object = None
    from_argument: str | None = None
    from_actor: str | None = None
    has_value: bool = False  # set_attribute with an explicit ``value`` (which may be null)
    ref: str | None = None  # "pkg.module:name" for call / hooks
    where: tuple[Validation, ...] = ()


@dataclass(frozen=True)
class Argument:
    name: str
    type: TypeRef
    origin: Origin = field(compare=False, repr=False)
    allow_nil: bool = True
    default: Default | None = None
    sensitive: bool = False
    personal: bool = False
    description: str = ""


@dataclass(frozen=True)
class Action:
    name: str
    type: ActionType
    origin: Origin = field(compare=False, repr=False)
    accept: tuple[str, ...] = ()
    arguments: tuple[Argument, ...] = ()
    changes: tuple[Change, ...] = ()
    validations: tuple[Validation, ...] = ()
    upsert_identity: str | None = None  # create only
    soft_attribute: str | None = None  # destroy only: soft destroy sets this attribute to now
    manages: tuple[Manage, ...] = ()  # create/update only: nested writes (manage_relationships)
    require_actor: bool | None = None  # None: as the event log says
    description: str = ""

    def requires_actor(self, log: EventLog | None) -> bool:
        """Whether the action refuses ``actor=None``: its own ``require_actor``, else its log's."""
        if self.require_actor is not None:
            return self.require_actor
        return log is not None and log.requires_actor


@dataclass(frozen=True)
class UpcastStep:
    """One step of an upcaster, applied to a stored event's ``data`` / ``changed_attributes``.

    ``rename`` key -> to; ``drop`` key; ``set_default`` key = value when absent; ``move`` key from
    the other map into ``to``; ``map_values`` of key through ``values``; ``call`` of user code.
    """

    kind: Literal["rename", "drop", "set_default", "move", "map_values", "call"]
    origin: Origin = field(compare=False, repr=False)
    key: str = ""
    to: str = ""
    in_: Literal["data", "changed_attributes"] = "data"
    value: object = None
    values: tuple[tuple[str, object], ...] = ()
    ref: str | None = None  # "pkg.module:function" for call


@dataclass(frozen=True)
class Upcaster:
    """Turns a stored event of ``action`` at ``from_version`` into one of ``from_version + 1``."""

    action: str
    from_version: int
    steps: tuple[UpcastStep, ...]
    origin: Origin = field(compare=False, repr=False)


@dataclass(frozen=True)
class Events:
    """A resource's ``events:`` section (AshEvents' ``events`` DSL)."""

    event_log: str
    origin: Origin = field(compare=False, repr=False)
    only_actions: tuple[str, ...] | None = None
    ignore_actions: tuple[str, ...] = ()
    current_action_versions: tuple[tuple[str, int], ...] = ()
    create_timestamp: str | None = None
    update_timestamp: str | None = None
    replay_non_input_attribute_changes: tuple[tuple[str, str], ...] = ()
    allowed_change_modules: tuple[tuple[str, tuple[str, ...]], ...] = ()
    upcasters: tuple[Upcaster, ...] = ()  # by action, then from_version

    def version_of(self, action: str) -> int:
        return dict(self.current_action_versions).get(action, 1)

    def strategy_of(self, action: str) -> str:
        return dict(self.replay_non_input_attribute_changes).get(action, "force_change")

    def allowed_changes_of(self, action: str) -> tuple[str, ...]:
        return dict(self.allowed_change_modules).get(action, ())

    def upcasters_of(self, action: str) -> dict[int, Upcaster]:
        return {u.from_version: u for u in self.upcasters if u.action == action}

    def upcast_version(self, action: str, version: int) -> int:
        """The version an event of ``action`` at ``version`` has once its upcasters ran."""
        chain = self.upcasters_of(action)
        while version in chain:
            version += 1
        return version


@dataclass(frozen=True)
class Multitenancy:
    strategy: Literal["attribute"]
    attribute: str
    origin: Origin = field(compare=False, repr=False)


@dataclass(frozen=True)
class Resource:
    name: str  # class name, e.g. "User"
    table: str
    origin: Origin = field(compare=False, repr=False)
    attributes: tuple[Attribute, ...] = ()  # includes belongs_to foreign keys, in spec order
    relationships: tuple[Relationship, ...] = ()
    identities: tuple[Identity, ...] = ()
    actions: tuple[Action, ...] = ()
    events: Events | None = None
    multitenancy: Multitenancy | None = None
    description: str = ""
    renamed_from: str | None = None  # previous table name, for migrations
    data_subject: DataSubject | None = None
    on_erase: Literal["null", "drop"] = "null"  # what erasing the subject does to its records

    @property
    def module(self) -> str:
        """Module name under ``actions/``: snake_case of the class name."""
        return snake_case(self.name)

    @property
    def primary_key(self) -> Attribute | None:
        keys = [a for a in self.attributes if a.primary_key]
        return keys[0] if len(keys) == 1 else None

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)

    def action(self, name: str) -> Action | None:
        return next((a for a in self.actions if a.name == name), None)

    def identity(self, name: str) -> Identity | None:
        return next((i for i in self.identities if i.name == name), None)

    def identity_keys(self, identity: Identity) -> tuple[str, ...]:
        """The attributes ``identity`` is unique over. On an attribute-multitenant resource an
        identity is unique per tenant (as in Ash): the tenant attribute comes first."""
        tenant = self.multitenancy.attribute if self.multitenancy else None
        if tenant is None or tenant in identity.keys:
            return identity.keys
        return (tenant, *identity.keys)

    def tracked_actions(self) -> tuple[Action, ...]:
        """The actions that write events (AshEvents: wrapped actions)."""
        if self.events is None:
            return ()
        if self.events.only_actions is not None:
            only = set(self.events.only_actions)
            return tuple(a for a in self.actions if a.name in only)
        ignored = set(self.events.ignore_actions)
        return tuple(a for a in self.actions if a.name not in ignored)


@dataclass(frozen=True)
class ActorKey:
    """One ``persist_actor_primary_key`` entry: an event-log column holding the actor's key."""

    name: str  # column name, e.g. "user_id"
    actor: str  # a resource name, or "pkg.module:Class"
    attribute_type: TypeRef
    origin: Origin = field(compare=False, repr=False)
    primary_key: str = "id"  # attribute of the actor object holding its key
    allow_nil: bool = True

    @property
    def is_resource(self) -> bool:
        return ":" not in self.actor


@dataclass(frozen=True)
class RouteTarget:
    resource: str
    action: str
    origin: Origin = field(compare=False, repr=False)


@dataclass(frozen=True)
class ReplayOverride:
    resource: str  # matched against the stored event's resource; need not exist any more
    action: str
    versions: tuple[int, ...]
    route_to: tuple[RouteTarget, ...]
    origin: Origin = field(compare=False, repr=False)


# AshEvents' canonical event fields, in its order; an event log adds its actor columns after them.
EVENT_FIELDS = (
    "id",
    "record_id",
    "version",
    "occurred_at",
    "resource",
    "action",
    "action_type",
    "metadata",
    "data",
    "changed_attributes",
)
# The fields ``encryption`` stores encrypted.
ENCRYPTED_FIELDS = ("metadata", "data", "changed_attributes")


@dataclass(frozen=True)
class EventLog:
    name: str
    table: str
    origin: Origin = field(compare=False, repr=False)
    primary_key_type: Literal["integer", "uuidv7"] = "integer"
    record_id_type: Literal["uuid", "integer", "string"] = "uuid"
    clear_records_for_replay: str = "auto"  # "auto" or "pkg.module:function"
    actors: tuple[ActorKey, ...] = ()
    advisory_lock_key_default: int | tuple[int, int] = 2147483647
    advisory_lock_key_generator: str | None = None
    encryption_key_env: str | None = None
    public_fields: Literal["all"] | tuple[str, ...] = ()
    replay_overrides: tuple[ReplayOverride, ...] = ()
    require_actor: bool = False  # every tracked action refuses actor=None, unless it says otherwise
    description: str = ""
    partitioning: Partitioning | None = None  # PostgreSQL range partitions of the event table
    personal_data: bool = False  # has personal fields: a subject column and keys (privacy.md)
    archive: bool = False  # snapshot tables, and `eventspec archive` (docs/retention.md)

    @property
    def encrypted(self) -> bool:
        return self.encryption_key_env is not None

    @property
    def module(self) -> str:
        return snake_case(self.name)

    @property
    def requires_actor(self) -> bool:
        """``require_actor``, or an actor column that cannot be null (``allow_nil: false``)."""
        return self.require_actor or any(not actor.allow_nil for actor in self.actors)

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field of an event: the canonical ones, then the actor columns."""
        return (*EVENT_FIELDS, *(actor.name for actor in self.actors))

    @property
    def public_field_names(self) -> tuple[str, ...]:
        """The fields ``public_fields`` makes public, in the order of ``fields``."""
        if self.public_fields == "all":
            return self.fields
        return tuple(name for name in self.fields if name in self.public_fields)


@dataclass(frozen=True)
class LeftOut:
    """Spec documents left out of the project because they failed their own checks (already
    reported): references to their names are not checked, so one mistake is reported once."""

    names: frozenset[str] = frozenset()
    unnamed: bool = False  # a document whose name could not be read: any name may be its

    def __contains__(self, name: object) -> bool:
        return self.unnamed or name in self.names


@dataclass(frozen=True)
class Project:
    """The whole compilation unit: the project config plus every spec it found."""

    package: str  # import path of the generated package, e.g. "accounts.data"
    root: Path  # folder of eventspec.yaml; every path below is relative to it
    output: Path
    specs: Path
    migrations: Path
    origin: Origin = field(compare=False, repr=False)
    database_url: str | None = None
    resources: tuple[Resource, ...] = ()  # sorted by name
    event_logs: tuple[EventLog, ...] = ()  # sorted by name
    embedded: tuple[Embedded, ...] = ()  # sorted by name; the specs of embedded attributes
    left_out: LeftOut = field(default_factory=LeftOut, compare=False, repr=False)

    def resource(self, name: str) -> Resource | None:
        return next((r for r in self.resources if r.name == name), None)

    def event_log(self, name: str) -> EventLog | None:
        return next((e for e in self.event_logs if e.name == name), None)

    def resources_of(self, log: EventLog) -> tuple[Resource, ...]:
        return tuple(r for r in self.resources if r.events and r.events.event_log == log.name)

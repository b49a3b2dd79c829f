"""The action engine: runs a generated action and writes its event in the same transaction.

The generated modules describe each resource and action with the definitions below and call
:func:`run_create`, :func:`run_update` and :func:`run_destroy`. Replay (``_replay.py``) drives the
same pipeline with ``replaying=True``: hooks are skipped, the recorded primary key and changed
attributes are forced, and no event is written. Bulk creates (``_bulk.py``) and replay's folded
pages (``_fold.py``) run the pipeline's first half here (:func:`prepare`) and write in batches.
The event row is built in ``_events.py``; writes that skip the unit of work are in ``_direct.py``.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import InitVar, dataclass, field, replace
from decimal import Decimal
from functools import partial
from typing import Any, Generic, Literal

from sqlalchemy import (
    Column,
    ColumnDefault,
    Connection,
    Enum,
    Table,
    and_,
    inspect,
    select,
)
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session
from typing_extensions import TypeVar

from . import _locks, _partitions, _wire
from ._actors import check_actor
from ._direct import insert_record, settle, stale_row, unobserved, update_record
from ._events import as_written, write_event
from ._locks import LockKey
from ._rules import ChangeDef, Check
from ._support import check_keys, utcnow
from ._types import (
    Array,
    Checker,
    Decoder,
    Embedded,
    EmbeddedDef,
    EmbeddedList,
    Refused,
    checker,
    decoder,
)
from .changeset import Changeset
from .errors import ValidationError

HookFn = Callable[[Changeset, Any], None]
LockKeyGenerator = Callable[[Changeset, LockKey], Any]
_ATOMIC = "eventspec.atomic"  # session.info: inside one all-or-nothing SAVEPOINT
_MISSING = object()
# A resource's model class; bare ActionDef means ActionDef[Any]. typing_extensions gives TypeVar
# defaults on Python 3.11 and is a dependency of SQLAlchemy 2.0 itself, so nothing is added.
M = TypeVar("M", default=Any)
ActorKeys = tuple[tuple[type[Any], str], ...]  # (actor class, attribute holding its key)


# --- definitions (instantiated by the generated code) --------------------------------------------


@dataclass(frozen=True, slots=True)
class Attribute:
    """What the spec says of an attribute that its mapped column does not: the spec type, and
    the constraints and flags the database does not hold. The rest (nullability, defaults, keys,
    a string's length, an enum's values, an array's item type) is read from the model's column
    (see ResourceDef)."""

    kind: str  # the spec type ("uuid", "utc_datetime_usec", "array", ...)
    sensitive: bool = False
    personal: bool = False  # sealed with the data subject's key in events (_privacy.py)
    max_length: int | None = None  # of a text; a string's is its column's length
    min_length: int | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class AttributeDef:
    """An attribute as the pipeline reads it: built once, from its Attribute and its column."""

    name: str
    kind: str
    allow_nil: bool = True
    default: Callable[[], Any] | None = None
    update_default: Callable[[], Any] | None = None
    sensitive: bool = False
    personal: bool = False
    foreign_key: bool = False
    primary_key: bool = False
    generated: bool = False  # the database assigns it (integer primary keys)
    max_length: int | None = None
    min_length: int | None = None
    min: float | None = None
    max: float | None = None
    item: str | None = None  # an array's item type
    values: tuple[str, ...] = ()  # an enum's values
    embedded: EmbeddedDef | None = None  # the spec of an embedded value (or of a list's items)
    # Derived once: the type's checker (see _types.py), and its decoder of recorded values.
    check: Checker = field(init=False, repr=False, compare=False)
    decode: Decoder | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "check", checker(self.kind, self.item, self.values, self.embedded))
        object.__setattr__(self, "decode", decoder(self.kind, self.item, self.embedded))

    @classmethod
    def of_column(cls, name: str, spec: Attribute, column: Column[Any]) -> AttributeDef:
        """``spec`` completed from ``column``, the model's mapped column of the attribute."""
        column_type = column.type
        length = getattr(column_type, "length", None) if spec.kind == "string" else None
        return cls(
            name=name,
            kind=spec.kind,
            allow_nil=bool(column.nullable),
            default=_default_function(column.default),
            update_default=_default_function(column.onupdate),
            sensitive=spec.sensitive,
            personal=spec.personal,
            foreign_key=bool(column.foreign_keys),
            primary_key=column.primary_key,
            generated=(
                column.primary_key
                and column.default is None
                and spec.kind in ("integer", "big_integer")
            ),
            max_length=spec.max_length if length is None else length,
            min_length=spec.min_length,
            min=spec.min,
            max=spec.max,
            item=(
                column_type.kind
                if isinstance(column_type, Array)
                else "embedded"
                if isinstance(column_type, EmbeddedList)
                else None
            ),
            values=tuple(column_type.enums) if isinstance(column_type, Enum) else (),
            embedded=column_type.spec if isinstance(column_type, Embedded) else None,
        )


def _default_function(default: object) -> Callable[[], Any] | None:
    """A column's Python-side default (or onupdate) as a function of no arguments: the model's
    own function (SQLAlchemy wraps one that takes no context), or one returning its value."""
    if not isinstance(default, ColumnDefault):
        return None
    if default.is_callable:
        wrapped: Callable[[], Any] | None = getattr(default.arg, "__wrapped__", None)
        return wrapped if wrapped is not None else partial(default.arg, None)
    if default.is_scalar:
        return _value_function(default.arg)
    return None


def _value_function(value: Any) -> Callable[[], Any]:
    if isinstance(value, list | dict):
        return partial(copy.deepcopy, value)  # a fresh copy for every record
    return partial(_same, value)


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class ArgumentDef:
    """An action's argument; its name is its key in ``ActionDef.arguments``. Its default is a
    value (``default``, copied for every call when it is a list or a dict) or a function of no
    arguments (``default_factory``: the current time, a new UUID)."""

    kind: str
    name: str = ""  # filled in by the ActionDef from its key
    allow_nil: bool = True
    default: Any = None
    default_factory: Callable[[], Any] | None = None
    sensitive: bool = False
    personal: bool = False
    item: str | None = None
    values: tuple[str, ...] = ()
    # A managed relationship (``_manage.Managed``): its items are checked and written by the
    # related resource's actions, and the parent's event does not record it.
    nested: Any = None
    make_default: Callable[[], Any] | None = field(init=False, repr=False, compare=False)
    check: Checker = field(init=False, repr=False, compare=False)
    decode: Decoder | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        make_default = self.default_factory
        if make_default is None and self.default is not None:
            make_default = _value_function(self.default)
        object.__setattr__(self, "make_default", make_default)
        if self.nested is not None:
            object.__setattr__(self, "check", self.nested.check)
            object.__setattr__(self, "decode", None)
            return
        object.__setattr__(self, "check", checker(self.kind, self.item, self.values))
        object.__setattr__(self, "decode", decoder(self.kind, self.item))


@dataclass(frozen=True, slots=True)
class ActorDef:
    """An actor column: filled with ``actor.<key>`` when the actor is an ``actor_class``."""

    column: str
    actor_class: type[Any]
    key: str


@dataclass(frozen=True, slots=True)
class EventLogDef:
    name: str
    model: type[Any]
    actors: tuple[ActorDef, ...] = ()
    lock_default: LockKey = 2147483647
    lock_generator: LockKeyGenerator | None = None
    encrypted: bool = False
    subject_keys: type[Any] | None = None  # the model of its data subjects' keys (_privacy.py)

    @property
    def table(self) -> Table:
        table: Table = self.model.__table__
        return table


@dataclass(frozen=True, slots=True)
class ResourceDef(Generic[M]):
    """A resource: its model and the spec of each attribute, from which it derives (once, at
    import) every attribute's definition and the primary key from the model's columns."""

    name: str
    model: type[M]
    specs: InitVar[Mapping[str, Attribute]]
    log: EventLogDef | None = None
    create_timestamp: str | None = None
    update_timestamp: str | None = None
    tenant_attribute: str | None = None
    # Whose personal data its personal fields are: "record", "actor" or "attribute" (the value
    # of ``subject_attribute``); see _privacy.py.
    data_subject: Literal["record", "actor", "attribute"] | None = None
    subject_attribute: str | None = None
    # What erasing its data subject does to a record: "null" its personal attributes, or "drop" it.
    on_erase: Literal["null", "drop"] = "null"
    attributes: Mapping[str, AttributeDef] = field(init=False)
    primary_key: str = field(init=False)
    decoders: Mapping[str, Decoder | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self, specs: Mapping[str, Attribute]) -> None:
        columns = inspect(self.model).columns
        attributes = {
            name: AttributeDef.of_column(name, spec, columns[name]) for name, spec in specs.items()
        }
        keys = [name for name, attr in attributes.items() if attr.primary_key]
        object.__setattr__(self, "attributes", attributes)
        object.__setattr__(self, "primary_key", keys[0] if len(keys) == 1 else "id")
        decoders = {name: attr.decode for name, attr in attributes.items()}
        object.__setattr__(self, "decoders", decoders)


@dataclass(frozen=True, slots=True)
class ActionDef(Generic[M]):
    resource: ResourceDef[M]
    name: str
    type: Literal["create", "update", "destroy"]
    accept: frozenset[str] = frozenset()
    arguments: Mapping[str, ArgumentDef] = field(default_factory=dict)
    changes: tuple[ChangeDef, ...] = ()
    validations: tuple[Check, ...] = ()
    tracked: bool = True
    version: int = 1
    upsert_keys: tuple[str, ...] = ()
    soft_attribute: str | None = None
    strategy: Literal["force_change", "as_arguments"] = "force_change"
    require_actor: bool = False  # refuse actor=None (see _actors.py); replay is exempt

    # Derived once (every call and replayed event reads them): the input names, their
    # checkers and their decoders; the actor types its event records (None: it writes none).
    inputs: frozenset[str] = field(init=False, repr=False, compare=False)
    checkers: Mapping[str, Checker] = field(init=False, repr=False, compare=False)
    decoders: Mapping[str, Decoder | None] = field(init=False, repr=False, compare=False)
    actor_keys: ActorKeys | None = field(init=False, repr=False, compare=False)
    # Only eventspec's own code runs before the write (no hook, no ``call``): nothing there can
    # touch the database, and its changeset need not be watched (_action_savepoint).
    own_code_only: bool = field(init=False, repr=False, compare=False)
    # Managed relationships' inputs (``_manage.py``): each nested write records its own input,
    # so the action's event does not.
    managed: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        arguments = {name: replace(arg, name=name) for name, arg in self.arguments.items()}
        object.__setattr__(self, "arguments", arguments)
        # Managed relationships come first: the parent's own changes and hooks see what they
        # wrote. Replay does not run them (see _manage.py).
        nested = [a.nested.step(n) for n, a in arguments.items() if a.nested is not None]
        managed = frozenset(n for n, a in arguments.items() if a.nested is not None)
        object.__setattr__(self, "managed", managed)
        if nested:
            object.__setattr__(self, "changes", (*nested, *self.changes))
        specs: dict[str, AttributeDef | ArgumentDef] = {
            name: self.resource.attributes[name] for name in self.accept
        }
        specs.update(arguments)
        object.__setattr__(self, "inputs", frozenset(specs))
        object.__setattr__(self, "checkers", {n: s.check for n, s in specs.items()})
        object.__setattr__(self, "decoders", {n: s.decode for n, s in specs.items()})
        log = self.resource.log
        keys = tuple((a.actor_class, a.key) for a in log.actors) if log and self.tracked else None
        object.__setattr__(self, "actor_keys", keys)
        user = any(c.runs_user_code for c in self.changes)
        user = user or any(v.runs_user_code for v in self.validations)
        object.__setattr__(self, "own_code_only", not user)

    def check_actor(self, actor: Any) -> None:
        """Raise ActorError unless ``actor`` will be recorded (see _actors.py)."""
        check_actor(self, actor)

    @property
    def writes_events(self) -> bool:
        """Tracked, and its resource has an event log (replay never writes events)."""
        return self.tracked and self.resource.log is not None


@dataclass(slots=True)
class Replaying:
    """What replay passes into the pipeline for one event."""

    record_id: Any
    changed_attributes: dict[str, Any]
    erased: bool = False  # a personal value of the event was erased (see _privacy.py)


# --- the pipeline ------------------------------------------------------------------------------


def run_create(
    session: Session,
    action: ActionDef[M],
    params: Mapping[str, Any],
    *,
    actor: Any = None,
    metadata: Mapping[str, Any] | None = None,
    tenant: Any = None,
    replaying: Replaying | None = None,
) -> M:
    resource = action.resource
    if replaying is None:
        check_actor(action, actor)
    cs = make_changeset(
        session, action, None, params, actor, metadata, tenant, replaying, changeset_class(action)
    )
    existing: M | None = None
    record: M
    wire = _wired(session, action, None, replaying)
    with secrets_kept(action, [params, cs.attributes]), _action_savepoint(cs, wire) as sends_own:
        if action.upsert_keys and replaying is not None:
            existing = session.get(resource.model, replaying.record_id)
        elif action.upsert_keys:
            _locks.take(cs, action)  # serialise upserts: the lookup below must not race
            existing = _find_by(session, resource, {k: cs.get(k) for k in action.upsert_keys})
            if existing is not None:  # the keys hold the tenant; checked all the same
                _check_tenant(resource, existing, cs.tenant, replaying)
        cs.record = existing
        prepare(cs, action, replaying, defaults="create" if existing is None else "update")
        before, after = _split_hooks(cs, action)
        _run_before(cs, action, before, existing, "create" if existing is None else "update")
        if wire is not None:  # the lock and both INSERTs straight to the driver (_wire.py)
            ts = resource.create_timestamp
            record = _wire.create(session, wire, action, cs, ts, savepoint=sends_own())
            return record
        if existing is None and _direct(session, action, None, replaying, before + after):
            record = insert_record(session, resource.model, cs.attributes)
        else:
            if existing is None:
                record = resource.model(**cs.attributes)
                session.add(record)
            else:
                record = existing
                for name, value in cs.attributes.items():
                    setattr(record, name, value)
            _flush(session, action, after)
        if replaying is None and action.writes_events:
            timestamp = resource.update_timestamp if existing else resource.create_timestamp
            write_event(cs, action, partial(getattr, record), timestamp)
        for hook in after:
            hook(cs, record)
    return record


def run_update(
    session: Session,
    action: ActionDef[M],
    record: M,
    params: Mapping[str, Any],
    *,
    actor: Any = None,
    metadata: Mapping[str, Any] | None = None,
    tenant: Any = None,
    replaying: Replaying | None = None,
) -> M:
    resource = action.resource
    if replaying is None:
        check_actor(action, actor)
    _check_tenant(resource, record, tenant, replaying)
    cs = make_changeset(
        session, action, record, params, actor, metadata, tenant, replaying, changeset_class(action)
    )
    wire = _wired(session, action, record, replaying)
    with secrets_kept(action, [params, cs.attributes]), _action_savepoint(cs, wire) as sends_own:
        prepare(cs, action, replaying, defaults="update")
        before, after = _split_hooks(cs, action)
        _run_before(cs, action, before, record, "update")
        if wire is not None:  # the lock, the UPDATE and its event straight to the driver
            _wire.update(session, wire, action, record, cs, savepoint=sends_own())
            return record
        if _direct(session, action, record, replaying, before + after):
            # A Core UPDATE; the object takes the new values once the event is written too.
            update_record(session, record, cs.attributes)
            if action.writes_events:
                value_of = as_written(cs.attributes, record)
                write_event(cs, action, value_of, resource.update_timestamp)
            settle(record, cs.attributes)
            return record
        for name, value in cs.attributes.items():
            setattr(record, name, value)
        _flush(session, action, after)
        if replaying is None and action.writes_events:
            write_event(cs, action, partial(getattr, record), resource.update_timestamp)
        for hook in after:
            hook(cs, record)
    return record


def run_destroy(
    session: Session,
    action: ActionDef[M],
    record: M,
    params: Mapping[str, Any],
    *,
    actor: Any = None,
    metadata: Mapping[str, Any] | None = None,
    tenant: Any = None,
    replaying: Replaying | None = None,
) -> M:
    resource = action.resource
    if replaying is None:
        check_actor(action, actor)
    _check_tenant(resource, record, tenant, replaying)
    cs = make_changeset(
        session, action, record, params, actor, metadata, tenant, replaying, changeset_class(action)
    )
    wire = _wired(session, action, record, replaying)
    with secrets_kept(action, [params, cs.attributes]), _action_savepoint(cs, wire) as sends_own:
        prepare(cs, action, replaying, defaults="destroy")
        before, after = _split_hooks(cs, action)
        _run_before(cs, action, before, record, "destroy")
        if wire is not None:  # the lock, the DELETE and its event straight to the driver
            _wire.destroy(session, wire, action, record, cs, savepoint=sends_own())
            return record
        if action.soft_attribute is not None:
            for name, value in cs.attributes.items():
                setattr(record, name, value)
        elif inspect(record).pending:
            session.flush()  # created earlier in a batch: it must exist to be deleted
        elif replaying is None:
            _lock_row(session, record)
        if replaying is None and action.writes_events:
            write_event(cs, action, partial(getattr, record), None)
        if action.soft_attribute is None:
            session.delete(record)
        _flush(session, action, after)
        for hook in after:
            hook(cs, record)
    return record


def _lock_row(session: Session, record: Any) -> None:
    """Lock the row a destroy deletes (PostgreSQL: ``FOR UPDATE``), or raise ``StaleDataError``
    when it is gone: the unit of work's DELETE of a missing row only warns, and the event would
    record a destroy that did not happen (two transactions destroying one record)."""
    keys = inspect(record).identity
    if keys is None:
        return  # never stored: session.delete() refuses it, as it always has
    table: Table = record.__table__
    where = [column == key for column, key in zip(table.primary_key, keys, strict=True)]
    query = select(*table.primary_key).where(*where).with_for_update()
    if session.connection().execute(query).first() is None:
        raise stale_row("DELETE", table.name, 0)


def make_changeset(
    session: Session,
    action: ActionDef,
    record: Any,
    params: Mapping[str, Any],
    actor: Any,
    metadata: Mapping[str, Any] | None,
    tenant: Any,
    replaying: Replaying | None,
    factory: type[Changeset] = Changeset,
) -> Changeset:
    log = action.resource.log
    if replaying is None and action.tracked and log is not None and log.encrypted:
        check_keys(log.table)  # a missing key fails here, before anything is written
    tenant_attribute = action.resource.tenant_attribute
    if tenant_attribute is not None and replaying is None:
        tenant = cast_tenant(action.resource, tenant)
    unknown = params.keys() - action.inputs
    if unknown:
        name = min(unknown)
        raise ValidationError(name, f"is not an input of {action.resource.name}.{action.name}")
    # Each input as its type accepts it: what the row and the event hold from here on.
    params = {name: _checked(action.checkers[name], name, v) for name, v in params.items()}
    arguments: dict[str, Any] = {}
    for arg in action.arguments.values():
        if arg.name in params:
            arguments[arg.name] = params[arg.name]
        elif arg.make_default is not None:
            arguments[arg.name] = arg.make_default()
        else:
            arguments[arg.name] = None
    attributes = {name: params[name] for name in action.accept if name in params}
    if tenant_attribute is not None and replaying is None and action.type == "create":
        attributes[tenant_attribute] = tenant  # before an upsert looks its identity up
    return factory(
        session=session,
        resource=action.resource.name,
        action=action.name,
        action_type=action.type,
        record=record,
        params=params,
        arguments=arguments,
        attributes=attributes,
        actor=actor,
        metadata=dict(metadata) if metadata else {},
        tenant=tenant,
        replaying=replaying is not None,
    )


def prepare(cs: Changeset, action: ActionDef, replay: Replaying | None, *, defaults: str) -> None:
    """Defaults, validations, changes, forced replay values, constraints: all but the write."""
    resource = action.resource
    if defaults == "create":
        for attr in resource.attributes.values():
            if attr.default is None or attr.name in cs.attributes:
                continue
            if replay is None or not attr.primary_key:  # replay sets the recorded key below
                cs.attributes[attr.name] = attr.default()
    elif defaults == "update" or action.soft_attribute is not None:
        # A soft destroy is an update of the row: update defaults apply to it too.
        if action.soft_attribute is not None:
            cs.attributes[action.soft_attribute] = _now(resource.attributes[action.soft_attribute])
        for attr in resource.attributes.values():
            if attr.update_default is not None and attr.name not in cs.attributes:
                cs.attributes[attr.name] = attr.update_default()
    if replay is not None and defaults == "create":
        cs.attributes[resource.primary_key] = replay.record_id
    # Validations judge the request against the record as it is; changes then build the write.
    # An event whose personal values were erased was valid when written: its checks are not
    # run again on what is left of it.
    for check in () if replay is not None and replay.erased else action.validations:
        _validate(cs, check)
    # Changes run on replay too (AshEvents does the same); only hooks are skipped there.
    for change in action.changes:
        if change.kind == "change" and _holds(cs, change.where):
            change.run(cs)
    if replay is not None and action.strategy == "force_change":
        for name, value in replay.changed_attributes.items():
            if name in resource.attributes and name != resource.primary_key:
                cs.attributes[name] = value
    _check_attributes(cs, action, defaults)


def _split_hooks(cs: Changeset, action: ActionDef) -> tuple[list[HookFn], list[HookFn]]:
    before: list[HookFn] = []
    after: list[HookFn] = []
    for change in action.changes:
        if change.kind == "change":
            continue
        if cs.replaying and not change.on_replay:
            continue
        if _holds(cs, change.where):
            (before if change.kind == "before_action" else after).append(change.run)
    return before, after


def _run_before(
    cs: Changeset, action: ActionDef, hooks: list[HookFn], record: Any, defaults: str
) -> None:
    """Run the before_action hooks; what they set is checked as the rest of the write was."""
    for hook in hooks:
        hook(cs, record)
    if hooks:
        _check_attributes(cs, action, defaults)


def _holds(cs: Changeset, where: tuple[Check, ...]) -> bool:
    return all(check.test(cs) is None for check in where)


def _validate(cs: Changeset, check: Check) -> None:
    if not _holds(cs, check.where):
        return
    failure = check.test(cs)
    if failure is not None:
        field_name, default_message = failure
        raise ValidationError(field_name, check.message or default_message)


def _check_attributes(cs: Changeset, action: ActionDef, defaults: str) -> None:
    for attr in action.resource.attributes.values():
        if attr.name in cs.attributes:
            value = cs.attributes[attr.name]
        elif defaults == "create":
            value = None
        else:
            continue
        if value is None:
            if not attr.allow_nil and not attr.generated:
                raise ValidationError(attr.name, "is required")
            continue
        if cs.params.get(attr.name, _MISSING) is not value:
            # Set by a default, a change or replay rather than checked as input: check it too.
            value = cs.attributes[attr.name] = _checked(attr.check, attr.name, value)
        if isinstance(value, str):
            if attr.max_length is not None and len(value) > attr.max_length:
                raise ValidationError(attr.name, f"must be at most {attr.max_length} characters")
            if attr.min_length is not None and len(value) < attr.min_length:
                raise ValidationError(attr.name, f"must be at least {attr.min_length} characters")
        elif isinstance(value, int | float | Decimal):
            if attr.min is not None and value < attr.min:
                raise ValidationError(attr.name, f"must be at least {attr.min}")
            if attr.max is not None and value > attr.max:
                raise ValidationError(attr.name, f"must be at most {attr.max}")
    for arg in action.arguments.values():
        # Plain logs store sensitive input as null; replay restores its effect from
        # changed_attributes, so a redacted required argument is not an error there.
        if cs.replaying and (arg.sensitive or arg.personal):
            continue
        if not arg.allow_nil and cs.arguments.get(arg.name) is None:
            raise ValidationError(arg.name, "is required")


def _now(attr: AttributeDef) -> Any:
    """The current time as a timestamp attribute of ``attr``'s type holds it."""
    now = utcnow()
    if attr.kind == "naive_datetime":
        return now.replace(tzinfo=None)
    return now.replace(microsecond=0) if attr.kind == "utc_datetime" else now


def _checked(check: Checker, name: str, value: Any) -> Any:
    """``value`` as its type accepts it (see _types.py); None is judged by allow_nil."""
    if value is None:
        return None
    try:
        return check(value)
    except Refused as refused:
        raise ValidationError(name + refused.path, str(refused)) from None


@contextmanager
def secrets_kept(action: ActionDef, inputs: Iterable[Mapping[str, Any]]) -> Iterator[None]:
    """Keep sensitive values out of the message of a failed statement.

    SQLAlchemy quotes a failed statement's parameters (the record's columns, the event's maps,
    before encryption) and PostgreSQL quotes a failing row's values: when the action has a
    sensitive attribute or argument, the parameters are hidden and the sensitive values of
    ``inputs`` (the action's input, the attributes it writes) are cut out of the messages, the
    database driver's own included. An event refused for want of a partition (PostgreSQL) is
    raised as :class:`MissingPartitionError`, by whichever path sent it (ORM, Core, driver).
    """
    try:
        yield
    except StatementError as error:
        sensitive = {n for n, attr in action.resource.attributes.items() if attr.sensitive}
        sensitive.update(n for n, arg in action.arguments.items() if arg.sensitive)
        if sensitive:
            error.hide_parameters = True
            secrets = {
                text
                for params in inputs
                for name, value in params.items()
                if name in sensitive and value is not None
                for text in (str(value), repr(value))
                if text
            }
            for exc in (error, error.orig):
                if exc is not None and exc.args and isinstance(exc.args[0], str):
                    message = exc.args[0]
                    for secret in sorted(secrets, key=len, reverse=True):
                        message = message.replace(secret, "[sensitive]")
                    exc.args = (message, *exc.args[1:])
        log = action.resource.log
        if log is not None:
            missing = _partitions.missing_partition(error, log.name, log.table.name)
            if missing is not None:
                raise missing from error
        raise


def _check_tenant(
    resource: ResourceDef, record: Any, tenant: Any, replaying: Replaying | None
) -> None:
    if resource.tenant_attribute is None or replaying is not None:
        return
    if getattr(record, resource.tenant_attribute) != cast_tenant(resource, tenant):
        raise ValidationError(resource.tenant_attribute, "the record belongs to another tenant")


def cast_tenant(resource: ResourceDef, tenant: Any) -> Any:
    """``tenant`` as a value of the tenant attribute's type (as Ash casts it): a UUID given as
    text is the same tenant as the UUID, on every database. The spec allows uuid, integer and
    string tenant attributes only (ES298)."""
    name = resource.tenant_attribute
    assert name is not None
    if tenant is None:
        raise ValidationError(name, "a tenant is required")
    kind = resource.attributes[name].kind
    if kind in ("uuid", "uuidv7"):
        if isinstance(tenant, uuid.UUID):
            return tenant
        try:
            return uuid.UUID(str(tenant))
        except ValueError:
            pass
    elif kind in ("integer", "big_integer"):
        if isinstance(tenant, int) and not isinstance(tenant, bool):
            return tenant
        if isinstance(tenant, str):
            try:
                return int(tenant)
            except ValueError:
                pass
    elif isinstance(tenant, str):
        return tenant
    elif isinstance(tenant, int | uuid.UUID) and not isinstance(tenant, bool):
        return str(tenant)
    raise ValidationError(name, f"the tenant is not a valid {kind}")


def _direct(
    session: Session,
    action: ActionDef,
    record: Any,
    replaying: Replaying | None,
    hooks: list[HookFn],
) -> bool:
    """Write with Core rather than a flush: when nothing could tell (no hook, no listener),
    outside replay and the batched flushes of bulk calls. An update needs its record persistent
    in ``session``."""
    if replaying is not None or hooks or session.info.get(_ATOMIC):
        return False
    if record is not None and inspect(record).session is not session:
        return False
    return unobserved(session, [action.resource.model])


def _wired(
    session: Session, action: ActionDef, record: Any, replaying: Replaying | None
) -> Connection | None:
    """The connection to send the action's writes on together (``_wire.py``), where the direct
    path would write them (its hooks are ruled out by ``_wire`` before any run)."""
    if not _direct(session, action, record, replaying, []):
        return None
    return _wire.connection_for(session, action)


def _find_by(session: Session, resource: ResourceDef, values: Mapping[str, Any]) -> Any:
    model = resource.model
    condition = and_(*(getattr(model, name) == value for name, value in values.items()))
    return session.scalars(select(model).where(condition).limit(1)).first()


# --- transactions and locks --------------------------------------------------------------------


class WatchedChangeset(Changeset):
    """A changeset that calls ``on_session`` once, the first time its session is asked for."""

    on_session: Callable[[], None] | None = None
    _bound: Session

    @property
    def session(self) -> Session:
        on_session = self.on_session
        if on_session is not None:
            self.on_session = None
            on_session()
        return self._bound

    @session.setter
    def session(self, value: Session) -> None:
        self._bound = value


def changeset_class(action: ActionDef) -> type[Changeset]:
    """A watched changeset where user code runs before a write that may go to the driver."""
    return Changeset if action.own_code_only else WatchedChangeset


class SavepointOnDemand:
    """A SAVEPOINT opened only when something needs it before the write (see
    :func:`_action_savepoint`); ``opener`` makes it (``_savepoint``, or ``atomic`` for a batch),
    entered on ``stack`` so that it closes, or rolls back, with the block around it."""

    def __init__(
        self,
        session: Session,
        stack: ExitStack,
        opener: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self.session, self.stack, self.opener = session, stack, opener
        self.opened = False

    def open(self) -> None:
        self.opened = True
        self.stack.enter_context(self.opener())

    def watch(self, cs: Changeset) -> None:
        """User code is about to run: asking ``cs`` for its session opens the SAVEPOINT."""
        if isinstance(cs, WatchedChangeset) and not self.opened:
            cs.on_session = self.open

    def unwatch(self, cs: Changeset) -> None:
        """eventspec's own use of the session from here on."""
        if isinstance(cs, WatchedChangeset):
            cs.on_session = None

    def sends_own(self) -> bool:
        """Right before the write: whether ``_wire`` is to send the SAVEPOINT itself. A change
        pending in the session opens it first (its flush belongs inside)."""
        session = self.session
        if not self.opened and (session.new or session.dirty or session.deleted):
            self.open()
        return not self.opened


@contextmanager
def on_demand(
    session: Session, opener: Callable[[], AbstractContextManager[None]]
) -> Iterator[SavepointOnDemand]:
    with ExitStack() as stack:
        yield SavepointOnDemand(session, stack, opener)


def _sends_nothing() -> bool:
    return False


@contextmanager
def _action_savepoint(cs: Changeset, wire: Connection | None) -> Iterator[Callable[[], bool]]:
    """The action's SAVEPOINT. Yields ``sends_own()``, asked right before the write: whether
    ``_wire`` is to send the SAVEPOINT itself, with the writes (on PostgreSQL one round trip).

    Without ``wire``, SQLAlchemy's SAVEPOINT is opened at once. With it, the SAVEPOINT waits:
    user code (a ``call`` change or validation) that asks the changeset for its session opens
    SQLAlchemy's SAVEPOINT there and then, before it can use the database, and so does a change
    pending in the session when the rules are done (its flush belongs inside); otherwise
    nothing before the write could have touched the database, and ``_wire`` sends it.
    """
    session = cs.session
    if wire is None:
        with _savepoint(session):
            yield _sends_nothing
        return
    with on_demand(session, partial(_savepoint, session)) as savepoint:
        savepoint.watch(cs)

        def sends_own() -> bool:
            savepoint.unwatch(cs)
            return savepoint.sends_own()

        yield sends_own


@contextmanager
def _savepoint(session: Session) -> Iterator[None]:
    """Run the block in a SAVEPOINT so that a failure leaves nothing behind.

    With the stdlib ``sqlite3`` driver a SAVEPOINT that opens a transaction commits on RELEASE;
    we start the transaction explicitly first so the caller's rollback still undoes the action.
    """
    if session.info.get(_ATOMIC):
        # An enclosing bulk action or replay rolls back as a whole; one SAVEPOINT is enough.
        yield
        return
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        if driver is not None and not driver.in_transaction:
            connection.exec_driver_sql("BEGIN")
    with session.begin_nested():
        savepoint = session.connection().get_nested_transaction()  # SAVEPOINT is emitted here
        yield
    if savepoint is not None:  # released: its locks are now held by the transaction around it
        _locks.released(session, connection, savepoint)


@contextmanager
def atomic(session: Session, *, flush_each: bool = False) -> Iterator[None]:
    """One SAVEPOINT around many actions (bulk variants, replay): all are written, or none.

    Inside it, records are flushed in batches (the ORM then groups INSERTs) unless
    ``flush_each``, or an action needs its row at once: a database-generated key, or hooks.
    """
    mode = "each" if flush_each else "batch"
    if session.info.get(_ATOMIC):
        previous = session.info[_ATOMIC]
        session.info[_ATOMIC] = mode if flush_each else previous
        try:
            yield
        finally:
            session.info[_ATOMIC] = previous
        return
    with _savepoint(session):
        session.info[_ATOMIC] = mode
        try:
            yield
        finally:
            session.info.pop(_ATOMIC, None)


def _flush(session: Session, action: ActionDef, hooks: list[HookFn]) -> None:
    """Write the record now, unless an enclosing bulk call or replay flushes in batches."""
    if session.info.get(_ATOMIC) != "batch" or hooks:
        session.flush()
    elif (
        action.type == "create"
        and action.resource.attributes[action.resource.primary_key].generated
    ):
        session.flush()  # the event needs the key the database assigns

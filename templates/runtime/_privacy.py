"""Personal data and crypto-shredding: a key per data subject, and erasing it.

A resource's ``personal`` attributes and arguments are recorded in its events sealed with the key
of the record's data subject (``data_subject`` in the spec): each value becomes an envelope
``{"$erasable": "<base64 of NONCE | AES-256-GCM(JSON value)>"}`` authenticated with the subject as
associated data, and the event's ``subject`` column names whose key sealed it. The maps stay
encrypted by the log's master key as every encrypted map is. Subject keys are 32 random bytes,
stored in ``<events>_subject_keys`` wrapped by the master key (so ``rotate-keys`` only rewraps
them). :func:`erase` drops the wrapped key: every envelope of the subject becomes unreadable for
good, in every copy of the events, while the events themselves stay.

Readers see an erased value as :data:`ERASED`; replay sees None, and skips the validations of an
event whose values were erased (they held when it was written).
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from ._support import EncryptedJSON, Keyring, to_json, utcnow
from .errors import ConfigurationError, ValidationError

if TYPE_CHECKING:
    from ._engine import ActionDef, EventLogDef, ResourceDef
    from .changeset import Changeset

SEALED: Final = "$erasable"
ERASE_RESOURCE: Final = "DataSubject"  # the erase event's resource, action and action type
ERASE_ACTION: Final = "erase"
_NONCE = 12


class Erased(str):
    """What a reader sees in place of an erased personal value: :data:`ERASED`, the text
    ``"<erased>"``, so that decoded maps stay JSON (an outbox can publish them as they are);
    tell it from a value with ``value is ERASED``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<erased>"


ERASED: Final = Erased("<erased>")


class SubjectErased(ValidationError):
    """The data subject was erased: no personal value of it can be written any more."""


class UnknownSubject(ValidationError):
    """No personal value of the subject was ever recorded: there is nothing to erase."""


def keyring(log: EventLogDef) -> Keyring:
    """The master keys of ``log`` (those of its encrypted maps)."""
    return keyring_of(log.table)


def keyring_of(events: Table) -> Keyring:
    column_type = events.c.data.type
    if not isinstance(column_type, EncryptedJSON):  # pragma: no cover - the spec forbids it
        raise ConfigurationError(f"{events.name} holds personal data but is not encrypted")
    return column_type.keyring


def keys_table(log: EventLogDef) -> Table:
    return keys_table_of(log.table)


def keys_table_of(events: Table) -> Table:
    """The subject keys of the event table ``events`` (``<table>_subject_keys``)."""
    return events.metadata.tables[f"{events.name}_subject_keys"]


def holds_personal_data(events: Table) -> bool:
    return "subject" in events.c and f"{events.name}_subject_keys" in events.metadata.tables


# --- sealing ----------------------------------------------------------------------------------


def seal(key: bytes, subject: str, value: Any) -> dict[str, str]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_bytes(_NONCE)
    plaintext = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    sealed = nonce + AESGCM(key).encrypt(nonce, plaintext, subject.encode())
    return {SEALED: base64.b64encode(sealed).decode("ascii")}


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and SEALED in value


def unseal(key: bytes, subject: str, value: Mapping[str, str]) -> Any:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    blob = base64.b64decode(value[SEALED])
    try:
        plaintext = AESGCM(key).decrypt(blob[:_NONCE], blob[_NONCE:], subject.encode())
    except InvalidTag:
        raise ConfigurationError(
            f"a personal value of subject {subject!r} does not authenticate with its key: it "
            "was altered, or moved from another subject's event"
        ) from None
    return json.loads(plaintext)


@dataclass
class SubjectKeys:
    """The subject keys of one log, read through one connection (and remembered while it is
    used: one replay, one listing). ``None`` is the key of an erased or unknown subject."""

    events: Table  # the log's event table
    connection: Connection | Session
    known: dict[str, bytes | None] = field(default_factory=dict)

    def get(self, subject: str) -> bytes | None:
        if subject not in self.known:
            table = keys_table_of(self.events)
            query = select(table.c.wrapped_key).where(table.c.subject == subject)
            wrapped = self.connection.execute(query).scalar()
            unwrapped = None if wrapped is None else keyring_of(self.events).decrypt(wrapped)
            self.known[subject] = unwrapped
        return self.known[subject]

    def reveal(self, subject: str | None, values: Mapping[str, Any], erased: Any) -> dict[str, Any]:
        """``values`` with each sealed value opened, or ``erased`` when its key is gone."""
        out = dict(values)
        for name, value in values.items():
            if is_sealed(value):
                key = None if subject is None else self.get(subject)
                out[name] = (
                    erased if key is None or subject is None else unseal(key, subject, value)
                )
        return out


def key_for_snapshot(connection: Connection, events: Table, subject: str) -> bytes | None:
    """The subject's key for sealing a snapshot row (made when the subject has none yet: its
    record's subject attribute changed without a personal value); None when it was erased."""
    table, ring = keys_table_of(events), keyring_of(events)
    query = select(table.c.wrapped_key, table.c.erased_at).where(table.c.subject == subject)
    row = _key_row(connection, table, ring, subject, query)
    return None if row.wrapped_key is None else ring.decrypt(bytes(row.wrapped_key))


def _unwrap(log: EventLogDef, wrapped: bytes) -> bytes:
    return keyring(log).decrypt(bytes(wrapped))


def key_for_write(session: Session, log: EventLogDef, subject: str, field_name: str) -> bytes:
    """The subject's key, made (and stored wrapped) on first use, inside the action's SAVEPOINT:
    a failed action leaves no key behind. Refused when the subject was erased.

    On PostgreSQL the key row is read FOR KEY SHARE: an erase (FOR UPDATE) waits until this
    transaction ends, and a write after an erase waits for it and sees it, so no personal value
    is written to a record while its subject is being erased.
    """
    table = keys_table(log)
    query = select(table.c.wrapped_key, table.c.erased_at).where(table.c.subject == subject)
    query = query.with_for_update(key_share=True)  # SQLite: nothing (writers are serial)
    row = _key_row(session.connection(), table, keyring(log), subject, query)
    if row.wrapped_key is None:
        raise SubjectErased(
            field_name, f"data subject {subject} was erased; its personal data cannot be recorded"
        )
    return _unwrap(log, row.wrapped_key)


def _key_row(
    connection: Connection, table: Table, ring: Keyring, subject: str, query: Select[Any]
) -> Any:
    """The subject's key row as ``query`` reads it, made first when there is none: a new key,
    wrapped by ``ring``, inserted unless a concurrent first write made one (then its key)."""
    row = connection.execute(query).first()
    if row is None:
        values = {
            "subject": subject,
            "wrapped_key": ring.encrypt(secrets.token_bytes(32)),
            "created_at": utcnow(),
        }
        connection.execute(_insert_new(connection, table).values(values))
        row = connection.execute(query).first()
        assert row is not None
    return row


def _insert_new(connection: Connection, table: Table) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING: a concurrent first write of the subject wins."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=["subject"])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing(index_elements=["subject"])


def seal_row(cs: Changeset, action: ActionDef, value_of: Any, row: dict[str, Any]) -> None:
    """Seal the personal values of an event row (``_events.event_row``) with its subject's key."""
    resource = action.resource
    personal_data = [
        name
        for name, value in row["data"].items()
        if value is not None and _is_personal_input(action, name)
    ]
    personal_changes = [
        name
        for name, value in row["changed_attributes"].items()
        if value is not None and name in resource.attributes and resource.attributes[name].personal
    ]
    row["subject"] = None
    if not personal_data and not personal_changes:
        return
    subject, field_name = subject_of(cs, action, value_of)
    log = resource.log
    assert log is not None
    key = key_for_write(cs.session, log, subject, field_name)
    for name in personal_data:
        row["data"][name] = seal(key, subject, row["data"][name])
    for name in personal_changes:
        row["changed_attributes"][name] = seal(key, subject, row["changed_attributes"][name])
    row["subject"] = subject


def _is_personal_input(action: ActionDef, name: str) -> bool:
    if name in action.accept:
        return action.resource.attributes[name].personal
    argument = action.arguments.get(name)
    return argument is not None and argument.personal


def subject_of(cs: Changeset, action: ActionDef, value_of: Any) -> tuple[str, str]:
    """The subject whose key seals the action's personal values, and the field naming it."""
    resource = action.resource
    kind = resource.data_subject
    if kind == "actor":
        log = resource.log
        assert log is not None
        for actor in log.actors:
            if isinstance(cs.actor, actor.actor_class):
                key = getattr(cs.actor, actor.key)
                if key is not None:
                    return str(to_json(key)), "actor"
        raise ConfigurationError(
            f"{resource.name}.{action.name} records personal data of its actor, but no actor "
            "with a key was given: pass actor="
        )
    name = resource.primary_key if kind == "record" else resource.subject_attribute
    assert name is not None
    value = value_of(name)
    if value is None:
        raise ValidationError(
            name, "is required: it names the data subject of the personal values recorded"
        )
    return str(to_json(value)), name


# --- reading ----------------------------------------------------------------------------------

_MAPS = ("data", "changed_attributes")


def reveal_rows(
    keys: SubjectKeys, rows: Iterable[dict[str, Any]], erased: Any = ERASED
) -> list[dict[str, Any]]:
    """Event rows (dicts with ``subject`` and the maps) with personal values opened."""
    out = []
    for row in rows:
        subject = row.get("subject")
        for name in _MAPS:
            if isinstance(row.get(name), dict):
                row[name] = keys.reveal(subject, row[name], erased)
        out.append(row)
    return out


@dataclass(slots=True)
class RevealedEvent:
    """An event as replay reads it once its personal values are opened (see ``_replay``)."""

    id: Any
    resource: str
    action: str
    action_type: str
    version: int
    record_id: Any
    data: dict[str, Any]
    changed_attributes: dict[str, Any]
    erased: bool = False


def reveal_page(keys: SubjectKeys, page: Sequence[Any]) -> Sequence[Any]:
    """A page of replay's events with personal values opened; erased ones are None, and the
    event is marked ``erased`` (replay then skips its validations)."""
    out: list[Any] = []
    for event in page:
        subject = event.subject
        if subject is None:
            out.append(event)
            continue
        marker = object()
        data = keys.reveal(subject, event.data or {}, marker)
        changed = keys.reveal(subject, event.changed_attributes or {}, marker)
        erased = any(v is marker for v in (*data.values(), *changed.values()))
        if erased:
            data = {k: None if v is marker else v for k, v in data.items()}
            changed = {k: None if v is marker else v for k, v in changed.items()}
        out.append(
            RevealedEvent(
                event.id,
                event.resource,
                event.action,
                event.action_type,
                event.version,
                event.record_id,
                data,
                changed,
                erased,
            )
        )
    return out


# --- erasing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErasedSubject:
    """What :func:`erase` did: the subject, when, and how many records of each resource it
    cleared (resources with none left out)."""

    subject: str
    erased_at: Any
    records: Mapping[str, int]
    # The keys of the records deleted, per resource with ``on_erase: drop`` (those with some).
    dropped: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)


def erase(
    session: Session,
    log: EventLogDef,
    resources: Sequence[ResourceDef],
    subject: Any,
    *,
    actor: Any = None,
    reason: str,
    erased_by: str | None = None,
) -> ErasedSubject:
    """Erase ``subject``: drop its key, null the personal attributes of its records and write
    the erase event, in one SAVEPOINT of the caller's transaction (nothing changes on error).

    After the commit, run :func:`purge` so that no old copy of the bytes stays in the database
    files (SQLite's WAL; PostgreSQL's dead row versions, until VACUUM). ``erased_by`` names
    who asked when there is no actor object (the command line's ``--by``).
    """
    subject = str(to_json(subject))
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("reason", "is required: say why the subject is erased")
    table = keys_table(log)
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        driver = connection.connection.driver_connection
        if driver is not None and not driver.in_transaction:
            connection.exec_driver_sql("BEGIN")
        secure = connection.exec_driver_sql("PRAGMA secure_delete").scalar()
        connection.exec_driver_sql("PRAGMA secure_delete = ON")  # freed bytes are zeroed
    try:
        with session.begin_nested():
            return _erase(session, log, resources, table, subject, actor, reason, erased_by)
    finally:
        if sqlite:
            connection.exec_driver_sql(f"PRAGMA secure_delete = {int(secure or 0)}")


def _erase(
    session: Session,
    log: EventLogDef,
    resources: Sequence[ResourceDef],
    table: Table,
    subject: str,
    actor: Any,
    reason: str,
    erased_by: str | None,
) -> ErasedSubject:
    connection = session.connection()
    query = select(table.c.wrapped_key, table.c.erased_at).where(table.c.subject == subject)
    row = connection.execute(query.with_for_update()).first()
    if row is None:
        raise UnknownSubject(
            "subject", f"{subject!r} is not a data subject of {log.name}: nothing to erase"
        )
    if row.wrapped_key is None:
        raise SubjectErased("subject", f"{subject!r} was already erased at {row.erased_at}")
    now = utcnow()
    actor_key = _actor_key(log, actor)
    metadata: dict[str, Any] = {"reason": reason}
    if actor_key is not None:
        erased_by = str(to_json(actor_key[1]))
    elif erased_by is not None:
        metadata["by"] = erased_by  # no actor column holds it
    connection.execute(
        update(table)
        .where(table.c.subject == subject)
        .values(
            wrapped_key=None,
            erased_at=now,
            erased_by=erased_by,
            reason=reason,
        )
    )
    events = log.table
    counts: dict[str, int] = {}
    dropping: dict[str, tuple[ResourceDef, list[Any]]] = {}
    for resource in resources:
        personal = [n for n, a in resource.attributes.items() if a.personal]
        if not personal:
            continue
        model_table: Table = resource.model.__table__
        key = model_table.c[resource.primary_key]
        ids = (
            select(events.c.record_id)
            .where(events.c.subject == subject, events.c.resource == resource.name)
            .distinct()
        )
        theirs: ColumnElement[bool] = key.in_(ids)
        named = _named_by(resource, subject)  # its events may name no subject: none personal
        if named is not None:
            theirs = or_(theirs, model_table.c[named[0]] == named[1])
        archived = archived_records(connection, events, resource, subject)
        if archived:
            theirs = or_(theirs, key.in_(archived))
        if resource.on_erase == "drop":
            found = connection.execute(select(key).where(theirs).order_by(key)).scalars().all()
            if found:
                dropping[resource.name] = (resource, list(found))
            continue
        result = connection.execute(
            update(model_table).where(theirs).values({n: None for n in personal})
        )
        if result.rowcount:
            counts[resource.name] = result.rowcount
        for instance in list(session.identity_map.values()):
            if isinstance(instance, resource.model):
                session.expire(instance, personal)
    dropped = _drop(session, dropping)
    _lock(connection, log)
    event: dict[str, Any] = {
        "record_id": _record_id(events, subject),
        "version": 1,
        "occurred_at": now,
        "resource": ERASE_RESOURCE,
        "action": ERASE_ACTION,
        "action_type": ERASE_ACTION,
        "data": {"records": dict(sorted(counts.items()))},
        "metadata": metadata,
        "changed_attributes": {},
        "subject": subject,
    }
    if dropped:  # what replay deletes when it meets this event (drop_erased)
        event["data"]["dropped"] = {name: to_json(list(ids)) for name, ids in dropped.items()}
    if actor_key is not None:
        event[actor_key[0]] = actor_key[1]
    connection.execute(insert(events).values(event))
    return ErasedSubject(subject, now, counts, dropped)


def _named_by(resource: ResourceDef, subject: str) -> tuple[str, Any] | None:
    """The attribute naming the subject on the resource's records (``data_subject: record``:
    the primary key; ``{attribute: ...}``: that attribute) and the subject as its value; None
    for ``actor``, or when the subject cannot be such a value."""
    name = resource.primary_key if resource.data_subject == "record" else resource.subject_attribute
    if name is None or resource.data_subject == "actor":
        return None
    attribute = resource.attributes[name]
    try:
        if attribute.kind in ("integer", "big_integer"):
            return name, int(subject)
        return name, subject if attribute.decode is None else attribute.decode(subject)
    except (TypeError, ValueError):
        return None  # "abc" is no integer key: no record of this resource is the subject's


def _drop(
    session: Session, dropping: Mapping[str, tuple[ResourceDef, list[Any]]]
) -> dict[str, tuple[Any, ...]]:
    """Delete the records of ``on_erase: drop`` resources, children first; refused, changing
    nothing, while a record that stays references one of them."""
    if not dropping:
        return {}
    connection = session.connection()
    tables = {resource.model.__table__: ids for resource, ids in dropping.values()}
    some = next(iter(dropping.values()))[0].model
    names = {mapper.local_table: mapper.class_.__name__ for mapper in some.registry.mappers}
    for table, ids in tables.items():
        for referencing in table.metadata.tables.values():
            for fk in referencing.foreign_key_constraints:
                if fk.referred_table is not table:
                    continue
                column = fk.columns[0]
                values = _referred(connection, table, fk.elements[0].column, ids)
                query = select(func.count()).select_from(referencing).where(column.in_(values))
                if referencing in tables:  # those dropped too do not count
                    query = query.where(_key(referencing).not_in(tables[referencing]))
                if connection.execute(query).scalar():
                    holder = names.get(referencing, referencing.name)
                    raise ValidationError(
                        "subject",
                        f"erasing drops records of {names.get(table, table.name)} (on_erase: "
                        f"drop), but records of {holder} ({referencing.name}.{column.name}) "
                        "still reference them: nothing was erased; delete those records or "
                        "clear their reference first",
                    )
    _delete(session, tables)
    _evict(session, list(dropping.values()))
    return {name: tuple(ids) for name, (_, ids) in sorted(dropping.items())}


def _referred(connection: Connection, table: Table, target: Any, ids: list[Any]) -> list[Any]:
    """The values of ``target`` (the column a foreign key refers to) of the records ``ids``."""
    key = _key(table)
    if target is key:
        return ids
    return list(connection.execute(select(target).where(key.in_(ids))).scalars())


def _evict(session: Session, dropped: Iterable[tuple[ResourceDef, Sequence[Any]]]) -> None:
    """Forget the deleted records' objects: the session would otherwise still hand them out."""
    for resource, ids in dropped:
        for record_id in ids:
            instance = session.identity_map.get(session.identity_key(resource.model, record_id))
            if instance is not None:
                session.expunge(instance)


def drop_erased(session: Session, event: Any, resources: Mapping[str, ResourceDef]) -> None:
    """Replay of an erase event: delete the records the erase dropped (its ``dropped`` map),
    children first, so that replay rebuilds the state the erase left."""
    dropped = (event.data or {}).get("dropped") or {}
    found = []
    for name, raw in dropped.items():
        resource = resources.get(name)
        if resource is None:
            continue  # not a resource of this replay
        decode = resource.decoders.get(resource.primary_key)
        found.append((resource, [v if decode is None else decode(v) for v in raw]))
    if not found:
        return
    session.flush()
    _delete(session, {resource.model.__table__: ids for resource, ids in found})
    _evict(session, found)


def _key(table: Table) -> Any:
    return next(iter(table.primary_key.columns))


def _delete(session: Session, tables: Mapping[Table, Sequence[Any]]) -> None:
    """Delete the records ``tables`` names, children first."""
    for table in reversed(next(iter(tables)).metadata.sorted_tables):
        if table in tables:
            session.execute(table.delete().where(_key(table).in_(tables[table])))


def archived_records(
    connection: Connection, events: Table, resource: ResourceDef, subject: str
) -> list[Any]:
    """The keys of ``resource``'s records that snapshot rows give to ``subject``: those whose
    events were archived (their rows' personal values are sealed; the key's loss erases them)."""
    rows = events.metadata.tables.get(f"{events.name}_snapshot_rows")
    if rows is None or "subject" not in rows.c:
        return []
    name = resource.primary_key
    decode = resource.decoders.get(name)
    query = select(rows.c.row).where(
        rows.c.subject == subject, rows.c.table_name == resource.model.__table__.name
    )
    found = {raw[name] for raw in connection.execute(query).scalars()}
    return [value if decode is None else decode(value) for value in sorted(found, key=str)]


def _actor_key(log: EventLogDef, actor: Any) -> tuple[str, Any] | None:
    for definition in log.actors:
        if isinstance(actor, definition.actor_class):
            return definition.column, getattr(actor, definition.key)
    if actor is not None:
        raise ValidationError(
            None, f"the actor, a {type(actor).__name__}, is none of {log.name}'s actor types"
        )
    return None


def _record_id(events: Table, subject: str) -> Any:
    """The erase event's record_id: the subject, in the type of the log's record ids."""
    import uuid

    python_type = events.c.record_id.type.python_type
    try:
        return python_type(subject)
    except (TypeError, ValueError):
        if python_type is uuid.UUID:
            return uuid.uuid5(uuid.NAMESPACE_URL, "eventspec:subject:" + subject)
        return 0


def _lock(connection: Connection, log: EventLogDef) -> None:
    """The advisory lock that keeps event ids in commit order (``_locks``), on PostgreSQL."""
    if connection.dialect.name != "postgresql":
        return
    key = log.lock_default
    if isinstance(key, int):
        connection.execute(text("SELECT pg_advisory_xact_lock(:a)"), {"a": key})
    else:
        connection.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": key[0], "b": key[1]})


def purge(connection: Connection, tables: Sequence[str]) -> None:
    """After an erase is committed: SQLite checkpoints and truncates its WAL (the old pages are
    overwritten in the database file); PostgreSQL VACUUMs ``tables`` (the names of the keys
    table and the records tables), removing dead row versions that still hold the bytes.
    ``connection`` must not be in a transaction (VACUUM cannot run in one)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    if connection.dialect.name == "postgresql":
        auto = connection.execution_options(isolation_level="AUTOCOMMIT")
        for table in tables:
            quoted = auto.dialect.identifier_preparer.quote(table)
            auto.exec_driver_sql(f"VACUUM {quoted}")


def rewrap(session: Session, log: EventLogDef) -> int:
    """Rewrap every live subject key with the current master key; the number rewrapped."""
    table = keys_table(log)
    ring = keyring(log)
    count = 0
    rows = session.execute(
        select(table.c.subject, table.c.wrapped_key).where(table.c.wrapped_key.is_not(None))
    ).all()
    for subject, wrapped in rows:
        fresh = ring.reencrypt(bytes(wrapped))
        if fresh is not None:
            session.execute(
                update(table).where(table.c.subject == subject).values(wrapped_key=fresh)
            )
            count += 1
    return count


def count_subjects(session: Session, log: EventLogDef) -> int:
    table = keys_table(log)
    return session.scalar(select(func.count()).select_from(table)) or 0

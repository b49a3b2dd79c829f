"""State snapshots of an archived event log: the tracked tables as of one event, stored in the
log's ``<events>_snapshots`` / ``<events>_snapshot_rows`` tables, where replay starts from.

A row is stored as JSON, each attribute encoded as events encode it (``_support.to_json``) and
decoded with the attribute's own decoder, so every type comes back exactly. Only a snapshot whose
events were archived (``archived_at`` set) is used by replay: the events after it are replayed on
top of it, and a cut before it is refused, since its events are no longer in the log.

On a log holding personal data (docs/privacy.md) a row's personal values are stored sealed with
its data subject's key, the same envelope as in events, and the row's ``subject`` column names
the subject: erasing the subject destroys the key, so the row reads back with them null, and the
stored bytes (and the checksum over them) never change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, insert, null, select, update
from sqlalchemy.orm import Session

from ._engine import ResourceDef
from ._fold import decode_attributes
from ._privacy import ERASE_ACTION, SubjectKeys, is_sealed, key_for_snapshot, seal
from ._support import to_json, utcnow
from .errors import ArchiveError, ReplayError


@dataclass(frozen=True, slots=True)
class SnapshotTables:
    """The snapshot tables of one log, and the resources whose tables a snapshot holds."""

    log: str
    headers: Table
    rows: Table
    resources: tuple[ResourceDef[Any], ...]

    def resource(self, table_name: str) -> ResourceDef[Any]:
        for resource in self.resources:
            if resource.model.__table__.name == table_name:
                return resource
        raise ArchiveError(f"a snapshot of {self.log} holds rows of {table_name}, not tracked")

    def decoders(self) -> dict[str, ResourceDef[Any]]:
        """The resource of each tracked table, by table name."""
        return {resource.model.__table__.name: resource for resource in self.resources}

    def tables(self) -> list[Table]:
        """The tracked tables, parents first (the order rows are stored and loaded in)."""
        names = {resource.model.__table__.name for resource in self.resources}
        return [t for t in self.headers.metadata.sorted_tables if t.name in names]

    def events(self) -> Table | None:
        """The log's event table when the rows seal personal values (they have a ``subject``)."""
        if "subject" not in self.rows.c:
            return None
        return next((r.log.table for r in self.resources if r.log is not None), None)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One snapshot's header."""

    id: int
    last_event_id: Any
    last_occurred_at: dt.datetime
    event_count: int
    row_count: int
    checksum: str
    archived_at: dt.datetime | None
    archive: str | None


def _of(row: Any) -> Snapshot:
    return Snapshot(
        row.id,
        row.last_event_id,
        row.last_occurred_at,
        row.event_count,
        row.row_count,
        row.checksum,
        row.archived_at,
        row.archive,
    )


def boundary(reader: Session | Connection, snapshots: SnapshotTables) -> Snapshot | None:
    """The latest snapshot whose events were archived: replay starts there."""
    headers = snapshots.headers
    row = reader.execute(
        select(headers)
        .where(headers.c.archived_at.is_not(None))
        .order_by(headers.c.last_event_id.desc())
        .limit(1)
    ).first()
    return None if row is None else _of(row)


def start(
    reader: Session | Connection,
    snapshots: SnapshotTables,
    last_event_id: Any,
    point_in_time: dt.datetime | None,
) -> Snapshot | None:
    """The snapshot a replay up to the cut starts from; ``ReplayError`` when the cut is before
    it (its events were archived: only a replay from the archive can go there)."""
    found = boundary(reader, snapshots)
    if found is None:
        return None
    if last_event_id is not None:
        early = last_event_id < found.last_event_id
    elif point_in_time is not None:
        early = point_in_time < found.last_occurred_at
    else:
        early = False
    if early:
        where = f" to {found.archive}" if found.archive else ""
        when = found.archived_at.isoformat() if found.archived_at else "?"
        detail = (
            f"the events of {snapshots.log} up to event {found.last_event_id} (occurred up to "
            f"{found.last_occurred_at.isoformat()}) were archived{where} on {when}: a replay "
            "can only stop after them; replay from the archive files instead "
            "(eventspec replay --from-archive FILE ...)"
        )
        raise ReplayError(None, f"{snapshots.log} snapshot", LookupError(detail), detail=detail)
    return found


def load(
    session: Session, reader: Session | Connection, snapshots: SnapshotTables, snapshot: Snapshot
) -> int:
    """Insert the rows of ``snapshot`` (read through ``reader``) into the tracked tables."""
    rows = snapshots.rows
    tables = {table.name: table for table in snapshots.tables()}
    written = 0
    batch: list[dict[str, Any]] = []
    current: str | None = None
    events = snapshots.events()
    # Sealed personal values open with their subject's key; an erased subject's read as null.
    keys = None if events is None else SubjectKeys(events, reader)
    subject = rows.c.subject if keys is not None else null()
    query = (
        select(rows.c.table_name, rows.c.row, subject)
        .where(rows.c.snapshot_id == snapshot.id)
        .order_by(rows.c.position)
        .execution_options(yield_per=1000)
    )
    resources = snapshots.decoders()
    for name, raw, owner in reader.execute(query):
        if name != current or len(batch) >= 1000:
            if batch and current is not None:
                session.execute(insert(tables[current]), batch)
            batch, current = [], name
        resource = resources.get(name) or snapshots.resource(name)
        if keys is not None:
            raw = keys.reveal(owner, raw, None)
        batch.append(decode_attributes(resource, raw))
        written += 1
    if batch and current is not None:
        session.execute(insert(tables[current]), batch)
    if written != snapshot.row_count:
        raise ReplayError(
            None,
            f"{snapshots.log} snapshot",
            LookupError("rows missing"),
            detail=f"snapshot {snapshot.id} of {snapshots.log} holds {written} rows, its header "
            f"says {snapshot.row_count}: it was altered",
        )
    return written


def canonical(snapshots: SnapshotTables, table_name: str, raw: Mapping[str, Any]) -> bytes:
    """A row as the checksum reads it: decoded and encoded again, so that what the database
    normalises (a JSONB number, key order) does not count, and every value does. A sealed
    personal value counts as stored."""
    plain = {name: value for name, value in raw.items() if not is_sealed(value)}
    row = to_json(decode_attributes(snapshots.resource(table_name), plain))
    row.update({name: value for name, value in raw.items() if is_sealed(value)})
    return json.dumps([table_name, row], sort_keys=True, separators=(",", ":")).encode() + b"\n"


def state_rows(engine: Engine, snapshots: SnapshotTables) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every row of the tracked tables of ``engine``, parents first, encoded for storage."""
    with engine.connect() as connection:
        for table in snapshots.tables():
            key = list(table.primary_key.columns)
            query = select(table).order_by(*key).execution_options(yield_per=1000)
            for row in connection.execute(query):
                yield table.name, {name: to_json(value) for name, value in row._asdict().items()}


def write(
    engine: Engine,
    snapshots: SnapshotTables,
    state: Iterable[tuple[str, dict[str, Any]]],
    *,
    last_event_id: Any,
    last_occurred_at: dt.datetime,
    event_count: int,
) -> Snapshot:
    """Store a snapshot (not yet archived: replay does not use it) and check it by reading it
    back: its row count and checksum."""
    headers, rows = snapshots.headers, snapshots.rows
    digest = hashlib.sha256()
    count = 0
    with engine.begin() as connection:
        snapshot_id = connection.execute(
            insert(headers).returning(headers.c.id),
            {
                "last_event_id": last_event_id,
                "last_occurred_at": last_occurred_at,
                "event_count": event_count,
                "row_count": 0,
                "checksum": "",
                "taken_at": utcnow(),
            },
        ).scalar_one()
        batch: list[dict[str, Any]] = []
        events = snapshots.events()
        sealer = None if events is None else _Sealer(connection, snapshots, events, last_event_id)
        for name, row in state:
            item: dict[str, Any] = {"snapshot_id": snapshot_id, "position": count}
            if sealer is not None:
                row, item["subject"] = sealer.seal(snapshots.resource(name), row)
            digest.update(canonical(snapshots, name, row))
            batch.append({**item, "table_name": name, "row": row})
            count += 1
            if len(batch) >= 1000:
                connection.execute(insert(rows), batch)
                batch = []
        if batch:
            connection.execute(insert(rows), batch)
        connection.execute(
            update(headers)
            .where(headers.c.id == snapshot_id)
            .values(row_count=count, checksum=digest.hexdigest())
        )
    stored = read(engine, snapshots, snapshot_id)
    check(engine, snapshots, stored)
    return stored


class _Sealer:
    """Seals the personal values of the rows of a snapshot being written, through the live
    database's connection (the subject keys, and the events naming the subjects)."""

    def __init__(
        self, connection: Connection, snapshots: SnapshotTables, events: Table, last_event_id: Any
    ) -> None:
        self.connection = connection
        self.snapshots = snapshots
        self.events = events
        self.last_event_id = last_event_id
        self.keys: dict[str, bytes | None] = {}
        self.latest: dict[str, dict[str, str]] = {}

    def seal(self, resource: ResourceDef[Any], row: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        """The row with its non-null personal values sealed (null when the subject was erased),
        and its subject."""
        personal = [n for n, a in resource.attributes.items() if a.personal and n in row]
        if not personal or resource.data_subject is None:
            return row, None
        subject = self.subject(resource, row)
        present = [name for name in personal if row[name] is not None]
        if not present:
            return row, subject
        if subject is None:
            raise ArchiveError(
                f"{resource.name} {row[resource.primary_key]} holds personal values but no "
                "event names its data subject: its snapshot row cannot be sealed"
            )
        if subject not in self.keys:
            self.keys[subject] = key_for_snapshot(self.connection, self.events, subject)
        key = self.keys[subject]
        sealed = dict(row)
        for name in present:
            sealed[name] = None if key is None else seal(key, subject, row[name])
        return sealed, subject

    def subject(self, resource: ResourceDef[Any], row: Mapping[str, Any]) -> str | None:
        """``record``: the key; ``{attribute: x}``: x; ``actor`` (or an x that is null): the
        subject of the latest event of the record that has one."""
        kind = resource.data_subject
        name = resource.primary_key if kind == "record" else resource.subject_attribute
        value = row.get(name) if name is not None and kind != "actor" else None
        if value is not None:
            return str(value)
        return self._latest(resource).get(str(row[resource.primary_key]))

    def _latest(self, resource: ResourceDef[Any]) -> dict[str, str]:
        if resource.name in self.latest:
            return self.latest[resource.name]
        found: dict[str, str] = {}
        table = resource.model.__table__.name
        previous = boundary(self.connection, self.snapshots)
        if previous is not None:  # records whose events an earlier archive moved out
            rows = self.snapshots.rows
            query = select(rows.c.row, rows.c.subject).where(
                rows.c.snapshot_id == previous.id,
                rows.c.table_name == table,
                rows.c.subject.is_not(None),
            )
            for raw, subject in self.connection.execute(query):
                found[str(raw[resource.primary_key])] = subject
        events = self.events
        query = (
            select(events.c.record_id, events.c.subject)
            .where(
                events.c.resource == resource.name,
                events.c.action_type != ERASE_ACTION,
                events.c.subject.is_not(None),
                events.c.id <= self.last_event_id,
            )
            .order_by(events.c.id)
        )
        for record_id, subject in self.connection.execute(query):
            found[str(to_json(record_id))] = subject
        self.latest[resource.name] = found
        return found


def read(engine: Engine, snapshots: SnapshotTables, snapshot_id: int) -> Snapshot:
    with engine.connect() as connection:
        headers = snapshots.headers
        row = connection.execute(select(headers).where(headers.c.id == snapshot_id)).first()
    if row is None:
        raise ArchiveError(f"snapshot {snapshot_id} of {snapshots.log} is gone")
    return _of(row)


def check(engine: Engine, snapshots: SnapshotTables, snapshot: Snapshot) -> None:
    """Raise ``ArchiveError`` unless the rows stored for ``snapshot`` match its count and sum."""
    rows = snapshots.rows
    digest = hashlib.sha256()
    count = 0
    query = (
        select(rows.c.table_name, rows.c.row)
        .where(rows.c.snapshot_id == snapshot.id)
        .order_by(rows.c.position)
        .execution_options(yield_per=1000)
    )
    with engine.connect() as connection:
        for name, raw in connection.execute(query):
            digest.update(canonical(snapshots, name, raw))
            count += 1
    if count != snapshot.row_count or digest.hexdigest() != snapshot.checksum:
        raise ArchiveError(
            f"snapshot {snapshot.id} of {snapshots.log} does not read back as written "
            f"({count} rows of {snapshot.row_count}, checksum "
            f"{'equal' if digest.hexdigest() == snapshot.checksum else 'different'})"
        )


def forget(engine: Engine, snapshots: SnapshotTables, snapshot_id: int) -> None:
    """Remove a snapshot that was not archived (its archive run failed)."""
    with engine.begin() as connection:
        connection.execute(
            delete(snapshots.rows).where(snapshots.rows.c.snapshot_id == snapshot_id)
        )
        connection.execute(delete(snapshots.headers).where(snapshots.headers.c.id == snapshot_id))


def mark_archived(
    connection: Connection, snapshots: SnapshotTables, snapshot: Snapshot, archive: str
) -> None:
    """In the transaction deleting the events: ``snapshot`` is now where replay starts, and the
    rows of older snapshots are no longer needed (their headers stay, as history)."""
    headers, rows = snapshots.headers, snapshots.rows
    connection.execute(
        update(headers)
        .where(headers.c.id == snapshot.id)
        .values(archived_at=utcnow(), archive=archive)
    )
    older = select(headers.c.id).where(headers.c.last_event_id < snapshot.last_event_id)
    connection.execute(delete(rows).where(rows.c.snapshot_id.in_(older)))

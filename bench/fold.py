"""The hand-written rivals of ``replay()``: a Core fold of the log, and the floor.

The fold is what a developer would write without eventspec: read the events in id order and apply
each as one INSERT, UPDATE or DELETE with SQLAlchemy Core, knowing the custom changes (emails
are stored lower-case, order references upper-case). The floor only bulk-inserts the final rows.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Table, Uuid, bindparam, delete, insert, select, update

from bench.shop import Customer, Event, LineItem, Order, UTCDateTime

RESOURCES: dict[str, Table] = {
    "Customer": Customer.__table__,
    "Order": Order.__table__,
    "LineItem": LineItem.__table__,
}
PARENTS_FIRST = (Customer.__table__, Order.__table__, LineItem.__table__)
Snapshot = dict[str, list[dict[str, Any]]]


def _decoder(table: Table, name: str) -> Callable[[Any], Any]:
    kind = table.c[name].type
    if isinstance(kind, Uuid):
        return lambda v: v if v is None or isinstance(v, uuid.UUID) else uuid.UUID(v)
    if isinstance(kind, UTCDateTime):
        return lambda v: v if v is None else dt.datetime.fromisoformat(v)
    return lambda v: v


DECODERS = {
    resource: {column.name: _decoder(table, column.name) for column in table.c}
    for resource, table in RESOURCES.items()
}


def _normalize_email(values: dict[str, Any]) -> None:
    if "email" in values:
        values["email"] = values["email"].strip().lower()


def _normalize_reference(values: dict[str, Any]) -> None:
    if "reference" in values:
        values["reference"] = values["reference"].strip().upper()


FIXUPS: dict[str, Callable[[dict[str, Any]], None]] = {
    "Customer": _normalize_email,
    "Order": _normalize_reference,
}


def clear(connection: Connection) -> None:
    for table in reversed(PARENTS_FIRST):
        connection.execute(delete(table))


def fold(connection: Connection, batch_size: int = 1000) -> int:
    """Rebuild the three tables from the log; return how many events were applied."""
    clear(connection)
    events = Event.__table__
    inserts = {name: insert(table) for name, table in RESOURCES.items()}
    updates = {
        name: update(table).where(table.c.id == bindparam("pk"))
        for name, table in RESOURCES.items()
    }
    deletes = {
        name: delete(table).where(table.c.id == bindparam("pk"))
        for name, table in RESOURCES.items()
    }
    query = select(
        events.c.id,
        events.c.resource,
        events.c.action_type,
        events.c.record_id,
        events.c.data,
        events.c.changed_attributes,
    ).order_by(events.c.id)
    applied, after = 0, None
    while True:
        page = query if after is None else query.where(events.c.id > after)
        batch = connection.execute(page.limit(batch_size)).all()
        for event in batch:
            resource = event.resource
            if event.action_type == "destroy":
                connection.execute(deletes[resource], {"pk": event.record_id})
                continue
            decode = DECODERS[resource]
            values = {k: decode[k](v) for k, v in event.data.items()}
            values.update((k, decode[k](v)) for k, v in event.changed_attributes.items())
            fixup = FIXUPS.get(resource)
            if fixup is not None:
                fixup(values)
            if event.action_type == "create":
                values["id"] = event.record_id
                connection.execute(inserts[resource], values)
            else:
                values.pop("id", None)
                connection.execute(updates[resource], {"pk": event.record_id, **values})
        applied += len(batch)
        if len(batch) < batch_size:
            return applied
        after = batch[-1].id


def snapshot(connection: Connection) -> Snapshot:
    """Every row of the three tables, ordered by id: the state replay must rebuild."""
    return {
        table.name: [dict(row._mapping) for row in connection.execute(select(table).order_by("id"))]
        for table in PARENTS_FIRST
    }


def floor(connection: Connection, state: Snapshot) -> None:
    """The least any rebuild can do: clear, then bulk-insert the final rows."""
    clear(connection)
    for table in PARENTS_FIRST:
        if state[table.name]:
            connection.execute(insert(table), state[table.name])

"""The event row: what one action call records (input, changed attributes, actor, metadata)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from . import _locks, observe
from ._direct import insert_statement
from ._privacy import seal_row
from ._support import to_json, utcnow
from .changeset import Changeset

if TYPE_CHECKING:
    from ._engine import ActionDef, EventLogDef


def write_event(
    cs: Changeset, action: ActionDef, value_of: Callable[[str], Any], timestamp: str | None
) -> None:
    """Insert the event of one action call, after the lock that keeps event ids in commit order."""
    log = action.resource.log
    assert log is not None
    row = event_row(cs, action, value_of, timestamp)
    _locks.take(cs, action)
    # Through the connection: an ORM execute would autoflush, undoing batched flushes.
    result = cs.session.connection().execute(insert_statement(log.table), row)
    if observe.watching():
        event_id = (result.inserted_primary_key or (None,))[0]
        observe.written(cs.session, log.name, event_id, row, actor_columns(log))


def event_row(
    cs: Changeset, action: ActionDef, value_of: Callable[[str], Any], timestamp: str | None
) -> dict[str, Any]:
    """The event of one action call; ``value_of`` reads the written record's attributes."""
    resource = action.resource
    log = resource.log
    assert log is not None
    occurred_at = value_of(timestamp) if timestamp else None
    row: dict[str, Any] = {
        "record_id": value_of(resource.primary_key),
        "version": action.version,
        "occurred_at": occurred_at or utcnow(),
        "resource": resource.name,
        "action": action.name,
        "action_type": action.type,
        "data": _event_data(cs, action, log.encrypted),
        "metadata": to_json(cs.metadata),
        "changed_attributes": _changed_attributes(cs, action, value_of),
    }
    for actor in log.actors:
        if isinstance(cs.actor, actor.actor_class):
            row[actor.column] = getattr(cs.actor, actor.key)
    if resource.data_subject is not None:
        seal_row(cs, action, value_of, row)
    return row


def write_events(session: Session, log: EventLogDef, rows: list[dict[str, Any]]) -> None:
    """Insert many events with one executemany (the locks are taken by the caller). When they
    are watched (see ``observe.py``), their ids are read back, in the rows' order."""
    if not observe.watching():
        session.connection().execute(insert_statement(log.table), rows)
        return
    table = log.table
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    ids = session.connection().execute(statement, rows).scalars().all()
    for event_id, row in zip(ids, rows, strict=True):
        observe.written(session, log.name, event_id, row, actor_columns(log))


def actor_columns(log: EventLogDef) -> tuple[str, ...]:
    return tuple(actor.column for actor in log.actors)


def as_written(values: Mapping[str, Any], record: Any) -> Callable[[str], Any]:
    """Read an attribute as the action set it, else from ``record`` (a key, say)."""

    def value_of(name: str) -> Any:
        return values[name] if name in values else getattr(record, name)

    return value_of


def _event_data(cs: Changeset, action: ActionDef, encrypted: bool) -> dict[str, Any]:
    """The input exactly as given; sensitive values nulled unless the log is encrypted."""
    attributes = action.resource.attributes
    data: dict[str, Any] = {}
    for name, value in cs.params.items():
        if name in action.managed:
            continue  # a managed relationship: each nested write records its own input
        spec = attributes.get(name) if name in action.accept else action.arguments.get(name)
        sensitive = spec is not None and spec.sensitive
        data[name] = None if sensitive and not encrypted else to_json(value)
    return data


def _changed_attributes(
    cs: Changeset, action: ActionDef, value_of: Callable[[str], Any]
) -> dict[str, Any]:
    """Every attribute the action set that was not input; belongs_to keys always."""
    resource = action.resource
    changed: dict[str, Any] = {}
    for name, attr in resource.attributes.items():
        if name in cs.attributes:
            if name in cs.params and not attr.foreign_key:
                continue
            changed[name] = to_json(value_of(name))
    if action.type == "create" and resource.primary_key not in cs.params:
        changed[resource.primary_key] = to_json(value_of(resource.primary_key))
    return changed

"""Bulk creates: many records and their events written together, all of them or none.

``<action>_many`` of a create action runs every input through the same pipeline as the single
action (defaults, validations, changes, constraints), then writes the batch. Where a single create
would be sent straight to the driver (``_wire.connection_for``: a key made in Python, a sync
psycopg 3 or sqlite3 connection, no SQL logging, cursor listener or event callback), so is the
batch (``_wire.create_many``): on PostgreSQL the SAVEPOINT, the locks, one multi-row INSERT of the
records and one of the events, and RELEASE in one pipeline, one round trip; on SQLite an
executemany each. When the user's code (a ``call`` change or validation) asks a changeset for
the session, SQLAlchemy's SAVEPOINT opens there first, and only the locks and the INSERTs go to
the driver.
Otherwise the records are written with one ORM bulk ``INSERT ... RETURNING`` (which hands back the
ORM objects) and the events with one executemany. Where the unit of work could be observed, it
goes record by record through :func:`run_create`: the action has hooks or is an upsert, or an ORM
listener or ``@validates`` watches the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.orm import Session

from . import _locks, _wire
from ._actors import check_actor
from ._direct import full_row, remember, unobserved
from ._engine import (
    ActionDef,
    M,
    _wired,
    atomic,
    changeset_class,
    make_changeset,
    on_demand,
    prepare,
    run_create,
    secrets_kept,
)
from ._events import as_written, event_row, write_events
from .changeset import Changeset


def run_create_many(
    session: Session,
    action: ActionDef[M],
    inputs: Iterable[Mapping[str, Any]],
    *,
    actor: Any = None,
    metadata: Mapping[str, Any] | None = None,
    tenant: Any = None,
) -> list[M]:
    """Create a record per input, each with its event, in one SAVEPOINT: all of them, or none."""
    check_actor(action, actor)  # once, before the SAVEPOINT
    seen: list[Mapping[str, Any]] = []
    with secrets_kept(action, seen):
        wire = _wired(session, action, None, None)
        if wire is not None:
            return _to_the_driver(session, wire, action, inputs, actor, metadata, tenant, seen)
        with atomic(session):
            if action.upsert_keys or any(c.kind != "change" for c in action.changes):
                return _one_by_one(session, action, inputs, actor, metadata, tenant)
            if not unobserved(session, [action.resource.model]):
                return _one_by_one(session, action, inputs, actor, metadata, tenant)
            changesets = _prepared(session, action, inputs, actor, metadata, tenant, seen)
            if not changesets:
                return []
            records = _insert_records(session, action.resource.model, changesets)
            log = action.resource.log
            if action.writes_events and log is not None:
                timestamp = action.resource.create_timestamp
                rows = [
                    event_row(cs, action, as_written(cs.attributes, record), timestamp)
                    for cs, record in zip(changesets, records, strict=True)
                ]
                for cs in changesets:
                    _locks.take(cs, action)  # once per key and transaction: the rest are no-ops
                write_events(session, log, rows)
    return records


def _to_the_driver(
    session: Session,
    wire: Connection,
    action: ActionDef[M],
    inputs: Iterable[Mapping[str, Any]],
    actor: Any,
    metadata: Mapping[str, Any] | None,
    tenant: Any,
    seen: list[Mapping[str, Any]],
) -> list[M]:
    """The batch through ``_wire.create_many``. Its SAVEPOINT goes with the writes, unless user
    code (a ``call`` change or validation) asks a changeset for the session: SQLAlchemy's then
    opens there and then, around the rest of the batch (as ``_engine._action_savepoint`` does
    for one action); so does a change the rules left pending in the session."""
    with on_demand(session, partial(atomic, session)) as savepoint:
        factory = changeset_class(action)
        changesets: list[Changeset] = []
        for params in inputs:
            seen.append(params)
            cs = make_changeset(
                session, action, None, params, actor, metadata, tenant, None, factory
            )
            seen.append(cs.attributes)
            savepoint.watch(cs)
            prepare(cs, action, None, defaults="create")
            savepoint.unwatch(cs)
            changesets.append(cs)
        if not changesets:
            return []
        return _wire.create_many(session, wire, action, changesets, savepoint=savepoint.sends_own())


def _prepared(
    session: Session,
    action: ActionDef[M],
    inputs: Iterable[Mapping[str, Any]],
    actor: Any,
    metadata: Mapping[str, Any] | None,
    tenant: Any,
    seen: list[Mapping[str, Any]],
) -> list[Changeset]:
    """Each input through the pipeline up to the write; ``seen`` collects what a failed
    statement's message must not quote (see ``secrets_kept``)."""
    changesets: list[Changeset] = []
    for params in inputs:
        seen.append(params)
        cs = make_changeset(session, action, None, params, actor, metadata, tenant, None)
        seen.append(cs.attributes)
        prepare(cs, action, None, defaults="create")
        changesets.append(cs)
    return changesets


def _insert_records(session: Session, model: type[Any], changesets: list[Changeset]) -> list[Any]:
    """One ORM ``INSERT ... RETURNING`` per shape of row; the records, in the inputs' order."""
    rows = [full_row(model.__table__, cs.attributes) for cs in changesets]
    shapes: dict[frozenset[str], list[int]] = {}
    for index, row in enumerate(rows):
        shapes.setdefault(frozenset(row), []).append(index)
    statement = insert(model).returning(model, sort_by_parameter_order=True)
    records: list[Any] = [None] * len(rows)
    for indexes in shapes.values():
        batch = session.scalars(statement, [rows[i] for i in indexes]).all()
        for index, record in zip(indexes, batch, strict=True):
            records[index] = record
    remember(session, records, inserted=True)  # a failure below expunges them again
    return records


def _one_by_one(
    session: Session,
    action: ActionDef[M],
    inputs: Iterable[Mapping[str, Any]],
    actor: Any,
    metadata: Mapping[str, Any] | None,
    tenant: Any,
) -> list[M]:
    return [
        run_create(session, action, params, actor=actor, metadata=metadata, tenant=tenant)
        for params in inputs
    ]

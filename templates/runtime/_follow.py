"""Following an event log: the events after a checkpoint, and consumers with named checkpoints.

An event id is a checkpoint: :func:`read_after` returns the events with a larger id, in id
order, and never one whose id is smaller than an event it returned before, so a follower that
remembers the last id it saw skips nothing.

That needs care on PostgreSQL. Ids are allocated when an event is inserted and become visible
when its transaction commits; with one advisory lock key per tenant, two writers run at once
and the larger id may commit first. A reader that saw it and moved its checkpoint past the
smaller one would skip it for ever. So every writer also holds the *horizon* lock
(``_locks.HORIZON_KEY``) shared, from before it allocates an id until it commits, and the reader:

1. reads the high-water mark: the last id the log's sequence allocated (not transactional);
2. takes the horizon lock exclusively and lets it go at once: this waits for every writer that
   held it, so every id up to the mark is now committed or rolled back;
3. reads ``checkpoint < id <= mark`` in a new statement, whose snapshot (READ COMMITTED) sees
   all of them. Under REPEATABLE READ the snapshot is the transaction's first one: read the log
   first in such a transaction, or use READ COMMITTED.

SQLite has one writer at a time, so ids are committed in id order and step 1 and 2 are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Table,
    func,
    inspect,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ._locks import HORIZON_KEY
from ._privacy import SubjectKeys, holds_personal_data, reveal_rows
from ._support import utcnow

E = TypeVar("E")
R = TypeVar("R", bound=tuple[Any, ...])  # a log's NamedTuple of events (``log.py``)

# Statement 1 and 2 in one round trip: the target list is evaluated left to right, so the mark
# is read before the barrier is passed.
_MARK_AND_BARRIER = text(
    "SELECT pg_sequence_last_value(pg_get_serial_sequence(:table, 'id')) AS mark, "
    "pg_advisory_lock(:h) AS locked, pg_advisory_unlock(:h) AS unlocked"
)


def high_water_mark(connection: Connection, table: Table) -> int | None:
    """PostgreSQL: the last id allocated to ``table``'s events, after the horizon barrier."""
    name = connection.dialect.identifier_preparer.format_table(table)
    row = connection.execute(_MARK_AND_BARRIER, {"table": name, "h": HORIZON_KEY}).one()
    mark: int | None = row.mark
    return mark


def committed_mark(session: Session, model: type[Any]) -> int | None:
    """The id up to which every event of ``model``'s log is committed (None: none yet): where a
    follower that skips the past may start."""
    table = _table(model)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        return high_water_mark(connection, table)
    mark: int | None = connection.execute(select(func.max(table.c.id))).scalar()
    return mark


def _bounds(session: Session, table: Table, checkpoint: int | None) -> tuple[Any, ...] | None:
    """The id conditions of the next read; None when there is nothing to read yet."""
    connection = session.connection()
    conditions: list[Any] = []
    if checkpoint is not None:
        conditions.append(table.c.id > checkpoint)
    if connection.dialect.name == "postgresql":
        mark = high_water_mark(connection, table)
        if mark is None or (checkpoint is not None and mark <= checkpoint):
            return None
        conditions.append(table.c.id <= mark)
    return tuple(conditions)


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


def read_after(session: Session, model: type[E], checkpoint: int | None, limit: int) -> list[E]:
    """The events of ``model``'s log with an id above ``checkpoint`` (all when None), in id
    order, at most ``limit``; none is missing below the last one returned."""
    found = _page(session, model, checkpoint, limit)
    if found is None:
        return []
    table, bounds = found
    return list(session.scalars(select(model).where(*bounds).order_by(table.c.id).limit(limit)))


def read_rows_after(
    session: Session, model: type[Any], row: type[R], checkpoint: int | None, limit: int
) -> list[R]:
    """:func:`read_after` as values of ``row``, a NamedTuple of ``model``'s attributes: the
    columns are read with SQLAlchemy Core (their types' result processing included, so an
    encrypted map comes back decrypted), without building ORM objects."""
    found = _page(session, model, checkpoint, limit)
    if found is None:
        return []
    table, bounds = found
    columns = inspect(model).columns
    fields: tuple[str, ...] = getattr(row, "_fields")  # noqa: B009 (R is any NamedTuple)
    make: Callable[[Iterable[Any]], R] = getattr(row, "_make")  # noqa: B009
    query = select(*(columns[name] for name in fields))
    result = session.connection().execute(query.where(*bounds).order_by(table.c.id).limit(limit))
    rows = list(map(make, result))
    if holds_personal_data(table):  # values, not objects: personal values can be opened here
        opened = reveal_rows(SubjectKeys(table, session), [_maps(row) for row in rows])
        rows = [
            getattr(row, "_replace")(**maps)  # noqa: B009 (R is any NamedTuple)
            for row, maps in zip(rows, opened, strict=True)
        ]
    return rows


def _maps(row: Any) -> dict[str, Any]:
    """What ``_privacy.reveal_rows`` reads of an event and replaces."""
    return {name: getattr(row, name) for name in ("subject", "data", "changed_attributes")}


def _page(
    session: Session, model: type[Any], checkpoint: int | None, limit: int
) -> tuple[Table, tuple[Any, ...]] | None:
    """The log's table and the bounds of the next page; ``None`` when nothing can be read yet."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit!r}")
    table = _table(model)
    bounds = _bounds(session, table, checkpoint)
    return None if bounds is None else (table, bounds)


# --- consumers ----------------------------------------------------------------------------------


def lock_checkpoint(session: Session, checkpoints: Table, name: str) -> int:
    """Lock consumer ``name``'s checkpoint row for this transaction (made when missing) and
    return its position. A second process with the same name waits here until the first one
    commits or rolls back, then reads the position the first one left."""
    connection = session.connection()
    read = select(checkpoints.c.position).where(checkpoints.c.name == name)
    if connection.dialect.name == "postgresql":
        read = read.with_for_update()
    else:  # SQLite locks the database, not rows: take its write lock before reading, where a
        # read followed by a write could fail with "database is locked" instead of waiting.
        touch = update(checkpoints).where(checkpoints.c.name == name)
        connection.execute(touch.values(name=literal_column("name")))
    position: int | None = connection.execute(read).scalar()
    if position is not None:
        return position
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    connection.execute(
        insert(checkpoints)
        .values(name=name, position=0, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    return int(connection.execute(read).scalar_one())  # waits for another process's new row


def save_checkpoint(session: Session, checkpoints: Table, name: str, position: int) -> None:
    session.connection().execute(
        update(checkpoints)
        .where(checkpoints.c.name == name)
        .values(position=position, updated_at=utcnow())
    )


def consume(
    session: Session,
    checkpoint_model: type[Any],
    model: type[Any],
    row: type[R],
    name: str,
    handler: Callable[[Session, list[R]], object],
    limit: int,
) -> int:
    """Hand the next batch of events after consumer ``name``'s checkpoint to ``handler`` (as
    :func:`read_rows_after` reads them) and move the checkpoint past it, in the caller's
    transaction; the number of events handled."""
    checkpoints = _table(checkpoint_model)
    checkpoint = lock_checkpoint(session, checkpoints, name)
    events = read_rows_after(session, model, row, checkpoint, limit)
    if not events:
        return 0
    handler(session, events)
    last: int = getattr(events[-1], "id")  # noqa: B009 (R is any log's NamedTuple)
    save_checkpoint(session, checkpoints, name, last)
    return len(events)

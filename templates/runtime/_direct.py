"""Writing rows without the unit of work, where nothing could tell the difference.

Single creates and updates, bulk creates (``_bulk.py``) and replay's fold (``_fold.py``) write
with Core statements instead of a flush when no ORM listener, ``@validates`` or flush hook is there
to notice.
"""

from __future__ import annotations

import copy
import functools
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import (
    ColumnDefault,
    Insert,
    Table,
    Update,
    bindparam,
    event,
    insert,
    inspect,
    update,
)
from sqlalchemy.orm import (
    Session,
    SessionTransaction,
    class_mapper,
    make_transient,
    make_transient_to_detached,
)
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

# What the unit of work fires and a Core write would not: a listener on any of them, or a
# ``@validates``, keeps the flush.
_MAPPER_EVENTS = (
    "before_insert",
    "after_insert",
    "before_update",
    "after_update",
    "before_delete",
    "after_delete",
)
_INSTANCE_EVENTS = ("load", "refresh")
_SESSION_EVENTS = ("before_flush", "after_flush", "after_flush_postexec", "do_orm_execute")
# session.info: objects written here, per (sub)transaction of the session's current transaction,
# as (weak reference, inserted); see remember().
_WRITTEN = "eventspec.written"
_Written = dict[SessionTransaction, list[tuple[weakref.ref[Any], bool]]]


def unobserved(session: Session, models: Iterable[type[Any]]) -> bool:
    """True when writing ``models`` without the unit of work changes nothing anyone could see."""
    if any(getattr(session.dispatch, name) for name in _SESSION_EVENTS):
        return False
    for model in models:
        mapper = class_mapper(model)
        if mapper.validators or any(getattr(mapper.dispatch, n) for n in _MAPPER_EVENTS):
            return False
        if any(getattr(mapper.class_manager.dispatch, n) for n in _INSTANCE_EVENTS):
            return False
    return True


def insert_record(session: Session, model: type[Any], values: Mapping[str, Any]) -> Any:
    """INSERT one row of ``model`` and return it as a persistent ORM object of ``session``.

    What a flush of ``model(**values)`` does, without the unit of work: pending ORM changes are
    flushed first (the row may refer to them), and a key the database generates is read back.
    """
    session.flush()
    table: Table = model.__table__
    row = full_row(table, values)
    result = session.connection().execute(insert_statement(table), row)
    for column, value in zip(table.primary_key, result.inserted_primary_key or (), strict=False):
        if row.get(column.key) is None:
            row[column.key] = value
    record = loaded(model, row)
    session.add(record)
    remember(session, [record], inserted=True)
    return record


def update_record(session: Session, record: Any, values: Mapping[str, Any]) -> None:
    """UPDATE the row of the persistent ``record`` with ``values``, leaving the object as it is.

    Pending ORM changes are flushed first, as the unit of work would. Once the rest of the action
    has succeeded, :func:`settle` puts ``values`` on the object; until then a rollback of the
    enclosing SAVEPOINT leaves the object and its row in step.
    """
    session.flush()
    if not values:
        return  # nothing to set: as the unit of work, no statement at all
    table: Table = record.__table__
    keys = inspect(record).identity or ()
    params = {f"_k_{i}": key for i, key in enumerate(keys)}
    params.update((f"_v_{name}", value) for name, value in values.items())
    result = session.connection().execute(update_statement(table, tuple(values)), params)
    if result.rowcount != 1:
        raise stale_row("UPDATE", table.name, result.rowcount)
    remember(session, [record], inserted=False)


def stale_row(statement: str, table: str, count: int) -> StaleDataError:
    """The error for an UPDATE or DELETE that matched ``count`` rows instead of its record's
    one, worded as the unit of work words it."""
    verb = statement.lower()
    return StaleDataError(
        f"{statement} statement on table '{table}' expected to {verb} 1 row(s); "
        f"{count} were matched."
    )


def loaded(model: type[Any], row: Mapping[str, Any]) -> Any:
    """A detached object of ``model`` holding ``row`` as if just loaded from the database: its
    values go into the instance dict as the ORM's loading puts them, without the attribute
    events of ``model(**row)`` (nothing listens: see :func:`unobserved`); a column the row
    leaves out loads when read."""
    record = _manager(model).new_instance()
    inspect(record).dict.update(row)
    make_transient_to_detached(record)
    return record


_MANAGERS: dict[type[Any], Any] = {}


def _manager(model: type[Any]) -> Any:
    """``model``'s class manager, once (``class_mapper`` inspects the class on every call)."""
    manager = _MANAGERS.get(model)
    if manager is None:
        manager = _MANAGERS[model] = class_mapper(model).class_manager
    return manager


def settle(record: Any, values: Mapping[str, Any]) -> None:
    """Put values written by :func:`update_record` on the object, as loaded (no change pending)."""
    for name, value in values.items():
        set_committed_value(record, name, value)


def remember(session: Session, records: Iterable[Any], *, inserted: bool) -> None:
    """Note ``records`` as written with Core in the session's current (sub)transaction.

    The unit of work tracks what a flush wrote, so that a rollback expunges the objects it
    inserted and expires those it updated; a Core write is invisible to it. When the SAVEPOINT of
    the failed action, a savepoint of the caller's or the whole transaction that covers such a
    write rolls back, :func:`_forget` does the same, and the session never holds an object whose
    row is gone or whose values were undone.
    """
    root = session.get_transaction()
    if root is None:
        return  # outside a transaction nothing can roll back
    memo = session.info.get(_WRITTEN)
    if memo is None or memo[0] is not root:
        memo = (root, {})
        session.info[_WRITTEN] = memo
        _listen()
    current = session.get_nested_transaction() or root
    written: _Written = memo[1]
    written.setdefault(current, []).extend((weakref.ref(r), inserted) for r in records)


@functools.cache
def _listen() -> None:
    """Listen to every session's rollbacks, once: a listener per session would cost each new
    session an ``event.listen`` (as much as the rest of an action). Sessions this module never
    wrote through pay a dictionary lookup per rollback."""
    event.listen(Session, "after_soft_rollback", _forget)


def _forget(session: Session, rolled_back: SessionTransaction) -> None:
    """``after_soft_rollback``: undo in the session what Core wrote in ``rolled_back``."""
    memo = session.info.get(_WRITTEN)
    if memo is None:
        return
    written: _Written = memo[1]
    for transaction in [t for t in written if _within(t, rolled_back)]:
        for ref, inserted in written.pop(transaction):
            record = ref()
            if record is None or record not in session:
                continue
            if inserted:  # as the unit of work leaves an object it inserted: transient
                session.expunge(record)
                make_transient(record)
            else:
                session.expire(record)


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


@functools.cache
def update_statement(table: Table, columns: tuple[str, ...]) -> Update:
    """``UPDATE table SET columns WHERE primary key``, built once per table and set of columns."""
    where = [column == bindparam(f"_k_{i}") for i, column in enumerate(table.primary_key)]
    return update(table).where(*where).values({name: bindparam(f"_v_{name}") for name in columns})


@functools.cache
def insert_statement(table: Table) -> Insert:
    """``insert(table)``, built once per table."""
    return insert(table)


def full_row(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with NULL for each column nothing sets: said outright, so that rows of a batch
    share their columns and an object built from the row reads them without a query."""
    return {**dict.fromkeys(nullable_columns(table)), **values}


@functools.cache
def nullable_columns(table: Table) -> tuple[str, ...]:
    """Columns with no default of any kind, keys aside: NULL whether a row omits them or sets
    None, so rows can set them all and differ only in the defaulted columns they set."""
    return tuple(
        c.key
        for c in table.c
        if c.default is None and c.server_default is None and not c.primary_key
    )


def with_defaults(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with the value of each Python-side column default it omits, as SQLAlchemy fills
    them in when it executes an INSERT (an event log's ``uuidv7`` key, an attribute a change
    removed): for statements sent to the driver, which must carry every value themselves."""
    for key, default in _python_defaults(table):
        if key not in row:
            if default.is_scalar:
                value = default.arg
                row[key] = copy.deepcopy(value) if isinstance(value, list | dict) else value
            else:  # a function of no arguments, wrapped by SQLAlchemy to take the context
                function = getattr(default.arg, "__wrapped__", None)
                row[key] = function() if function is not None else default.arg(None)
    return row


@functools.cache
def _python_defaults(table: Table) -> tuple[tuple[str, ColumnDefault], ...]:
    return tuple(
        (c.key, c.default)
        for c in table.c
        if isinstance(c.default, ColumnDefault) and (c.default.is_scalar or c.default.is_callable)
    )

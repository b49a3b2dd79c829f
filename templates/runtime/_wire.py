"""Writing an action's statements straight to the driver, without SQLAlchemy's per-statement work.

A single create or update writes SAVEPOINT, the advisory lock (PostgreSQL), the record's INSERT or
UPDATE, the event's INSERT and RELEASE. Through SQLAlchemy each statement costs its execution
machinery and, on PostgreSQL, a round trip to the server. Here the statements are compiled once
per shape, with their bind processors, and sent by the driver itself: on PostgreSQL (psycopg 3)
together in one pipeline, so the client waits once; on SQLite (the stdlib driver) one after the
other, without SQLAlchemy in between. When user code before the write (a ``call`` change or
validation) asks the changeset for its session, SQLAlchemy opens the SAVEPOINT there and then
(``_engine._action_savepoint``), and only the lock and the writes are sent here.

The guarantees are the unit of work's: the statements are the ones SQLAlchemy compiles for these
tables, with the parameters its types process; a failure rolls back to the SAVEPOINT (the
transaction stays usable) and is raised as the exception SQLAlchemy would raise; the object joins
the session only once everything is written. A row already gone when it is updated writes no
event and raises ``StaleDataError``, as the unit of work does (on PostgreSQL the event is inserted
from the UPDATE's row, a data-modifying CTE; SQLite checks the UPDATE's row count first).

It is used only where nothing could tell (:func:`connection_for`): a connection of psycopg 3
(sync, or async under an ``AsyncSession``, awaited from SQLAlchemy's greenlet) or of the stdlib
``sqlite3`` (aiosqlite takes the usual path: each statement runs on its thread), no SQL
logging (echo, or the ``sqlalchemy.engine`` logger at INFO) and no cursor-level listener (they
would not see these statements), nobody watching the events (``observe.py``: a callback may
fail the action after its event), no hook, no pending change in the session, and the same
conditions as any Core write (``_engine._direct``).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ClauseElement,
    Connection,
    Dialect,
    Table,
    bindparam,
    insert,
    inspect,
    literal_column,
    select,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import await_only

from . import _locks, observe
from ._direct import (
    full_row,
    insert_statement,
    loaded,
    remember,
    settle,
    update_statement,
)
from ._events import as_written, event_row

if TYPE_CHECKING:
    from ._engine import ActionDef
    from .changeset import Changeset

Processors = dict[str, Callable[[Any], Any]]
# SQL for the driver, the bind processors by parameter name, and the names in the order a
# positional paramstyle (SQLite's qmark) takes them (None: named, as psycopg's pyformat).
Compiled = tuple[str, Processors, tuple[str, ...] | None]
_DRIVERS = {("postgresql", "psycopg"), ("sqlite", "pysqlite")}
_ASYNC_DRIVERS = {("postgresql", "psycopg")}  # aiosqlite runs each statement on its own thread
_names = itertools.count(1)
_SQL_LOG = logging.getLogger("sqlalchemy.engine")


def connection_for(session: Session, action: ActionDef) -> Connection | None:
    """The session's connection when the action may be sent to the driver, else ``None``."""
    if action.upsert_keys or action.soft_attribute is not None:
        return None
    if any(change.kind != "change" for change in action.changes):
        return None  # a hook expects the unit of work (as _engine._direct)
    if observe.watching():
        return None  # a callback may fail the action after its event: it needs the SAVEPOINT
    resource = action.resource
    if action.type == "create" and resource.attributes[resource.primary_key].default is None:
        return None  # the database makes the key: the event needs it back first
    if session.new or session.dirty or session.deleted:
        return None  # a flush goes first, inside the SAVEPOINT: the usual path does that
    connection = session.connection()
    dialect = connection.dialect
    if (dialect.name, dialect.driver) not in (_ASYNC_DRIVERS if dialect.is_async else _DRIVERS):
        return None
    dispatch = connection.dispatch
    if _SQL_LOG.isEnabledFor(logging.INFO) or connection.engine.echo:
        return None  # SQL logging (echo=True, or the sqlalchemy.engine logger) shows statements
    if dispatch.before_cursor_execute or dispatch.after_cursor_execute:
        return None
    if dialect.dispatch.handle_error:
        return None
    return connection  # the caller checked what any Core write needs (_engine._direct)


def create(
    session: Session,
    connection: Connection,
    action: ActionDef,
    cs: Changeset,
    timestamp: str | None,
    *,
    savepoint: bool,
) -> Any:
    """INSERT the record and its event; return the record as a persistent object of ``session``."""
    model = action.resource.model
    table: Table = model.__table__
    dialect = connection.dialect
    row = full_row(table, cs.attributes)
    steps = [_Step(_insert_sql(dialect, table, tuple(row)), row)]
    if action.writes_events:
        event = event_row(cs, action, row.__getitem__, timestamp)
        steps.append(_Step(_event_sql(dialect, _log_table(action), tuple(event), None), event))
    if not savepoint:
        session.flush()  # what the user's code added goes first, as the unit of work would
    _send(session, connection, cs, action, steps, savepoint=savepoint)
    record = loaded(model, row)
    session.add(record)
    remember(session, [record], inserted=True)
    return record


def update(
    session: Session,
    connection: Connection,
    action: ActionDef,
    record: Any,
    cs: Changeset,
    *,
    savepoint: bool,
) -> None:
    """UPDATE the record's row and insert its event; then set the values on the object."""
    values = cs.attributes
    table: Table = record.__table__
    dialect = connection.dialect
    keys = inspect(record).identity or ()
    params: dict[str, Any] = {f"_k_{i}": key for i, key in enumerate(keys)}
    params.update((f"_v_{name}", value) for name, value in values.items())
    names = tuple(values)
    event: dict[str, Any] | None = None
    if action.writes_events:
        event = event_row(cs, action, as_written(values, record), action.resource.update_timestamp)
    steps: list[_Step] = []
    if event is not None and values and dialect.name == "postgresql":
        # One statement: the event is inserted from the UPDATE's row, exactly when it matched.
        sql = _event_sql(dialect, _log_table(action), tuple(event), (table, names))
        steps.append(_Step(sql, {**event, **params}, stale=table.name))
    else:
        if values:
            steps.append(_Step(_update_sql(dialect, table, names), params, stale=table.name))
        if event is not None:
            sql = _event_sql(dialect, _log_table(action), tuple(event), None)
            steps.append(_Step(sql, event))
    if not savepoint:
        session.flush()  # what the user's code added goes first, as the unit of work would
    if steps:
        _send(session, connection, cs, action, steps, savepoint=savepoint)
    if values:
        remember(session, [record], inserted=False)
        settle(record, values)


# --- statements ---------------------------------------------------------------------------------


class _Step:
    """One statement: SQL as the driver takes it, its processed parameters, and for an UPDATE
    the table whose row it must match (else the row is stale)."""

    __slots__ = ("params", "sql", "stale")

    def __init__(
        self, compiled: Compiled, values: Mapping[str, Any], stale: str | None = None
    ) -> None:
        sql, processors, order = compiled
        processed = {
            name: processors[name](value) if value is not None and name in processors else value
            for name, value in values.items()
        }
        self.sql = sql
        self.params: Any = processed if order is None else tuple(processed[n] for n in order)
        self.stale = stale


def _log_table(action: ActionDef) -> Table:
    log = action.resource.log
    assert log is not None
    return log.table


@functools.lru_cache(maxsize=512)
def _insert_sql(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> Compiled:
    return _compiled(insert_statement(table), dialect, keys)


@functools.lru_cache(maxsize=512)
def _update_sql(dialect: Dialect, table: Table, names: tuple[str, ...]) -> Compiled:
    return _compiled(update_statement(table, names), dialect, ())


@functools.lru_cache(maxsize=512)
def _event_sql(
    dialect: Dialect,
    table: Table,
    keys: tuple[str, ...],
    updated: tuple[Table, tuple[str, ...]] | None,
) -> Compiled:
    """The event's INSERT of its values; with ``updated``, inserted from the record's UPDATE (a
    data-modifying CTE, PostgreSQL), so that it is written exactly when the UPDATE matched."""
    columns = tuple(name for name in keys if name in table.c)
    if updated is None:
        return _compiled(insert(table).values({n: bindparam(n) for n in columns}), dialect, ())
    changed = update_statement(*updated).returning(literal_column("1")).cte("changed")
    source = select(*(bindparam(n, type_=table.c[n].type) for n in columns)).select_from(changed)
    return _compiled(insert(table).from_select(columns, source), dialect, ())


def _compiled(statement: ClauseElement, dialect: Dialect, keys: tuple[str, ...]) -> Compiled:
    """SQL for the driver and the bind processors of its parameters, as SQLAlchemy's own."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys else None)
    assert isinstance(compiled, SQLCompiler)
    processors: Processors = {}
    for name, bind in compiled.binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors[name] = process
    order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
    return compiled.string, processors, order


# --- sending ------------------------------------------------------------------------------------


class _Stale(Exception):
    """An UPDATE matched no row (SQLite, where the statements go one by one)."""

    def __init__(self, table: str, count: int) -> None:
        super().__init__(table, count)
        self.table, self.count = table, count


def _send(
    session: Session,
    connection: Connection,
    cs: Changeset,
    action: ActionDef,
    steps: list[_Step],
    *,
    savepoint: bool,
) -> None:
    """The lock and ``steps``; with ``savepoint``, between a SAVEPOINT and its RELEASE, rolled
    back on failure (else the caller's SAVEPOINT is, as SQLAlchemy's)."""
    driver: Any = connection.connection.driver_connection
    dbapi = connection.dialect.loaded_dbapi
    name = f"eventspec_{next(_names)}" if savepoint else None
    lock = _locks.wanted(cs, action, connection) if action.writes_events else None
    pipelined = connection.dialect.name == "postgresql"
    sent: list[tuple[str, Any, Any]] = []  # (SQL, parameters, cursor) of each statement sent
    awaited = connection.dialect.is_async
    try:
        if awaited:  # an AsyncSession's action runs in SQLAlchemy's greenlet: await the driver
            counts = await_only(_pipelined_async(driver, name, lock, steps, sent))
        elif pipelined:
            counts = _pipelined(driver, name, lock, steps, sent)
        else:
            counts = _in_turn(driver, name, steps, sent)
    except BaseException as error:  # an interrupt, a cancelled task too: nothing may stay
        if name is not None:
            with contextlib.suppress(Exception):  # a lost connection: the cause is what counts
                _release(driver, name, awaited=awaited)
        if isinstance(error, _Stale):
            raise _stale(error.table, error.count) from None
        if not isinstance(error, dbapi.Error):
            raise
        sql, params = _failed(sent, pipelined)
        raise DBAPIError.instance(
            sql, params, error, dbapi.Error, dialect=connection.dialect
        ) from error
    if lock is not None:
        _locks.held(session, connection, lock[2])
    for step, count in zip(steps, counts, strict=True):
        if step.stale is not None and count != 1:  # PostgreSQL: the CTE wrote no event either
            raise _stale(step.stale, count)


def _pipelined(
    driver: Any,
    savepoint: str | None,
    lock: tuple[str, dict[str, int], Any] | None,
    steps: list[_Step],
    sent: list[tuple[str, Any, Any]],
) -> list[int]:
    """psycopg 3: everything in one pipeline, one round trip; the row count of each step."""
    with driver.pipeline():
        if savepoint is not None:
            driver.execute(f"SAVEPOINT {savepoint}")
        if lock is not None:
            sql = _locks.driver_sql(lock[0])
            sent.append((sql, lock[1], driver.execute(sql, lock[1])))
        for step in steps:
            sent.append((step.sql, step.params, driver.execute(step.sql, step.params)))
        if savepoint is not None:
            driver.execute(f"RELEASE SAVEPOINT {savepoint}")
    return [cursor.rowcount for _sql, _params, cursor in sent[-len(steps) :]]


async def _pipelined_async(
    driver: Any,
    savepoint: str | None,
    lock: tuple[str, dict[str, int], Any] | None,
    steps: list[_Step],
    sent: list[tuple[str, Any, Any]],
) -> list[int]:
    """:func:`_pipelined` on psycopg's ``AsyncConnection``."""
    async with driver.pipeline():
        if savepoint is not None:
            await driver.execute(f"SAVEPOINT {savepoint}")
        if lock is not None:
            sql = _locks.driver_sql(lock[0])
            sent.append((sql, lock[1], await driver.execute(sql, lock[1])))
        for step in steps:
            sent.append((step.sql, step.params, await driver.execute(step.sql, step.params)))
        if savepoint is not None:
            await driver.execute(f"RELEASE SAVEPOINT {savepoint}")
    return [cursor.rowcount for _sql, _params, cursor in sent[-len(steps) :]]


def _release(driver: Any, savepoint: str, *, awaited: bool) -> None:
    """Roll back to ``savepoint`` and release it, after a failure."""
    for sql in (f"ROLLBACK TO SAVEPOINT {savepoint}", f"RELEASE SAVEPOINT {savepoint}"):
        if awaited:
            await_only(driver.execute(sql))
        else:
            driver.execute(sql)


def _in_turn(
    driver: Any, savepoint: str | None, steps: list[_Step], sent: list[tuple[str, Any, Any]]
) -> list[int]:
    """sqlite3: one statement after the other; an UPDATE that matched no row stops the rest."""
    cursor = driver.cursor()
    if savepoint is not None:
        if not driver.in_transaction:  # a SAVEPOINT opening one would commit on RELEASE
            cursor.execute("BEGIN")
        cursor.execute(f"SAVEPOINT {savepoint}")
    counts = []
    for step in steps:
        sent.append((step.sql, step.params, None))
        cursor.execute(step.sql, step.params)
        if step.stale is not None and cursor.rowcount != 1:
            raise _Stale(step.stale, cursor.rowcount)
        counts.append(cursor.rowcount)
    if savepoint is not None:
        cursor.execute(f"RELEASE SAVEPOINT {savepoint}")
    return counts


def _failed(sent: list[tuple[str, Any, Any]], pipelined: bool) -> tuple[str, Any]:
    """The statement that failed: in a pipeline the first without a result, else the last sent."""
    if pipelined:
        for sql, params, cursor in sent:
            if cursor.pgresult is None:
                return sql, params
    sql, params, _cursor = sent[-1] if sent else ("SAVEPOINT", None, None)
    return sql, params


def _stale(table: str, count: int) -> StaleDataError:
    return StaleDataError(  # as the unit of work words it
        f"UPDATE statement on table '{table}' expected to update 1 row(s); {count} were matched."
    )

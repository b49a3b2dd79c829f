"""Writing an action's statements straight to the driver, without SQLAlchemy's per-statement work.

A single create or update writes SAVEPOINT, the advisory lock (PostgreSQL), the record's INSERT or
UPDATE, the event's INSERT and RELEASE. Through SQLAlchemy each statement costs its execution
machinery and, on PostgreSQL, a round trip to the server. Here the statements are compiled once
per shape, with their bind processors, and sent by the driver itself: on PostgreSQL (psycopg 3)
together in one pipeline, so the client waits once; on SQLite (the stdlib driver) one after the
other, without SQLAlchemy in between. When user code before the write (a ``call`` change or
validation) asks the changeset for its session, SQLAlchemy opens the SAVEPOINT there and then
(``_engine._action_savepoint``), and only the lock and the writes are sent here.

A batch of creates (``create_many``, from ``_bulk.py``) goes the same way: the lock once per
distinct key, then the records and the events, on PostgreSQL each as one multi-row INSERT (with
PostgreSQL's numbered placeholders, so that psycopg parses no query of thousands of them; split
only past the protocol's 65,535 parameters), on SQLite each as one executemany. A hard destroy
sends its DELETE and its event; the object then leaves the session as a flush of
``session.delete`` leaves it (deleted, restored by a rollback).

The guarantees are the unit of work's: the statements are the ones SQLAlchemy compiles for these
tables, with the parameters its types process and the Python-side defaults it fills in; a failure
rolls back to the SAVEPOINT (the transaction stays usable) and is raised as the exception
SQLAlchemy would raise (for a batch, as for an executemany: the one-row statement and every row's
parameters); the objects join the session only once everything is written. A row already gone
when it is updated or destroyed writes no event and raises ``StaleDataError``, as the unit of
work does for an UPDATE (on PostgreSQL the event is inserted from the row the UPDATE or DELETE
returns, a data-modifying CTE; SQLite checks the statement's row count first).

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
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ClauseElement,
    Connection,
    Delete,
    Dialect,
    Table,
    bindparam,
    delete,
    insert,
    inspect,
    literal_column,
    select,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import await_only

from . import _locks, observe
from ._direct import (
    full_row,
    insert_statement,
    loaded,
    remember,
    settle,
    stale_row,
    update_statement,
    with_defaults,
)
from ._events import as_written, event_row

if TYPE_CHECKING:
    from ._engine import ActionDef
    from .changeset import Changeset

_DRIVERS = {("postgresql", "psycopg"), ("sqlite", "pysqlite")}
_ASYNC_DRIVERS = {("postgresql", "psycopg")}  # aiosqlite runs each statement on its own thread
_names = itertools.count(1)
_SQL_LOG = logging.getLogger("sqlalchemy.engine")


def connection_for(session: Session, action: ActionDef) -> Connection | None:
    """The session's connection when the action may be sent to the driver, else ``None``."""
    if action.upsert_keys or action.soft_attribute is not None:
        return None
    if action.resource.data_subject is not None:
        return None  # the subject's key is read, or made, inside the SAVEPOINT (_privacy.py)
    if any(change.kind != "change" for change in action.changes):
        return None  # a hook expects the unit of work (as _engine._direct)
    if action.type == "destroy" and _cascades(action.resource.model):
        return None  # session.delete() would delete related objects too
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


_CASCADES: dict[type[Any], bool] = {}


def _cascades(model: type[Any]) -> bool:
    """Whether deleting a ``model`` object cascades to related objects (the generated
    relationships do not: ``passive_deletes="all"``, the database's foreign keys decide)."""
    found = _CASCADES.get(model)
    if found is None:
        relationships = inspect(model).relationships
        found = _CASCADES[model] = any(r.cascade.delete for r in relationships)
    return found


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
    row = with_defaults(table, full_row(table, cs.attributes))  # a change may drop a default
    steps = [_Step(_insert_sql(dialect, table, _keys(row)), row)]
    if action.writes_events:
        log = _log_table(action)
        event = with_defaults(log, event_row(cs, action, row.__getitem__, timestamp))
        steps.append(_Step(_event_sql(dialect, log, _keys(event), None), event))
    if not savepoint:
        session.flush()  # what the user's code added goes first, as the unit of work would
    _send(session, connection, _wanted([cs], action, connection), steps, savepoint=savepoint)
    return _joined(session, model, [row])[0]


def create_many(
    session: Session,
    connection: Connection,
    action: ActionDef,
    changesets: list[Changeset],
    *,
    savepoint: bool,
) -> list[Any]:
    """INSERT the records and their events, for each shape of row one multi-row INSERT sent in
    one pipeline (PostgreSQL) or one executemany (SQLite); return the records, persistent
    objects of ``session``."""
    model = action.resource.model
    table: Table = model.__table__
    dialect = connection.dialect
    rows = [with_defaults(table, full_row(table, cs.attributes)) for cs in changesets]
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:  # a row without a column only the database defaults: an INSERT of its own
        shapes.setdefault(_keys(row), []).append(row)
    steps: list[_Step] = []
    for keys, same in shapes.items():
        steps += _Step.rows(_insert_sql(dialect, table, keys), same)
    if action.writes_events:
        timestamp = action.resource.create_timestamp
        log = _log_table(action)
        events = [
            with_defaults(log, event_row(cs, action, row.__getitem__, timestamp))
            for cs, row in zip(changesets, rows, strict=True)
        ]
        # Runs of one shape, in the inputs' order: event ids follow it.
        for keys, run in itertools.groupby(events, _keys):
            steps += _Step.rows(_event_sql(dialect, log, keys, None), list(run))
    if not savepoint:
        session.flush()  # what the user's code added goes first, as the unit of work would
    _send(session, connection, _wanted(changesets, action, connection), steps, savepoint=savepoint)
    return _joined(session, model, rows)


def _joined(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> list[Any]:
    """The written rows as persistent objects of ``session``, built as the ORM builds the objects
    of a query's rows (``_direct.loaded``: no constructor, no attribute event; columns the rows do
    not set load when read), noted so that a rollback takes them out again."""
    records = [loaded(model, row) for row in rows]
    session.add_all(records)
    remember(session, records, inserted=True)
    return records


def _wanted(
    changesets: list[Changeset], action: ActionDef, connection: Connection
) -> list[_locks.Wanted]:
    """The lock statements the changesets need, one per distinct set of keys, in their order."""
    log = action.resource.log
    if log is None or not action.writes_events:
        return []
    if log.lock_generator is None:  # the key is the log's, or the tenant's: one for the batch
        changesets = changesets[:1]
    locks: dict[tuple[tuple[int, ...], ...], _locks.Wanted] = {}
    for cs in changesets:
        lock = _locks.wanted(cs, action, connection)
        if lock is not None:
            locks.setdefault(lock[2], lock)
    return list(locks.values())


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
    names = _keys(values)
    event: dict[str, Any] | None = None
    if action.writes_events:
        value_of = as_written(values, record)
        event = event_row(cs, action, value_of, action.resource.update_timestamp)
        event = with_defaults(_log_table(action), event)
    steps: list[_Step] = []
    if event is not None and values and dialect.name == "postgresql":
        # One statement: the event is inserted from the UPDATE's row, exactly when it matched.
        sql = _event_sql(dialect, _log_table(action), _keys(event), (table, names))
        steps.append(_Step(sql, {**event, **params}, stale=("UPDATE", table.name)))
    else:
        if values:
            stale = ("UPDATE", table.name)
            steps.append(_Step(_update_sql(dialect, table, names), params, stale=stale))
        if event is not None:
            sql = _event_sql(dialect, _log_table(action), _keys(event), None)
            steps.append(_Step(sql, event))
    if not savepoint:
        session.flush()  # what the user's code added goes first, as the unit of work would
    if steps:
        locks = _wanted([cs], action, connection)
        _send(session, connection, locks, steps, savepoint=savepoint)
    if values:
        remember(session, [record], inserted=False)
        settle(record, values)


def destroy(
    session: Session,
    connection: Connection,
    action: ActionDef,
    record: Any,
    cs: Changeset,
    *,
    savepoint: bool,
) -> None:
    """DELETE the record's row and insert its event; then the object is deleted in the session,
    as a flush of ``session.delete(record)`` leaves it. A row already gone raises
    ``StaleDataError`` and writes no event (see ``_engine.run_destroy``)."""
    table: Table = record.__table__
    dialect = connection.dialect
    state = inspect(record)
    keys = state.identity or ()
    params = {f"_k_{i}": key for i, key in enumerate(keys)}
    gone = ("DELETE", table.name)
    event: dict[str, Any] | None = None
    if action.writes_events:
        value_of = functools.partial(getattr, record)
        event = with_defaults(_log_table(action), event_row(cs, action, value_of, None))
    if event is not None and dialect.name == "postgresql":
        # One statement: the event is inserted from the DELETE's row, exactly when it matched.
        sql = _event_sql(dialect, _log_table(action), _keys(event), (table, None))
        steps = [_Step(sql, {**event, **params}, stale=gone)]
    else:
        steps = [_Step(_delete_sql(dialect, table), params, stale=gone)]
        if event is not None:
            steps.append(_Step(_event_sql(dialect, _log_table(action), _keys(event), None), event))
    if not savepoint:
        session.flush()  # what the user's code added goes first, as the unit of work would
    locks = _wanted([cs], action, connection)
    _send(session, connection, locks, steps, savepoint=savepoint)
    # What the unit of work does after its DELETE (and the ORM's own bulk DELETE with
    # synchronize_session): the object is deleted, in the transaction's snapshot for a rollback.
    session._remove_newly_deleted([state])


# --- statements ---------------------------------------------------------------------------------


class _Compiled:
    """A statement as the driver takes it: its SQL, and how to make its parameters from values
    keyed by parameter name, with the bind processors SQLAlchemy would apply."""

    __slots__ = ("order", "processors", "sql")

    def __init__(
        self, sql: str, processors: dict[str, Callable[[Any], Any]], order: tuple[str, ...] | None
    ) -> None:
        self.sql = sql
        # Named parameters (psycopg's pyformat): a dict; positional ones (SQLite's qmark): a list
        # in this order, each processor then by its position.
        self.order = order
        self.processors: tuple[tuple[Any, Callable[[Any], Any]], ...] = (
            tuple(processors.items())
            if order is None
            else tuple((i, processors[name]) for i, name in enumerate(order) if name in processors)
        )

    def params(self, values: Mapping[str, Any]) -> Any:
        """``values`` through the bind processors (None stays NULL, as SQLAlchemy's)."""
        params: Any = dict(values) if self.order is None else [values[n] for n in self.order]
        for key, process in self.processors:
            value = params[key] if self.order is not None else params.get(key)
            if value is not None:
                params[key] = process(value)
        return params


# A statement as a failure names it: SQL, parameters, and whether they are many rows' (executemany).
_Shown = tuple[str, Any, bool]
# The statement (UPDATE or DELETE) and table of a step that must match exactly one row.
_Target = tuple[str, str]


class _Step:
    """One statement: SQL as the driver takes it and its processed parameters; for an UPDATE or
    a DELETE, ``stale``: the statement and table whose one row it must match (else the row is
    stale). ``many``: an executemany, ``params`` a list of rows; ``raw``: PostgreSQL's own ``$n``
    placeholders (psycopg's ``RawCursor``).
    ``shown`` is the statement and parameters a failure names, as SQLAlchemy would."""

    __slots__ = ("many", "params", "raw", "shown", "sql", "stale")

    def __init__(
        self,
        compiled: _Compiled,
        values: Mapping[str, Any],
        stale: _Target | None = None,
    ) -> None:
        self.sql = compiled.sql
        self.params: Any = compiled.params(values)
        self.stale = stale
        self.many = self.raw = False
        self.shown: _Shown = (self.sql, self.params, False)

    @classmethod
    def rows(cls, compiled: _Compiled, rows: list[dict[str, Any]]) -> list[_Step]:
        """INSERTs of ``rows``: on PostgreSQL multi-row INSERTs of up to 65,535 parameters (the
        protocol's limit), on SQLite one executemany. A failure names the one-row statement and
        the rows, as SQLAlchemy names an executemany."""
        if compiled.order is not None:  # sqlite3: executemany runs in C, one row after the other
            params = [compiled.params(row) for row in rows]
            return [cls._made(compiled.sql, params, (compiled.sql, params, True), many=True)]
        names = _one_row(compiled.sql)[1]
        size = max(1, _MAX_PARAMETERS // len(names))
        steps = []
        for start in range(0, len(rows), size):
            chunk = [compiled.params(row) for row in rows[start : start + size]]
            flat = [params[name] for params in chunk for name in names]
            shown = (compiled.sql, chunk, True)
            step = cls._made(_values_sql(compiled.sql, len(chunk)), flat, shown)
            step.raw = True
            steps.append(step)
        return steps

    @classmethod
    def _made(cls, sql: str, params: Any, shown: _Shown, *, many: bool = False) -> _Step:
        step = cls.__new__(cls)
        step.sql, step.params, step.shown = sql, params, shown
        step.stale, step.many, step.raw = None, many, False
        return step


# A placeholder of SQLAlchemy's pyformat SQL, or an escaped percent sign.
_PYFORMAT = re.compile(r"%%|%\((\w+)\)s")
_MAX_PARAMETERS = 65535


@functools.lru_cache(maxsize=512)
def _one_row(sql: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """A one-row ``INSERT ... VALUES (...)`` of SQLAlchemy's (pyformat SQL, ``%`` doubled) cut
    for :func:`_values_sql`: what precedes VALUES, the parameter names of the row in order, and
    the text of the row around them (casts, commas, parentheses)."""
    head, sep, group = sql.rpartition(" VALUES ")
    assert sep, sql
    names: list[str] = []
    pieces: list[str] = [""]
    at = 0
    for match in _PYFORMAT.finditer(group):
        pieces[-1] += group[at : match.start()]
        at = match.end()
        if match.group(1) is None:
            pieces[-1] += "%"
        else:
            names.append(match.group(1))
            pieces.append("")
    pieces[-1] += group[at:]
    return head.replace("%%", "%"), tuple(names), tuple(pieces)


@functools.lru_cache(maxsize=16)  # a batch's SQL grows with it: a few sizes are kept
def _values_sql(sql: str, count: int) -> str:
    """The one-row INSERT ``sql`` made an INSERT of ``count`` rows, with PostgreSQL's numbered
    placeholders (``$1``): sent as is, psycopg has no query of thousands of them to parse."""
    head, names, pieces = _one_row(sql)
    width = len(names)
    rows = (
        "".join(piece if i == 0 else f"${row * width + i}{piece}" for i, piece in enumerate(pieces))
        for row in range(count)
    )
    return f"{head} VALUES {', '.join(rows)}"


def _keys(row: Mapping[str, Any]) -> tuple[str, ...]:
    """A row's columns, sorted: the compiled statements' cache key, whatever the rows' order."""
    return tuple(sorted(row))


def _log_table(action: ActionDef) -> Table:
    log = action.resource.log
    assert log is not None
    return log.table


@functools.lru_cache(maxsize=512)
def _insert_sql(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> _Compiled:
    return _compiled(insert_statement(table), dialect, keys)


@functools.lru_cache(maxsize=512)
def _update_sql(dialect: Dialect, table: Table, names: tuple[str, ...]) -> _Compiled:
    return _compiled(update_statement(table, names), dialect, ())


@functools.lru_cache(maxsize=512)
def _delete_sql(dialect: Dialect, table: Table) -> _Compiled:
    return _compiled(_delete_statement(table), dialect, ())


def _delete_statement(table: Table) -> Delete:
    """``DELETE FROM table WHERE primary key``, its key values named as ``update_statement``'s."""
    where = [column == bindparam(f"_k_{i}") for i, column in enumerate(table.primary_key)]
    return delete(table).where(*where)


@functools.lru_cache(maxsize=512)
def _event_sql(
    dialect: Dialect,
    table: Table,
    keys: tuple[str, ...],
    written: tuple[Table, tuple[str, ...] | None] | None,
) -> _Compiled:
    """The event's INSERT of its values; with ``written`` (the record's table, and the columns
    its UPDATE sets or ``None`` for its DELETE), inserted from the row that statement returns (a
    data-modifying CTE, PostgreSQL), so that it is written exactly when the record's row matched."""
    columns = tuple(name for name in keys if name in table.c)
    if written is None:
        return _compiled(insert(table).values({n: bindparam(n) for n in columns}), dialect, ())
    record, names = written
    statement = _delete_statement(record) if names is None else update_statement(record, names)
    changed = statement.returning(literal_column("1")).cte("changed")
    source = select(*(bindparam(n, type_=table.c[n].type) for n in columns)).select_from(changed)
    return _compiled(insert(table).from_select(columns, source), dialect, ())


def _compiled(statement: ClauseElement, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
    """SQL for the driver and the bind processors of its parameters, as SQLAlchemy's own."""
    # As for an executemany: no implicit RETURNING of a key the database makes, nothing reads it.
    compiled = statement.compile(
        dialect=dialect, column_keys=list(keys) if keys else None, for_executemany=True
    )
    assert isinstance(compiled, SQLCompiler)
    processors: dict[str, Callable[[Any], Any]] = {}
    for name, bind in compiled.binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors[name] = process
    order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup else None
    return _Compiled(compiled.string, processors, order)


# --- sending ------------------------------------------------------------------------------------


class _Stale(Exception):
    """An UPDATE or DELETE matched no row (SQLite, where the statements go one by one)."""

    def __init__(self, target: _Target, count: int) -> None:
        super().__init__(target, count)
        self.target, self.count = target, count


def _send(
    session: Session,
    connection: Connection,
    locks: list[_locks.Wanted],
    steps: list[_Step],
    *,
    savepoint: bool,
) -> None:
    """The locks and ``steps``; with ``savepoint``, between a SAVEPOINT and its RELEASE, rolled
    back on failure (else the caller's SAVEPOINT is, as SQLAlchemy's)."""
    driver: Any = connection.connection.driver_connection
    dbapi = connection.dialect.loaded_dbapi
    name = f"eventspec_{next(_names)}" if savepoint else None
    pipelined = connection.dialect.name == "postgresql"
    sent: list[_Sent] = []  # each statement sent, with the cursor that ran it (PostgreSQL)
    awaited = connection.dialect.is_async
    try:
        if awaited:  # an AsyncSession's action runs in SQLAlchemy's greenlet: await the driver
            counts = await_only(_pipelined_async(driver, name, locks, steps, sent))
        elif pipelined:
            counts = _pipelined(driver, name, locks, steps, sent)
        else:
            counts = _in_turn(driver, name, steps, sent)
    except BaseException as error:  # an interrupt, a cancelled task too: nothing may stay
        if name is not None:
            with contextlib.suppress(Exception):  # a lost connection: the cause is what counts
                _release(driver, name, awaited=awaited)
        if isinstance(error, _Stale):
            raise stale_row(*error.target, error.count) from None
        if not isinstance(error, dbapi.Error):
            raise
        sql, params, many = _failed(sent, pipelined)
        raise DBAPIError.instance(
            sql, params, error, dbapi.Error, dialect=connection.dialect, ismulti=many
        ) from error
    for lock in locks:
        _locks.held(session, connection, lock[2])
    for step, count in zip(steps, counts, strict=True):
        if step.stale is not None and count != 1:  # PostgreSQL: the CTE wrote no event either
            raise stale_row(*step.stale, count)


class _Sent:
    """A statement sent, as a failure would name it, with its psycopg cursor (in a pipeline)."""

    __slots__ = ("cursor", "shown")

    def __init__(self, shown: _Shown, cursor: Any = None) -> None:
        self.shown, self.cursor = shown, cursor


def _pipelined(
    driver: Any,
    savepoint: str | None,
    locks: list[_locks.Wanted],
    steps: list[_Step],
    sent: list[_Sent],
) -> list[int]:
    """psycopg 3: everything in one pipeline, one round trip; the row count of each step."""
    from psycopg import RawCursor  # only psycopg connections come here

    with driver.pipeline():
        if savepoint is not None:
            driver.execute(f"SAVEPOINT {savepoint}")
        for lock_sql, params, _keys in locks:
            sql = _locks.driver_sql(lock_sql)
            sent.append(_Sent((sql, params, False), driver.execute(sql, params)))
        for step in steps:
            cursor = RawCursor(driver) if step.raw else driver.cursor()
            sent.append(_Sent(step.shown, cursor))
            cursor.execute(step.sql, step.params)
        if savepoint is not None:
            driver.execute(f"RELEASE SAVEPOINT {savepoint}")
    return [statement.cursor.rowcount for statement in sent[len(locks) :]]


async def _pipelined_async(
    driver: Any,
    savepoint: str | None,
    locks: list[_locks.Wanted],
    steps: list[_Step],
    sent: list[_Sent],
) -> list[int]:
    """:func:`_pipelined` on psycopg's ``AsyncConnection``."""
    from psycopg import AsyncRawCursor

    async with driver.pipeline():
        if savepoint is not None:
            await driver.execute(f"SAVEPOINT {savepoint}")
        for lock_sql, params, _keys in locks:
            sql = _locks.driver_sql(lock_sql)
            sent.append(_Sent((sql, params, False), await driver.execute(sql, params)))
        for step in steps:
            cursor = AsyncRawCursor(driver) if step.raw else driver.cursor()
            sent.append(_Sent(step.shown, cursor))
            await cursor.execute(step.sql, step.params)
        if savepoint is not None:
            await driver.execute(f"RELEASE SAVEPOINT {savepoint}")
    return [statement.cursor.rowcount for statement in sent[len(locks) :]]


def _release(driver: Any, savepoint: str, *, awaited: bool) -> None:
    """Roll back to ``savepoint`` and release it, after a failure."""
    for sql in (f"ROLLBACK TO SAVEPOINT {savepoint}", f"RELEASE SAVEPOINT {savepoint}"):
        if awaited:
            await_only(driver.execute(sql))
        else:
            driver.execute(sql)


def _in_turn(
    driver: Any, savepoint: str | None, steps: list[_Step], sent: list[_Sent]
) -> list[int]:
    """sqlite3: one statement after the other; an UPDATE that matched no row stops the rest."""
    cursor = driver.cursor()
    if savepoint is not None:
        if not driver.in_transaction:  # a SAVEPOINT opening one would commit on RELEASE
            cursor.execute("BEGIN")
        cursor.execute(f"SAVEPOINT {savepoint}")
    counts = []
    for step in steps:
        sent.append(_Sent(step.shown))
        if step.many:
            cursor.executemany(step.sql, step.params)
        else:
            cursor.execute(step.sql, step.params)
        if step.stale is not None and cursor.rowcount != 1:
            raise _Stale(step.stale, cursor.rowcount)
        counts.append(cursor.rowcount)
    if savepoint is not None:
        cursor.execute(f"RELEASE SAVEPOINT {savepoint}")
    return counts


def _failed(sent: list[_Sent], pipelined: bool) -> _Shown:
    """The statement that failed: in a pipeline the first without a result, else the last sent."""
    if pipelined:
        for statement in sent:
            if statement.cursor.pgresult is None:
                return statement.shown
    return sent[-1].shown if sent else ("SAVEPOINT", None, False)

"""PostgreSQL: an action's statements in one round trip, with psycopg 3's pipeline mode.

A single create or update writes SAVEPOINT, the advisory lock, the record's INSERT or UPDATE, the
event's INSERT and RELEASE. Sent one by one, that is five round trips to the server; here the
client sends them together and waits once. When one of the action's changes or validations is
the user's (``call``), that code runs inside a SAVEPOINT opened first, as always, and only the
lock and the writes go together: three round trips. The guarantees are the unit of work's: the
statements are the ones SQLAlchemy compiles for these tables, with the parameters its types
process; a failure rolls back to the SAVEPOINT (the transaction stays usable) and is raised as the
exception SQLAlchemy would raise; the object joins the session only once everything is written.
An UPDATE and its event are one statement (the event is inserted from the updated row), so a row
that is already gone writes no event and raises ``StaleDataError`` as the unit of work does.

It is used only where nothing could tell (:func:`connection_for`): PostgreSQL through psycopg 3
(sync: the ``aio`` functions take the usual path), no engine echo and no cursor-level listener
(they would not see these statements), nobody watching the events (``observe.py``: a callback
may fail the action after its event), no hook, no pending change in the session, and the same
conditions as any Core write (``_direct.unobserved``).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
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
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.compiler import SQLCompiler

from . import _locks, observe
from ._direct import (
    full_row,
    insert_statement,
    remember,
    settle,
    unobserved,
    update_statement,
)
from ._events import as_written, event_row

if TYPE_CHECKING:
    from ._engine import ActionDef
    from .changeset import Changeset

Processors = dict[str, Callable[[Any], Any]]
_names = itertools.count(1)


def connection_for(session: Session, action: ActionDef) -> Connection | None:
    """The session's connection when the action may be sent in one round trip, else ``None``."""
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
    if dialect.name != "postgresql" or dialect.driver != "psycopg" or dialect.is_async:
        return None  # an AsyncSession's driver has an async pipeline: the usual path serves it
    engine = connection.engine
    dispatch = connection.dispatch
    if engine.echo or dispatch.before_cursor_execute or dispatch.after_cursor_execute:
        return None
    if dialect.dispatch.handle_error or not unobserved(session, [action.resource.model]):
        return None
    return connection


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
    steps = [_Step(*_insert_sql(dialect, table, tuple(row)), row)]
    if action.writes_events:
        event = event_row(cs, action, row.__getitem__, timestamp)
        steps.append(_Step(*_event_sql(dialect, _log_table(action), tuple(event), None), event))
    if not savepoint:
        session.flush()  # what the user's code added goes first, as the unit of work would
    _send(session, connection, cs, action, steps, savepoint=savepoint)
    record = model(**row)
    make_transient_to_detached(record)  # as if just loaded: unset columns load when read
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
    """UPDATE the record's row and insert its event, in one statement; then set the object."""
    values = cs.attributes
    table: Table = record.__table__
    dialect = connection.dialect
    keys = inspect(record).identity or ()
    params: dict[str, Any] = {f"_k_{i}": key for i, key in enumerate(keys)}
    params.update((f"_v_{name}", value) for name, value in values.items())
    names = tuple(values)
    steps: list[_Step] = []
    if action.writes_events:
        event = event_row(cs, action, as_written(values, record), action.resource.update_timestamp)
        updated = (table, names) if values else None
        sql = _event_sql(dialect, _log_table(action), tuple(event), updated)
        steps.append(_Step(*sql, {**event, **params} if values else event))
    elif values:
        steps.append(_Step(*_update_sql(dialect, table, names), params))
    if not savepoint:
        session.flush()  # what the user's code added goes first, as the unit of work would
    if steps:
        stale = table.name if values else None
        _send(session, connection, cs, action, steps, savepoint=savepoint, stale=stale)
    if values:
        remember(session, [record], inserted=False)
        settle(record, values)


# --- statements ---------------------------------------------------------------------------------


class _Step:
    """One statement of the pipeline: SQL as the driver takes it, and its processed parameters."""

    __slots__ = ("params", "sql")

    def __init__(self, sql: str, processors: Processors, values: Mapping[str, Any]) -> None:
        self.sql = sql
        self.params = {
            name: processors[name](value) if value is not None and name in processors else value
            for name, value in values.items()
        }


def _log_table(action: ActionDef) -> Table:
    log = action.resource.log
    assert log is not None
    return log.table


@functools.lru_cache(maxsize=512)
def _insert_sql(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> tuple[str, Processors]:
    return _compiled(insert_statement(table), dialect, keys)


@functools.lru_cache(maxsize=512)
def _update_sql(dialect: Dialect, table: Table, names: tuple[str, ...]) -> tuple[str, Processors]:
    return _compiled(update_statement(table, names), dialect, ())


@functools.lru_cache(maxsize=512)
def _event_sql(
    dialect: Dialect,
    table: Table,
    keys: tuple[str, ...],
    updated: tuple[Table, tuple[str, ...]] | None,
) -> tuple[str, Processors]:
    """The event's INSERT of its values; with ``updated``, inserted from the record's UPDATE (a
    data-modifying CTE), so that it is written exactly when the UPDATE matched the row."""
    columns = tuple(name for name in keys if name in table.c)
    if updated is None:
        return _compiled(insert(table).values({n: bindparam(n) for n in columns}), dialect, ())
    changed = update_statement(*updated).returning(literal_column("1")).cte("changed")
    source = select(*(bindparam(n, type_=table.c[n].type) for n in columns)).select_from(changed)
    return _compiled(insert(table).from_select(columns, source), dialect, ())


def _compiled(
    statement: ClauseElement, dialect: Dialect, keys: tuple[str, ...]
) -> tuple[str, Processors]:
    """SQL for the driver and the bind processors of its parameters, as SQLAlchemy's own."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys else None)
    assert isinstance(compiled, SQLCompiler)
    processors: Processors = {}
    for name, bind in compiled.binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors[name] = process
    return compiled.string, processors


# --- sending ------------------------------------------------------------------------------------


def _send(
    session: Session,
    connection: Connection,
    cs: Changeset,
    action: ActionDef,
    steps: list[_Step],
    *,
    savepoint: bool,
    stale: str | None = None,
) -> None:
    """The lock and ``steps`` as one pipeline; with ``savepoint``, between a SAVEPOINT and its
    RELEASE, rolled back on failure (else the caller's SAVEPOINT is, as SQLAlchemy's)."""
    driver: Any = connection.connection.driver_connection
    dbapi = connection.dialect.loaded_dbapi
    name = f"eventspec_{next(_names)}"
    lock = _locks.wanted(cs, action, connection) if action.writes_events else None
    cursors = []
    try:
        with driver.pipeline():
            if savepoint:
                driver.execute(f"SAVEPOINT {name}")
            if lock is not None:
                driver.execute(_locks.driver_sql(lock[0]), lock[1])
            cursors = [driver.execute(step.sql, step.params) for step in steps]
            if savepoint:
                driver.execute(f"RELEASE SAVEPOINT {name}")
    except BaseException as error:  # an interrupt too: nothing of the action may stay
        if savepoint:
            with contextlib.suppress(Exception):  # a lost connection: the cause is what counts
                driver.execute(f"ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}")
        if not isinstance(error, dbapi.Error):
            raise
        step = _failed_step(error, steps)
        raise DBAPIError.instance(
            step.sql, step.params, error, dbapi.Error, dialect=connection.dialect
        ) from error
    if lock is not None:
        _locks.held(session, connection, lock[2])
    if stale is not None and cursors[-1].rowcount != 1:  # as the unit of work words it
        raise StaleDataError(
            f"UPDATE statement on table '{stale}' expected to update 1 row(s); "
            f"{cursors[-1].rowcount} were matched."
        )


def _failed_step(error: Exception, steps: list[_Step]) -> _Step:
    """The statement an error raised at the pipeline's sync belongs to: by the table it names."""
    table = getattr(getattr(error, "diag", None), "table_name", None)
    for step in steps:
        if table and f" {table} " in f" {step.sql} ":
            return step
    return steps[0]

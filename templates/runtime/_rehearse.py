"""Rehearse a replay: rebuild one event log's tables into another database, from a snapshot of
the live one, which is only read.

:func:`snapshot` gives one consistent, read-only view of the live database; :func:`rebuild` gives
the target the schema, copies the rows the replay does not rebuild and replays the log into it.
"""

from __future__ import annotations

import decimal
import math
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    MetaData,
    Table,
    create_engine,
    delete,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy import text as sql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from ._replay import ProgressFn, ReplayResult
from .errors import ConfigurationError

_LIVE = "eventspec.rehearse.live"  # Connection.info key: the identity of the copied database
_SQLITE_MAX_LENGTH = 1_000_000_000  # bytes in one SQLite value (PostgreSQL: 1 GiB)


@contextmanager
def snapshot(live: Engine) -> Iterator[Connection]:
    """One consistent, read-only view of ``live``, for as long as the block runs.

    On PostgreSQL: a READ ONLY transaction at REPEATABLE READ, rolled back at the end. It sees one
    snapshot and takes no lock a writer waits for, so writers go on writing during the rebuild.

    On SQLite a reader holding a transaction open blocks writers (in rollback-journal mode) or
    keeps the WAL from being checkpointed, for the whole rebuild. So the live database is copied
    instead, in one step of the sqlite3 backup API (a consistent copy, blocking writers only
    while it copies), into a temporary file that the block reads. The file is removed when the
    block ends, however it ends (an error, KeyboardInterrupt). A ``:memory:`` database works too.
    """
    if live.dialect.name == "sqlite":
        with _sqlite_copy(live) as connection:
            yield connection
        return
    with live.connect() as connection:
        options: dict[str, Any] = {"isolation_level": "REPEATABLE READ"}
        if live.dialect.name == "postgresql":
            options["postgresql_readonly"] = True
        connection.execution_options(**options)
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()


@contextmanager
def _sqlite_copy(live: Engine) -> Iterator[Connection]:
    descriptor, name = tempfile.mkstemp(prefix="eventspec-rehearse-", suffix=".sqlite3")
    os.close(descriptor)
    path = Path(name)
    engine: Engine | None = None
    try:
        with live.connect() as connection:
            identity = _identity(connection)
            copy = sqlite3.connect(path)
            try:
                connection.connection.driver_connection.backup(copy)  # type: ignore[union-attr]
                # Read-only access to a WAL database needs its -shm file: keep a plain journal.
                copy.execute("PRAGMA journal_mode=DELETE")
            finally:
                copy.close()
            connection.rollback()
        uri = f"file:{pathname2url(str(path))}?mode=ro"
        engine = create_engine(
            "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=NullPool
        )
        with engine.connect() as source:
            source.info[_LIVE] = identity
            yield source
    finally:
        if engine is not None:
            engine.dispose()
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def rebuild(
    source: Connection,
    into: Engine,
    *,
    replay: Callable[..., ReplayResult],
    metadata: MetaData,
    tracked: Sequence[Table],
    event_logs: Sequence[Table] = (),
    last_event_id: Any = None,
    point_in_time: Any = None,
    on_progress: ProgressFn | None = None,
    batch_size: int = 1000,
) -> ReplayResult:
    """Rebuild the ``tracked`` tables into ``into`` from the events ``source`` holds.

    The target gets the schema from ``metadata`` (``create_all``, existing tables kept): the
    tables the code maps, whatever migration the target is at. Its rows in every table but the
    event logs are replaced, in one transaction: the tables the replay does not rebuild are copied
    from ``source`` (foreign-key order, in batches), then ``replay(session, source=source, ...)``
    rebuilds the tracked ones, then the tables referring to them are copied. The event logs of
    the target are left as they are: the events stay on the live database.

    Raises ``ConfigurationError`` when ``into`` is the database ``source`` reads, or when a
    copied value cannot be stored on the target's database; ``ReplayError`` as replay does.
    """
    with into.connect() as probe:
        if _identity(probe) == _identity(source):
            raise ConfigurationError(
                "cannot rehearse into the live database itself: pass another database to rebuild "
                "into (a SQLite file, or another PostgreSQL database or schema)"
            )
    metadata.create_all(into, checkfirst=True)
    rebuilt = {table.key for table in tracked}
    skipped = rebuilt | {table.key for table in event_logs}
    copied = [table for table in metadata.sorted_tables if table.key not in skipped]
    after: list[Table] = []  # the tables with a foreign key into a rebuilt one, or into those
    for table in copied:
        referred = {key.column.table.key for key in table.foreign_keys}
        if referred & (rebuilt | {t.key for t in after}):
            after.append(table)
    before = [table for table in copied if table not in after]
    check = _portable if into.dialect.name == "sqlite" else None
    with Session(into) as session, session.begin():
        target = session.connection()
        for table in reversed(metadata.sorted_tables):
            if table.key not in {t.key for t in event_logs}:
                target.execute(delete(table))
        for table in before:
            _copy(source, target, table, check, batch_size)
        result = replay(
            session,
            source=source,
            last_event_id=last_event_id,
            point_in_time=point_in_time,
            on_progress=on_progress,
            batch_size=batch_size,
        )
        for table in after:
            _copy(source, target, table, check, batch_size)
        _move_sequences(target, copied)
    return result


def _move_sequences(target: Connection, tables: Sequence[Table]) -> None:
    """The copied rows kept their keys: move PostgreSQL's sequences past them, as replay does for
    the tables it rebuilds, so that the next insert into the target does not collide."""
    if target.dialect.name != "postgresql":
        return
    for table in tables:
        for column in table.primary_key.columns:
            if isinstance(column.type, Integer) and column.autoincrement is not False:
                sequence = func.pg_get_serial_sequence(table.name, column.name)
                following = select(func.coalesce(func.max(column), 0) + 1).scalar_subquery()
                target.execute(select(func.setval(sequence, following, False)))


def target_has_rows(into: Engine, tables: Sequence[Table]) -> bool:
    """Whether any of ``tables`` exists on ``into`` and holds a row (a rebuild would replace it)."""
    with into.connect() as connection:
        existing = set(inspect(connection).get_table_names())
        return any(
            connection.execute(select(sql("1")).select_from(table).limit(1)).first() is not None
            for table in tables
            if table.name in existing
        )


Check = Callable[[Table, str, Any], None]


def _copy(
    source: Connection, target: Connection, table: Table, check: Check | None, batch_size: int
) -> None:
    """Every row of ``table`` from ``source`` to ``target``: streamed, ``batch_size`` at a time."""
    query = select(table).execution_options(yield_per=batch_size)
    for rows in source.execute(query).partitions():
        batch = [row._asdict() for row in rows]
        if check is not None:
            for row in batch:
                for column, value in row.items():
                    check(table, column, value)
        try:
            target.execute(insert(table), batch)
        except DBAPIError as error:
            # The database's own reason (a length, a range): its first line, which names no value.
            reason = str(error.orig).splitlines()[0] if error.orig else type(error).__name__
            raise ConfigurationError(
                f"cannot copy {table.name} into {target.dialect.name}: {reason}"
            ) from error


def _portable(table: Table, column: str, value: Any) -> None:
    """Refuse a value that SQLite would not give back as it was read (from PostgreSQL)."""
    why = None
    if isinstance(value, decimal.Decimal):
        try:
            exact = value.is_finite() and decimal.Decimal(repr(float(value))) == value
        except OverflowError:
            exact = False
        if not exact:
            why = (
                "it holds a decimal that a double does not hold exactly (more than 15 "
                "significant digits, or out of range), and SQLite stores NUMERIC as a double"
            )
    elif isinstance(value, float) and math.isnan(value):
        why = "it holds NaN, which SQLite stores as NULL"
    elif isinstance(value, list) and any(isinstance(item, list | tuple) for item in value):
        why = "it holds a multi-dimensional array; on SQLite an array column is a flat JSON list"
    elif isinstance(value, str | bytes) and len(value) * 4 > _SQLITE_MAX_LENGTH:
        size = len(value.encode()) if isinstance(value, str) else len(value)
        if size > _SQLITE_MAX_LENGTH:
            why = f"it holds a value of {size} bytes, over SQLite's limit of {_SQLITE_MAX_LENGTH}"
    if why is not None:
        # The value itself is not shown: it may be sensitive, and messages end up in logs.
        raise ConfigurationError(f"cannot copy {table.name}.{column} into SQLite: {why}")


def _identity(connection: Connection) -> tuple[Any, ...]:
    """What tells two databases apart: a SQLite file's path, PostgreSQL's server, database and
    schema."""
    if _LIVE in connection.info:
        return tuple(connection.info[_LIVE])
    dialect = connection.dialect.name
    if dialect == "sqlite":
        rows = connection.exec_driver_sql("PRAGMA database_list").all()
        path = next((row[2] for row in rows if row[1] == "main"), "")
        if not path:  # in memory: one database per DBAPI connection
            return ("sqlite", "memory", id(connection.connection.driver_connection))
        return ("sqlite", os.path.realpath(path))
    if dialect == "postgresql":
        row = connection.execute(
            sql(
                "SELECT inet_server_addr()::text, inet_server_port(), "
                "pg_postmaster_start_time()::text, current_database(), current_schema()"
            )
        ).one()
        return ("postgresql", *row)
    return (dialect, connection.engine.url.render_as_string(hide_password=True))

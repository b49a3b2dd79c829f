"""Range partitions of an event table on PostgreSQL: created with the table, extended ahead,
detached when old.

A log with ``partitioning`` in its spec gets a table partitioned ``BY RANGE (occurred_at)`` (a
partition per day, month or year) or ``BY RANGE (id)`` (a partition per ``size`` ids). Names:

* ``<table>_p202612`` (month), ``<table>_p20261203`` (day), ``<table>_p2026`` (year): the UTC
  period from its first instant, up to the next one;
* ``<table>_history``: everything before the first period, from ``MINVALUE`` (created once, with
  the table, so that an event dated in the past, such as a create stamped with an imported
  record's ``created_at``, has a place);
* ``<table>_p<n>`` (by id): the ids ``n * size`` up to ``(n + 1) * size``.

There is no ``DEFAULT`` partition: a row past the last partition is refused by PostgreSQL ("no
partition of relation ... found for row"), the action's SAVEPOINT rolls back and nothing is
written; the action raises :class:`MissingPartitionError` (:func:`missing_partition`). A default
partition would take such rows silently, and the next partition of their range could then not
be created until they were moved out. :func:`ensure` keeps ``ahead`` partitions ready after the
current one; run it (``eventspec partitions``) more often than that.

PostgreSQL requires the primary key of a partitioned table to include the partition key, so
the table's key there is ``(id, occurred_at)`` (:class:`PartitionedPrimaryKey`). Ids stay unique
because the database's sequence (or uuidv7) makes them so, not because of the constraint.
SQLAlchemy, SQLite and every reader keep ``id`` as the key. SQLite ignores partitioning.

Archiving (``_archive.delete_archived``) detaches and drops the oldest partitions whose events are
all archived (:func:`detach_archived`) instead of deleting their rows.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, MetaData, PrimaryKeyConstraint, Table, text
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import DDLCompiler

from .errors import ConfigurationError, MissingPartitionError

INFO_KEY = "eventspec_partitioning"  # where ``Table.info`` keeps the table's Partitioning
HISTORY_SUFFIX = "_history"

Bound = dt.datetime | int


@dataclass(frozen=True)
class Partitioning:
    """The ``partitioning`` option of an event log (its spec, as the model carries it)."""

    by: Literal["occurred_at", "id"] = "occurred_at"
    interval: Literal["day", "month", "year"] = "month"
    size: int = 1_000_000
    ahead: int = 3

    @property
    def partition_by(self) -> str:
        """The ``PARTITION BY`` clause (``postgresql_partition_by`` of the table)."""
        return f"RANGE ({self.by})"

    def start(self, value: Bound) -> Bound:
        """The lower bound of the partition that holds ``value``."""
        if isinstance(value, int):
            return value - value % self.size
        value = value.astimezone(dt.UTC)
        if self.interval == "year":
            return dt.datetime(value.year, 1, 1, tzinfo=dt.UTC)
        if self.interval == "month":
            return dt.datetime(value.year, value.month, 1, tzinfo=dt.UTC)
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)

    def after(self, start: Bound) -> Bound:
        """The lower bound of the partition after the one starting at ``start``."""
        if isinstance(start, int):
            return start + self.size
        if self.interval == "year":
            return start.replace(year=start.year + 1)
        if self.interval == "month":
            month = start.month % 12 + 1
            return start.replace(year=start.year + (start.month == 12), month=month)
        return start + dt.timedelta(days=1)

    def name(self, table: str, start: Bound) -> str:
        if isinstance(start, int):
            return f"{table}_p{start // self.size}"
        pattern = {"year": "%Y", "month": "%Y%m", "day": "%Y%m%d"}[self.interval]
        return f"{table}_p{start.strftime(pattern)}"


class PartitionedPrimaryKey(PrimaryKeyConstraint):
    """The primary key of a partitioned event table: on PostgreSQL it also holds the partition
    key (``occurred_at``), as PostgreSQL requires; everywhere else, and to SQLAlchemy, its
    columns are the declared ones (``id``)."""


@compiles(PartitionedPrimaryKey)
def _primary_key(element: PartitionedPrimaryKey, compiler: DDLCompiler, **kw: Any) -> str:
    return compiler.visit_primary_key_constraint(element, **kw)


@compiles(PartitionedPrimaryKey, "postgresql")
def _primary_key_postgresql(
    element: PartitionedPrimaryKey, compiler: DDLCompiler, **kw: Any
) -> str:
    sql = compiler.visit_primary_key_constraint(element, **kw)
    partitioning = element.table.info.get(INFO_KEY)
    if not isinstance(partitioning, Partitioning) or partitioning.by in element.columns:
        return sql
    head, _, tail = sql.rpartition(")")
    return f"{head}, {compiler.preparer.quote(partitioning.by)}){tail}"


def partitioning_of(table: Table) -> Partitioning:
    partitioning = table.info.get(INFO_KEY)
    if not isinstance(partitioning, Partitioning):
        raise ConfigurationError(f"{table.name} has no partitioning in its spec")
    return partitioning


def after_create(target: Table, connection: Connection, **_: Any) -> None:
    """``after_create`` listener of a partitioned table (``metadata.create_all``): its first
    partitions, on PostgreSQL."""
    if connection.dialect.name == "postgresql":
        ensure(connection, target)


@dataclass(frozen=True)
class Partition:
    name: str
    lower: Bound | None  # None: MINVALUE
    upper: Bound | None  # None: MAXVALUE


def ensure(
    connection: Connection,
    table: Table,
    *,
    through: Bound | None = None,
    ahead: int | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """Create the partitions of ``table`` missing up to ``ahead`` after the current one (the one
    holding ``now``, or the highest id), or up to the one holding ``through`` if that is later.

    New partitions continue from the last existing one, leaving no gap. On a table without
    partitions yet this also creates ``<table>_history`` (by occurred_at). Returns the names
    created, in order; on SQLite it does nothing.
    """
    if connection.dialect.name != "postgresql":
        return []
    partitioning = partitioning_of(table)
    _check_kind(partitioning, through, "through")
    # Two callers at once (a cron job and a deploy) would race for the same names: one waits.
    connection.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('eventspec partitions'), hashtext(:t))"),
        {"t": table.name},
    )
    existing = partitions(connection, table)
    ahead = partitioning.ahead if ahead is None else ahead
    current: Bound
    if partitioning.by == "id":
        highest = connection.execute(text(f"SELECT max(id) FROM {_parent(connection, table)}"))
        current = partitioning.start(int(highest.scalar() or 0))
    else:
        current = partitioning.start(now or dt.datetime.now(dt.UTC))
    last = current
    for _ in range(ahead):
        last = partitioning.after(last)
    if through is not None:
        last = max(last, partitioning.start(through))
    uppers = [p.upper for p in existing if p.upper is not None]
    created: list[str] = []
    if uppers:
        start: Bound = max(uppers)
    elif partitioning.by == "id":
        start = 0
    else:
        created.append(_create(connection, table, table.name + HISTORY_SUFFIX, None, current))
        start = current
    while start <= last:  # type: ignore[operator]
        end = partitioning.after(start)
        name = partitioning.name(table.name, start)
        created.append(_create(connection, table, name, start, end))
        start = end
    return created


def detach(connection: Connection, table: Table, *, before: Bound, drop: bool = False) -> list[str]:
    """Detach every partition of ``table`` that lies entirely before ``before`` (an instant, or
    an id); ``drop`` drops them too. Their rows leave the log; returns their names, oldest first.
    On SQLite it does nothing."""
    if connection.dialect.name != "postgresql":
        return []
    _check_kind(partitioning_of(table), before, "before")
    parent = _parent(connection, table)
    done: list[str] = []
    for partition in partitions(connection, table):
        if partition.upper is None or partition.upper > before:  # type: ignore[operator]
            continue
        child = _child(connection, table, partition.name)
        connection.execute(text(f"ALTER TABLE {parent} DETACH PARTITION {child}"))
        if drop:
            connection.execute(text(f"DROP TABLE {child}"))
        done.append(partition.name)
    return done


def detach_archived(
    connection: Connection, table: Table, last_event_id: Any, *, now: dt.datetime | None = None
) -> tuple[list[str], int]:
    """Detach and drop the oldest partitions of ``table`` whose events are all archived (their
    ids at or below ``last_event_id``); return their names, oldest first, and how many events
    they held. Runs in the archive's transaction, which holds the table against writers.

    Partitions go oldest first, and the first that does not qualify stops it (so what leaves is
    a prefix of the log's range): one by id must end at or below the cut (a later id can never
    belong to it); one by occurred_at must be of a period that has ended and hold no id above
    the cut (an event dated in the past, such as an imported record's create, gets a late id).
    The rows below the cut in the partitions left are the caller's to delete. When
    ``<table>_history`` went, an empty one is created again, from ``MINVALUE`` up to the first
    partition left, so that an event dated in the past still has a place. Nothing on SQLite, or
    on a table that is not partitioned in the database: ``([], 0)``.
    """
    if connection.dialect.name != "postgresql" or INFO_KEY not in table.info:
        return [], 0
    parent = _parent(connection, table)
    if not _partitioned(connection, parent):
        return [], 0
    by_id = partitioning_of(table).by == "id"
    now = now or dt.datetime.now(dt.UTC)
    names: list[str] = []
    held = 0
    end: Bound | None = None  # where the detached range ends: the first partition left starts
    for partition in partitions(connection, table):
        upper = partition.upper
        if isinstance(upper, int):
            if not isinstance(last_event_id, int) or upper > last_event_id + 1:
                break
        elif upper is None or by_id or upper > now:
            break
        child = _child(connection, table, partition.name)
        count, late = connection.execute(
            text(f"SELECT count(*), count(*) FILTER (WHERE id > :cut) FROM {child}"),
            {"cut": last_event_id},
        ).one()
        if late:
            break
        connection.execute(text(f"ALTER TABLE {parent} DETACH PARTITION {child}"))
        connection.execute(text(f"DROP TABLE {child}"))
        names.append(partition.name)
        held += count
        end = upper
    history = table.name + HISTORY_SUFFIX
    if end is not None and names[0] == history:
        _create(connection, table, history, None, end)
    return names, held


def missing_partition(error: StatementError, log: str, table: str) -> MissingPartitionError | None:
    """The :class:`MissingPartitionError` that ``error`` is, when PostgreSQL refused a row for
    want of a partition (SQLSTATE 23514, check_violation, with the primary message "no partition
    of relation ..."); None for any other error. ``log`` and ``table``: the action's event log."""
    orig = getattr(error, "orig", None)
    if getattr(orig, "sqlstate", None) != "23514":
        return None
    # psycopg's diagnostics; asyncpg's error (behind SQLAlchemy's adapter) carries the same.
    diag = getattr(orig, "diag", None) or getattr(orig, "__cause__", None)
    primary = getattr(diag, "message_primary", None) or getattr(diag, "message", None)
    if not isinstance(primary, str) or not primary.startswith("no partition of relation"):
        return None
    refused = getattr(diag, "table_name", None) or table
    detail = getattr(diag, "message_detail", None) or getattr(diag, "detail", None)
    value = None
    if isinstance(detail, str) and "contains " in detail:
        value = detail.partition("contains ")[2].rstrip(".") or None
    return MissingPartitionError(log if refused == table else refused, refused, value)


def _check_kind(partitioning: Partitioning, value: Bound | None, name: str) -> None:
    aware = not isinstance(value, dt.datetime) or value.tzinfo is not None
    if value is None or (isinstance(value, int) == (partitioning.by == "id") and aware):
        return
    wanted = "an id (int)" if partitioning.by == "id" else "an instant (aware datetime)"
    raise ConfigurationError(f"{name}= of a log partitioned by {partitioning.by} is {wanted}")


def partitions(connection: Connection, table: Table) -> list[Partition]:
    """The range partitions of ``table``, oldest first (a ``DEFAULT`` partition is left out).
    Raises :class:`ConfigurationError` when the table is not partitioned in the database."""
    parent = _parent(connection, table)
    if not _partitioned(connection, parent):
        raise ConfigurationError(
            f"{table.name} is not a partitioned table in this database: it was created before "
            "its log had partitioning, or without it (see docs/scaling.md)"
        )
    rows = connection.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:parent AS regclass)"
        ),
        {"parent": parent},
    )
    found: list[Partition] = []
    for name, bound in rows:
        match = _BOUND.fullmatch(bound or "")
        if match is not None:
            found.append(Partition(name, _value(match["lower"]), _value(match["upper"])))
    return sorted(found, key=_order)


def _partitioned(connection: Connection, parent: str) -> bool:
    kind = connection.execute(
        text("SELECT relkind FROM pg_class WHERE oid = CAST(:parent AS regclass)"),
        {"parent": parent},
    ).scalar()
    return kind == "p"


_BOUND = re.compile(r"FOR VALUES FROM \((?P<lower>[^)]*)\) TO \((?P<upper>[^)]*)\)")


def _value(literal: str) -> Bound | None:
    if literal in ("MINVALUE", "MAXVALUE"):
        return None
    literal = literal.strip("'")
    if re.fullmatch(r"-?\d+", literal):
        return int(literal)
    return dt.datetime.fromisoformat(literal)


def _order(partition: Partition) -> tuple[bool, Any]:
    return (partition.upper is None, partition.upper)


def _parent(connection: Connection, table: Table) -> str:
    return connection.dialect.identifier_preparer.format_table(table)


def _child(connection: Connection, table: Table, name: str) -> str:
    preparer = connection.dialect.identifier_preparer
    schema = f"{preparer.quote_schema(table.schema)}." if table.schema else ""
    return schema + preparer.quote(name)


def _literal(bound: Bound | None) -> str:
    if bound is None:
        return "MINVALUE"
    return str(bound) if isinstance(bound, int) else f"'{bound.isoformat()}'"


def _create(
    connection: Connection, table: Table, name: str, lower: Bound | None, upper: Bound
) -> str:
    connection.execute(
        text(
            f"CREATE TABLE IF NOT EXISTS {_child(connection, table, name)} PARTITION OF "
            f"{_parent(connection, table)} FOR VALUES FROM ({_literal(lower)}) "
            f"TO ({_literal(upper)})"
        )
    )
    return name


def create_partitions(connection: Connection, name: str, partitioning: Partitioning) -> list[str]:
    """The first partitions of the table ``name`` that a migration just created partitioned (the
    migration names the table and gives the spec's partitioning as it was then)."""
    table = Table(name, MetaData(), info={INFO_KEY: partitioning})
    return ensure(connection, table)


def table_of(model: type[Any]) -> Table:
    """The ``Table`` of a model class of a partitioned log."""
    table = model.__table__
    if not isinstance(table, Table) or INFO_KEY not in table.info:
        raise ConfigurationError(f"{model.__name__} is not a partitioned event log")
    return table


def ensure_all(
    connection: Connection,
    models: Sequence[type[Any]],
    *,
    through: Bound | None = None,
    ahead: int | None = None,
) -> list[str]:
    """:func:`ensure` for each of ``models``; ``through`` applies to the logs of its kind (an
    instant to those by occurred_at, an id to those by id)."""
    created: list[str] = []
    for model in models:
        table = table_of(model)
        by_id = partitioning_of(table).by == "id"
        kept = through if isinstance(through, int) == by_id else None
        created += ensure(connection, table, through=kept, ahead=ahead)
    return created

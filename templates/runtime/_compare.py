"""Compare tracked tables row by row: a streaming merge-join by primary key, exact per type."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import math
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Column, ColumnElement, Connection, Table, Text, cast, select
from sqlalchemy.types import JSON, DateTime, Numeric, String, TypeDecorator, TypeEngine

Kind = Literal["different", "only_live", "only_replayed"]
Same = Callable[[Any, Any], bool]
_END: Any = object()


@dataclass
class RowDiff:
    """One row that is not the same in the live and the replayed table."""

    key: Any
    kind: Kind
    # For a "different" row: {column: (live value, replayed value)} of the columns that differ.
    columns: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    last_event_id: Any = None  # the last event of the live log that touched the record


@dataclass
class TableReport:
    """How one tracked table compares; ``rows`` holds the first ``max_rows`` differing rows."""

    table: str
    resource: str
    same: int = 0
    only_live: int = 0
    only_replayed: int = 0
    different: int = 0
    rows: list[RowDiff] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not (self.only_live or self.only_replayed or self.different)


class OrderError(RuntimeError):
    """The database returned keys out of the order the merge-join relies on."""


def compare_tables(
    live: Connection,
    replayed: Connection,
    tracked: Mapping[str, Table],
    events: Table,
    *,
    max_rows: int = 10,
    batch_size: int = 1000,
) -> list[TableReport]:
    """Compare each ``resource name -> table`` of ``tracked`` between the two connections.

    Both sides are streamed in primary-key order (server-side cursors on PostgreSQL), so memory
    stays bounded by ``batch_size`` rows per side plus ``max_rows`` reported rows per table.
    The last event of each reported row is looked up in ``events`` on ``live``.
    """
    reports = []
    for resource, table in tracked.items():
        report = _compare_table(live, replayed, table, resource, max_rows, batch_size)
        find_last_events(live, report, events)
        reports.append(report)
    return reports


def find_last_events(live: Connection, report: TableReport, events: Table) -> None:
    """Fill in the last event of each reported row, from the log on ``live``."""
    for row in report.rows:
        # The live log holds the record's history: its last event is where to look first.
        # ORDER BY, not max(): PostgreSQL has no max(uuid), and uuidv7 ids sort by time.
        row.last_event_id = live.scalar(
            select(events.c.id)
            .where(events.c.resource == report.resource, events.c.record_id == row.key)
            .order_by(events.c.id.desc())
            .limit(1)
        )


def _compare_table(
    live: Connection,
    replayed: Connection,
    table: Table,
    resource: str,
    max_rows: int,
    batch_size: int,
) -> TableReport:
    columns = list(table.columns)
    keys = [columns.index(c) for c in table.primary_key.columns]
    live_rows = _ordered(live, table, keys, batch_size)
    replayed_rows = _ordered(replayed, table, keys, batch_size)
    return compare_rows(table, resource, live_rows, replayed_rows, max_rows)


def compare_rows(
    table: Table,
    resource: str,
    live_rows: Iterator[tuple[Any, Sequence[Any]]],
    replayed_rows: Iterator[tuple[Any, Sequence[Any]]],
    max_rows: int,
) -> TableReport:
    """Merge-join two streams of ``(key, row)`` of ``table``, each in key order."""
    report = TableReport(table=table.name, resource=resource)
    columns = list(table.columns)
    same = [_comparator(c) for c in columns]
    left, right = next(live_rows, _END), next(replayed_rows, _END)
    while left is not _END or right is not _END:
        if right is _END or (left is not _END and left[0] < right[0]):
            report.only_live += 1
            if len(report.rows) < max_rows:
                report.rows.append(RowDiff(left[0], "only_live"))
            left = next(live_rows, _END)
            continue
        if left is _END or right[0] < left[0]:
            report.only_replayed += 1
            if len(report.rows) < max_rows:
                report.rows.append(RowDiff(right[0], "only_replayed"))
            right = next(replayed_rows, _END)
            continue
        differing = [i for i, equal in enumerate(same) if not equal(left[1][i], right[1][i])]
        if differing:
            report.different += 1
            if len(report.rows) < max_rows:
                diff = {columns[i].name: (left[1][i], right[1][i]) for i in differing}
                report.rows.append(RowDiff(left[0], "different", diff))
        else:
            report.same += 1
        left, right = next(live_rows, _END), next(replayed_rows, _END)
    return report


def _ordered(
    connection: Connection, table: Table, keys: Sequence[int], batch_size: int
) -> Iterator[tuple[Any, Sequence[Any]]]:
    """``(key, row)`` of every row, streamed in key order; raises OrderError if it is not."""
    columns = list(table.columns)
    dialect = connection.dialect.name
    order = [_binary(columns[i], dialect) for i in keys]
    query = select(*columns).order_by(*order)
    result = connection.execution_options(yield_per=batch_size).execute(query)
    previous: Any = None
    try:
        for row in result:
            key = tuple(row[i] for i in keys) if len(keys) > 1 else row[keys[0]]
            if previous is not None and not previous < key:
                raise OrderError(
                    f"{table.name}: {dialect} returned key {key!r} after {previous!r}; "
                    "the comparison needs keys in one binary order"
                )
            previous = key
            yield key, row
    finally:
        result.close()


def _binary(column: Column[Any], dialect: str) -> ColumnElement[Any]:
    """Order text keys by code point on PostgreSQL too, as SQLite and Python do."""
    if dialect == "postgresql" and isinstance(_base(column.type), String):
        return cast(column, Text).collate("C")
    return column


def _base(type_: TypeEngine[Any]) -> TypeEngine[Any]:
    return type_.impl_instance if isinstance(type_, TypeDecorator) else type_


def _comparator(column: Column[Any]) -> Same:
    """The exact equality of ``column``'s values, by the column's type."""
    base = _base(column.type)
    if isinstance(base, Numeric) and base.scale is not None and not isinstance(base, JSON):
        quantum = decimal.Decimal(1).scaleb(-base.scale)

        def at_scale(a: Any, b: Any) -> bool:
            finite = isinstance(a, decimal.Decimal) and isinstance(b, decimal.Decimal)
            if finite and a.is_finite() and b.is_finite():
                with contextlib.suppress(decimal.InvalidOperation):  # beyond the context
                    return bool(a.quantize(quantum) == b.quantize(quantum))
            return same_value(a, b)

        return at_scale
    if isinstance(base, DateTime) and base.timezone:

        def as_utc(a: Any, b: Any) -> bool:
            if a is None or b is None or (a.tzinfo is not None and b.tzinfo is not None):
                return same_value(a, b)
            return same_value(_utc(a), _utc(b))

        return as_utc
    return same_value


def _utc(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


# Types whose == is exact between two values of the same type (an aware and a naive datetime
# are unequal; a float or a decimal NaN is not equal to itself, so those are not here).
_EXACT = frozenset({str, int, bool, bytes, uuid.UUID, dt.datetime, dt.date, dt.time})


def same_value(a: Any, b: Any) -> bool:
    """Equal by value and kind: NULL only equals NULL, True is not 1, NaN equals NaN,
    maps need the same keys (so {"a": None} is not {}), datetimes equal to the microsecond."""
    kind = type(a)
    if kind is type(b) and kind in _EXACT:  # the common case, first: == is exact for these
        return bool(a == b)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, decimal.Decimal) and isinstance(b, decimal.Decimal):
        return a == b or (a.is_nan() and b.is_nan())
    if isinstance(a, dict):
        if not isinstance(b, dict) or a.keys() != b.keys():
            return False
        return all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        if not isinstance(b, list | tuple) or len(a) != len(b):
            return False
        return all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        # A naive and an aware time are different values, never silently equal.
        return (a.tzinfo is None) == (b.tzinfo is None) and a == b
    if isinstance(a, str) != isinstance(b, str):
        return False
    return bool(a == b)

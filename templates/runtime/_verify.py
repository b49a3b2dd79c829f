"""Verify a replay: rebuild into a scratch database, compare with the live tables row by row."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import enum
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, MetaData, Table, func, select

from . import _rehearse
from ._compare import RowDiff, TableReport, compare_tables
from ._engine import ActionDef
from ._replay import ProgressFn, ReplayResult
from ._scratch import scratch_database

__all__ = ["RowDiff", "TableReport", "VerifyResult", "run_verify"]


@dataclass
class VerifyResult:
    """What ``verify`` found.

    ``compared`` is False after a partial replay (``last_event_id`` / ``point_in_time``): the live
    tables hold a later state, so only the rebuilt row counts (``rebuilt``) are reported.
    """

    replay: ReplayResult
    compared: bool
    tables: list[TableReport] = field(default_factory=list)
    rebuilt: dict[str, int] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        """True when a full replay rebuilt exactly the live rows."""
        return self.compared and all(table.identical for table in self.tables)

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data (decimals, times, UUIDs and bytes as strings)."""
        return {
            "identical": self.identical,
            "compared": self.compared,
            "replay": {
                "applied": self.replay.applied,
                "last_event_id": _json(self.replay.last_event_id),
                "elapsed": round(self.replay.elapsed, 6),
                "by_target": dict(sorted(self.replay.by_target.items())),
                "warnings": list(self.replay.warnings),
            },
            "tables": [
                {
                    "table": t.table,
                    "resource": t.resource,
                    "same": t.same,
                    "only_live": t.only_live,
                    "only_replayed": t.only_replayed,
                    "different": t.different,
                    "rows": [_row_dict(row) for row in t.rows],
                }
                for t in self.tables
            ],
            "rebuilt": dict(self.rebuilt),
        }

    def __str__(self) -> str:
        lines = [str(self.replay)]
        if not self.compared:
            lines.append("partial replay: not compared with the live tables; rebuilt rows:")
            lines += [f"  {table}: {count}" for table, count in self.rebuilt.items()]
            return "\n".join(lines)
        for t in self.tables:
            verdict = "identical" if t.identical else "DIFFERENT"
            lines.append(
                f"{t.table} ({t.resource}): {verdict}: {t.same} same, {t.only_live} only live, "
                f"{t.only_replayed} only replayed, {t.different} different"
            )
            for row in t.rows:
                lines.append(
                    f"  {row.kind.replace('_', ' ')} {_text(row.key)}"
                    f" (last event {_text(row.last_event_id)})"
                )
                for column, (live, replayed) in row.columns.items():
                    lines.append(f"    {column}: live {_text(live)} != replayed {_text(replayed)}")
            shown = t.only_live + t.only_replayed + t.different
            if shown > len(t.rows):
                lines.append(f"  ... and {shown - len(t.rows)} more")
        lines.append(
            "replay rebuilds the live state exactly"
            if self.identical
            else "replay does NOT rebuild the live state"
        )
        return "\n".join(lines)


def run_verify(
    live: Engine,
    *,
    replay: Callable[..., ReplayResult],
    actions: Mapping[tuple[str, str], ActionDef],
    metadata: MetaData,
    tracked: Sequence[Table],
    event_logs: Sequence[Table],
    events: Table,
    into: Engine | None = None,
    last_event_id: Any = None,
    point_in_time: dt.datetime | None = None,
    max_rows: int = 10,
    on_progress: ProgressFn | None = None,
    batch_size: int = 1000,
) -> VerifyResult:
    """Rebuild from a consistent snapshot of ``live`` into ``into`` (by default a scratch database,
    always removed), then compare every tracked table with the live one in that same snapshot.

    ``live`` is only read. A partial replay (``last_event_id`` or ``point_in_time``) is not
    compared: the live tables hold a later state; the rebuilt row counts are reported instead.
    """
    # The resource each tracked table holds: events name their record by resource.
    resources = {a.resource.model.__table__.key: a.resource.name for a in actions.values()}
    named = {resources.get(table.key, table.name): table for table in tracked}
    scratch: AbstractContextManager[Engine] = (
        scratch_database(live) if into is None else contextlib.nullcontext(into)
    )
    # The scratch database is entered first, so it is removed last, after the snapshot is closed.
    with scratch as target, _rehearse.snapshot(live) as source:
        result = _rehearse.rebuild(
            source,
            target,
            replay=replay,
            metadata=metadata,
            tracked=tracked,
            event_logs=event_logs,
            last_event_id=last_event_id,
            point_in_time=point_in_time,
            on_progress=on_progress,
            batch_size=batch_size,
        )
        with target.connect() as replayed:
            if last_event_id is not None or point_in_time is not None:
                counts = {
                    table.name: replayed.scalar(select(func.count()).select_from(table)) or 0
                    for table in tracked
                }
                return VerifyResult(result, compared=False, rebuilt=counts)
            tables = compare_tables(
                source, replayed, named, events, max_rows=max_rows, batch_size=batch_size
            )
    return VerifyResult(result, compared=True, tables=tables)


def _row_dict(row: RowDiff) -> dict[str, Any]:
    return {
        "key": _json(row.key),
        "kind": row.kind,
        "columns": {
            name: {"live": _json(live), "replayed": _json(replayed)}
            for name, (live, replayed) in row.columns.items()
        },
        "last_event_id": _json(row.last_event_id),
    }


def _json(value: Any) -> Any:
    """JSON-ready data; NaN and infinities as strings, which strict JSON cannot hold."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, enum.Enum):
        return _json(value.value)
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json(v) for v in value]
    return str(value)


def _text(value: Any) -> str:
    """A value for the terminal report: strings quoted, so '' and NULL are told apart."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    return repr(_json(value)) if isinstance(value, bytes | dict | list) else repr(value)

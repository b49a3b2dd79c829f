"""replay --verify: rebuild into a scratch database and compare row by row, on both databases."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from accounts.data import _scratch
from accounts.data._compare import compare_tables, same_value
from accounts.data._support import JSONMap, UTCDateTime
from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    insert,
    text,
)

from tests.conftest import POSTGRES_URL

# --- the comparison itself, on a probe table of every kind of value ------------------------------

probe_metadata = MetaData()
PROBE = Table(
    "probe",
    probe_metadata,
    Column("key", String(), primary_key=True),
    Column("at", UTCDateTime()),
    Column("amount", Numeric(10, 2)),
    Column("doc", JSONMap),
    Column("note", String()),
    Column("ratio", Float()),
)
PROBE_EVENTS = Table(
    "probe_events",
    probe_metadata,
    Column("id", Integer(), primary_key=True),
    Column("resource", String()),
    Column("record_id", String()),
)
AT = dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)


def probe_row(key: str, **values: Any) -> dict[str, Any]:
    row = {"key": key, "at": AT, "amount": decimal.Decimal("1.50"), "doc": {"a": 1}}
    return row | {"note": "x", "ratio": 0.1} | values


def scratch_files() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("eventspec_scratch_*")}


def scratch_databases() -> list[str]:
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.connect() as connection:
            query = text("SELECT datname FROM pg_database WHERE datname LIKE 'eventspec_scratch_%'")
            return list(connection.scalars(query))
    finally:
        admin.dispose()


def test_values_compare_exactly_by_kind() -> None:
    assert same_value(float("nan"), float("nan"))
    assert same_value(decimal.Decimal("NaN"), decimal.Decimal("NaN"))
    assert not same_value(True, 1)
    assert not same_value(None, "")
    assert not same_value({"a": None}, {})
    assert same_value({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]})
    assert not same_value(AT, AT.replace(tzinfo=None))
    assert not same_value(AT, AT + dt.timedelta(microseconds=1))
    assert same_value(AT, AT.astimezone(dt.timezone(dt.timedelta(hours=2))))
    assert not same_value("1", 1)


def test_compare_reports_every_kind_of_difference(engine: Engine) -> None:
    """Rows differ per type exactly as the live and the replayed values do; keys order by code
    point on both databases (PostgreSQL's default collation would put "a" before "B")."""
    live_rows = [
        probe_row("B"),
        probe_row("Z", at=AT + dt.timedelta(microseconds=1)),
        probe_row("a", amount=decimal.Decimal("1.5")),
        probe_row("b", doc={"a": 1, "b": None}),
        probe_row("c", note=None),
        probe_row("d", amount=decimal.Decimal("1.51")),
        probe_row("only-live"),
        probe_row("é", doc={"b": [1, 2], "a": 1}),
    ]
    replayed_rows = [
        probe_row("B"),
        probe_row("Z"),
        probe_row("a"),
        probe_row("b"),
        probe_row("c", note=""),
        probe_row("d"),
        probe_row("only-replayed"),
        probe_row("é", doc={"a": 1, "b": [1, 2]}),
    ]
    probe_metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(PROBE), live_rows)
        connection.execute(
            insert(PROBE_EVENTS),
            [{"id": i, "resource": "Probe", "record_id": "Z"} for i in (3, 7)],
        )
    with _scratch.scratch_database(engine) as scratch:
        probe_metadata.create_all(scratch)
        with scratch.begin() as connection:
            connection.execute(insert(PROBE), replayed_rows)
        with engine.connect() as live, scratch.connect() as replayed:
            [report] = compare_tables(
                live, replayed, {"Probe": PROBE}, PROBE_EVENTS, max_rows=10, batch_size=2
            )
    assert (report.same, report.only_live, report.only_replayed, report.different) == (3, 1, 1, 4)
    rows = {row.key: row for row in report.rows}
    assert rows["Z"].columns == {"at": (AT + dt.timedelta(microseconds=1), AT)}
    assert rows["Z"].last_event_id == 7
    assert rows["b"].columns == {"doc": ({"a": 1, "b": None}, {"a": 1})}
    assert rows["c"].columns == {"note": (None, "")}
    assert rows["d"].columns == {"amount": (decimal.Decimal("1.51"), decimal.Decimal("1.50"))}
    assert (rows["only-live"].kind, rows["only-replayed"].kind) == ("only_live", "only_replayed")
    assert rows["only-live"].last_event_id is None
    assert [row.key for row in report.rows] == ["Z", "b", "c", "d", "only-live", "only-replayed"]


def test_compare_reports_at_most_max_rows(engine: Engine) -> None:
    probe_metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(PROBE), [probe_row(f"k{i:03}") for i in range(50)])
    with _scratch.scratch_database(engine) as scratch:
        probe_metadata.create_all(scratch)
        with engine.connect() as live, scratch.connect() as replayed:
            [report] = compare_tables(live, replayed, {"Probe": PROBE}, PROBE_EVENTS, max_rows=3)
    assert (report.only_live, len(report.rows)) == (50, 3)


def test_scratch_database_is_removed_after_an_error(engine: Engine) -> None:
    before = scratch_files() if engine.dialect.name == "sqlite" else set(scratch_databases())
    with pytest.raises(KeyboardInterrupt), _scratch.scratch_database(engine) as scratch:
        probe_metadata.create_all(scratch)
        assert scratch.url.database and "eventspec_scratch_" in scratch.url.database
        raise KeyboardInterrupt
    after = scratch_files() if engine.dialect.name == "sqlite" else set(scratch_databases())
    assert after == before


def test_report_json_renders_every_value_as_a_string() -> None:
    from accounts.data._compare import RowDiff, TableReport
    from accounts.data._replay import ReplayResult
    from accounts.data._verify import VerifyResult

    row = RowDiff("k", "different", {"amount": (decimal.Decimal("1.5"), None)}, 4)
    result = VerifyResult(ReplayResult(), True, [TableReport("probe", "Probe", 1, 0, 0, 1, [row])])
    data = json.loads(json.dumps(result.to_dict()))
    assert data["identical"] is False
    assert data["tables"][0]["rows"][0] == {
        "key": "k",
        "kind": "different",
        "columns": {"amount": {"live": "1.5", "replayed": None}},
        "last_event_id": 4,
    }
    assert "amount: live 1.5 != replayed NULL" in str(result)

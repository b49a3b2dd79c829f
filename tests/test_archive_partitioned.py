"""Archiving a partitioned log (the golden ``partitioned`` project, both logs ``archive: true``):
on PostgreSQL the partitions whose events are all archived are detached and dropped, the rows
below the cut in the partition straddling it are deleted; on SQLite partitioning is ignored and
archiving deletes rows as on any log. Either way replay equals the live state.
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from eventspec.cli import main
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tests.conftest import POSTGRES_URL
from tests.engines import create_engine
from tests.test_partitions import PROJECT, history, month, names, state

if str(PROJECT / "src") not in sys.path:
    sys.path.insert(0, str(PROJECT / "src"))

from partitioned.data import _partitions, _snapshots
from partitioned.data.actions import author as authors
from partitioned.data.errors import ArchiveError
from partitioned.data.models import Base, Event, EventSnapshot, LedgerEvent
from partitioned.data.replay import (
    archive_event,
    archive_ledger_event,
    replay_event,
    replay_ledger_event,
    verify_event,
    verify_ledger_event,
)

UTC = dt.UTC


@pytest.fixture
def tables(engine: Engine) -> Engine:
    Base.metadata.create_all(engine)
    return engine


@pytest.fixture
def empty(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    """Another empty database of the same kind, with the project's schema."""
    if database_url.startswith("sqlite"):
        engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        Base.metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"eventspec_partitioned_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(
        make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    )
    try:
        Base.metadata.create_all(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def ids(engine: Engine, model: Any) -> list[int]:
    with Session(engine) as session:
        return list(session.scalars(select(model.id).order_by(model.id)))


def spread(engine: Engine, table: str) -> dict[str, list[int]]:
    """The event ids each partition of ``table`` holds (PostgreSQL)."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(f"SELECT tableoid::regclass::text, id FROM {table} ORDER BY id")
        ).all()
    out: dict[str, list[int]] = {}
    for partition, event_id in rows:
        out.setdefault(partition, []).append(event_id)
    return out


def attached(engine: Engine, table: str) -> list[str]:
    """The partitions of ``table`` (none on SQLite)."""
    if engine.dialect.name == "sqlite":
        return []
    with engine.connect() as connection:
        return names(connection, table)


def in_place(engine: Engine) -> dict[str, list[Any]]:
    """The tracked state after replaying both logs in place (snapshot + the events after it)."""
    with Session(engine) as session, session.begin():
        replay_event(session)
        replay_ledger_event(session)
    return state(engine)


def test_archiving_detaches_the_archived_partitions_and_deletes_the_straddling_rows(
    tables: Engine, empty: Engine, tmp_path: Path
) -> None:
    history(tables)
    live = state(tables)
    events, ledger = ids(tables, Event), ids(tables, LedgerEvent)
    postgresql = tables.dialect.name == "postgresql"
    if postgresql:
        before = spread(tables, "events")
        # The author created in 2001 (id 1) is alone in events_history; the cut is mid-month.
        assert before["events_history"] == [events[0]]
        current = f"events_p{month(0):%Y%m}"
        assert len(before[current]) > 4
    # Ids 1 to 4 move: the history partition's only event, and some of this month's and of
    # the next (the author dated there, id 3), whose partitions stay.
    cut = events[4]
    result = archive_event(tables, before=cut, to=tmp_path / "events.jsonl.gz")
    assert result.count == 4
    assert ids(tables, Event) == events[4:]
    ledger_result = archive_ledger_event(tables, before=1500, to=tmp_path / "ledger.jsonl.gz")
    assert ledger_result.count == 1499
    assert ids(tables, LedgerEvent) == [i for i in ledger if i >= 1500]
    if postgresql:
        assert result.detached == ("events_history",)
        assert "detached and dropped the partitions whose events are all archived: " in str(result)
        after = spread(tables, "events")
        assert after[current] == [i for i in before[current] if i >= cut]  # lost only those
        # An empty history partition takes events dated in the past again, up to this month.
        assert "events_history" in attached(tables, "events")
        assert "events_history" not in after
        with tables.connect() as connection:
            bound = connection.execute(
                text("SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = :n"),
                {"n": "events_history"},
            ).scalar_one()
        assert bound == f"FOR VALUES FROM (MINVALUE) TO ('{month(0):%Y-%m-%d} 00:00:00+00')"
        assert ledger_result.detached == ("ledger_events_p0",)
        assert "ledger_events_p0" not in attached(tables, "ledger_events")
        with tables.connect() as connection:  # dropped, not kept as a table of its own
            assert (
                connection.execute(text("SELECT to_regclass('ledger_events_p0')")).scalar() is None
            )
        assert spread(tables, "ledger_events")["ledger_events_p1"] == list(range(1500, 2000))
    else:
        assert result.detached == () and ledger_result.detached == ()
    assert verify_event(tables).identical
    assert verify_ledger_event(tables).identical
    assert in_place(tables) == live
    with Session(empty) as session, session.begin(), tables.connect() as source:
        replayed = replay_event(session, source=source, archives=[tmp_path / "events.jsonl.gz"])
        assert replayed.applied == len(events)
        replay_ledger_event(session, source=source, archives=[tmp_path / "ledger.jsonl.gz"])
    assert state(empty) == live
    # The log goes on: an author dated in the past lands in the new history partition.
    with Session(tables) as session, session.begin():
        authors.create(session, name="imported", created_at=dt.datetime(1999, 1, 1, tzinfo=UTC))
    assert verify_event(tables).identical


def test_a_partition_holding_a_late_id_keeps_its_place_and_loses_its_archived_rows(
    tables: Engine, tmp_path: Path
) -> None:
    """An event dated in the past, written after the cut, is in the history partition: that
    partition is not detached (nor any after it); its rows below the cut are deleted."""
    history(tables)
    with Session(tables) as session, session.begin():
        authors.create(session, name="late", created_at=dt.datetime(2002, 1, 1, tzinfo=UTC))
    live = state(tables)
    events = ids(tables, Event)
    result = archive_event(tables, before=events[4], to=tmp_path / "events.jsonl.gz")
    assert result.detached == () and result.count == 4
    assert ids(tables, Event) == events[4:]
    if tables.dialect.name == "postgresql":
        assert spread(tables, "events")["events_history"] == [events[-1]]
    assert in_place(tables) == live


def test_a_failure_after_the_detach_leaves_every_partition_attached_and_every_event_there(
    tables: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history(tables)
    events, ledger = ids(tables, Event), ids(tables, LedgerEvent)
    partitions = {"events": attached(tables, "events")}
    partitions["ledger_events"] = attached(tables, "ledger_events")
    detach = _partitions.detach_archived
    detached: list[str] = []

    def detaching(*args: Any, **kwargs: Any) -> tuple[list[str], int]:
        done = detach(*args, **kwargs)
        detached.extend(done[0])
        return done

    def broken(*args: Any) -> None:
        raise OSError("the server went away before COMMIT")

    monkeypatch.setattr(_partitions, "detach_archived", detaching)
    monkeypatch.setattr(_snapshots, "mark_archived", broken)
    with pytest.raises(ArchiveError, match="nothing was deleted: the log is intact"):
        archive_event(tables, before=events[4], to=tmp_path / "events.jsonl.gz")
    with pytest.raises(ArchiveError, match="nothing was deleted: the log is intact"):
        archive_ledger_event(tables, before=1500, to=tmp_path / "ledger.jsonl.gz")
    if tables.dialect.name == "postgresql":
        assert detached == ["events_history", "ledger_events_p0"]  # the failure came after
    assert ids(tables, Event) == events and ids(tables, LedgerEvent) == ledger
    assert {table: attached(tables, table) for table in partitions} == partitions
    with Session(tables) as session:
        assert session.scalar(select(func.count()).select_from(EventSnapshot)) == 0
    assert sorted(tmp_path.glob("*.gz*")) == []


def test_several_ended_periods_leave_together_and_history_is_made_again(tables: Engine) -> None:
    """A month whose period has ended and whose events are all at or below the cut goes with
    the history partition; the history partition made again reaches up to the first left."""
    if tables.dialect.name == "sqlite":
        with tables.begin() as connection:
            assert _partitions.detach_archived(connection, Event.__table__, 10**9) == ([], 0)
        return
    history(tables)
    events = ids(tables, Event)
    table = Event.__table__
    # "now" two months ahead: this month's period and the next have ended.
    two_ahead = month(2) + dt.timedelta(days=1)
    with tables.connect() as connection:
        # This month holds ids above a cut at id 2: it stops the detach there.
        done = _partitions.detach_archived(connection, table, events[1], now=two_ahead)
        assert done == (["events_history"], 1)
        connection.rollback()
    with tables.connect() as connection:
        done = _partitions.detach_archived(connection, table, events[-1], now=two_ahead)
        gone = ["events_history", f"events_p{month(0):%Y%m}", f"events_p{month(1):%Y%m}"]
        assert done == (gone, len(events))
        left = names(connection, "events")
        assert left == sorted(["events_history", f"events_p{month(2):%Y%m}"])
        bound = connection.execute(
            text("SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = :n"),
            {"n": "events_history"},
        ).scalar_one()
        assert bound == f"FOR VALUES FROM (MINVALUE) TO ('{month(2):%Y-%m-%d} 00:00:00+00')"
        connection.rollback()


def test_archive_on_the_command_line_names_the_partitions_detached(
    tables: Engine, database_url: str, tmp_path: Path
) -> None:
    history(tables)
    path = tmp_path / "ledger.jsonl.gz"
    config = ["--config", str(PROJECT / "eventspec.yaml"), "--event-log", "LedgerEvent"]
    url = ["--database-url", database_url]
    run = CliRunner().invoke(
        main,
        ["archive", *config, *url, "--before", "2100", "--to", str(path), "--yes"],
        catch_exceptions=False,
    )
    assert run.exit_code == 0, run.output
    assert "archived 2099 events of LedgerEvent (ids 1 to 2099)" in run.output
    if tables.dialect.name == "postgresql":
        assert (
            "detached and dropped the partitions whose events are all archived: "
            "ledger_events_p0, ledger_events_p1" in run.output
        )
    else:
        assert "detached" not in run.output

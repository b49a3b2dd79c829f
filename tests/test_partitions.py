"""Partitioned event logs (``partitioning``): the golden ``partitioned`` project, whose Event log is
partitioned by month of occurred_at and whose LedgerEvent log by id, on both databases.

On PostgreSQL the tables are partitioned and every reader works across partitions; on SQLite the
option is ignored and the same code runs on plain tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from eventspec.cli import main
from eventspec.loader import load_project
from eventspec.migrations import scaffold_alembic
from eventspec.migrations.diff import diff
from eventspec.migrations.snapshot import snapshot_of
from eventspec.plan import make_plan
from eventspec.tables import table_defs
from sqlalchemy import Connection, Engine, event, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from tests.engines import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "tests" / "golden" / "partitioned"
if str(PROJECT / "src") not in sys.path:
    sys.path.insert(0, str(PROJECT / "src"))

from partitioned.data import log  # noqa: E402
from partitioned.data.actions import author as authors  # noqa: E402
from partitioned.data.actions import entry as entries  # noqa: E402
from partitioned.data.aio.actions import author as aio_authors  # noqa: E402
from partitioned.data.aio.replay import replay_event as aio_replay_event  # noqa: E402
from partitioned.data.errors import MissingPartitionError  # noqa: E402
from partitioned.data.models import Author, Base, Entry, Event, LedgerEvent  # noqa: E402
from partitioned.data.partitions import detach_partitions, ensure_partitions  # noqa: E402
from partitioned.data.replay import (  # noqa: E402
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


def month(offset: int, today: dt.datetime | None = None) -> dt.datetime:
    """The first instant of the month ``offset`` months from this one."""
    today = today or dt.datetime.now(UTC)
    index = today.year * 12 + today.month - 1 + offset
    return dt.datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partitions_of(connection: Connection, table: str) -> list[tuple[str, str]]:
    rows = connection.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:t AS regclass) ORDER BY c.relname"
        ),
        {"t": table},
    )
    return [(name, bound) for name, bound in rows]


def names(connection: Connection, table: str) -> list[str]:
    return [name for name, _ in partitions_of(connection, table)]


def history(engine: Engine) -> dict[str, Any]:
    """Every kind of action on both logs, with events in the past, now and next month."""
    with Session(engine) as session, session.begin():
        old = authors.create(session, name="old", created_at=dt.datetime(2001, 5, 6, tzinfo=UTC))
        ann = authors.create(session, name="Ann")
        later = authors.create(session, name="later", created_at=month(1) + dt.timedelta(days=3))
        many = authors.create_many(session, [{"name": f"n{i}"} for i in range(5)])
        authors.update(session, ann, name="Anne")
        authors.destroy(session, many[0])
        rows = entries.create_many(session, [{"amount": i} for i in range(2500)])
        entries.update(session, rows[0], amount=-1)
        entries.destroy(session, rows[1])
        return {"old": old.id, "ann": ann.id, "later": later.id}


def state(engine: Engine) -> dict[str, list[Any]]:
    with Session(engine) as session:
        out = {}
        for model in (Author, Entry):
            rows = session.execute(select(*model.__table__.columns)).all()
            out[model.__name__] = sorted((tuple(r) for r in rows), key=repr)
        return out


# --- the tables ---------------------------------------------------------------------------------


def test_create_all_partitions_the_tables_on_postgresql_only(tables: Engine) -> None:
    with tables.begin() as connection:
        if tables.dialect.name == "sqlite":
            assert ensure_partitions(connection) == []
            assert detach_partitions(connection, Event, before=month(12)) == []
            sql = connection.execute(text("SELECT sql FROM sqlite_master WHERE name = 'events'"))
            assert "PRIMARY KEY (id)" in sql.scalar_one()
            return
        kinds = connection.execute(
            text(
                "SELECT relname, relkind FROM pg_class WHERE relname IN ('events', 'ledger_events')"
            )
        )
        assert dict(kinds.all()) == {"events": "p", "ledger_events": "p"}
        expected = ["events_history", *(f"events_p{month(i):%Y%m}" for i in range(3))]
        assert names(connection, "events") == sorted(expected)
        assert dict(partitions_of(connection, "events"))["events_history"] == (
            f"FOR VALUES FROM (MINVALUE) TO ('{month(0):%Y-%m-%d} 00:00:00+00')"
        )
        assert names(connection, "ledger_events") == [f"ledger_events_p{i}" for i in range(4)]
        # The primary key holds the partition key; every index is on every partition.
        key = connection.execute(
            text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conname = 'pk_events' AND conrelid = CAST('events' AS regclass)"
            )
        )
        assert key.scalar_one() == "PRIMARY KEY (id, occurred_at)"
        for partition in expected:
            count = connection.execute(
                text("SELECT count(*) FROM pg_index WHERE indrelid = CAST(:p AS regclass)"),
                {"p": partition},
            )
            assert count.scalar_one() == 4  # the key, (resource, record_id), occurred_at, actor


def test_actions_replay_verify_and_follower_read_across_partitions(tables: Engine) -> None:
    ids = history(tables)
    before = state(tables)
    with tables.connect() as connection:
        if tables.dialect.name == "postgresql":
            rows = connection.execute(
                text("SELECT tableoid::regclass::text, count(*) FROM events GROUP BY 1")
            )
            spread = dict(rows.all())
            assert spread["events_history"] == 1  # the author created in 2001
            assert spread[f"events_p{month(1):%Y%m}"] == 1
            ledger = connection.execute(
                text("SELECT count(DISTINCT tableoid) FROM ledger_events")
            ).scalar_one()
            assert ledger == 3  # 2502 ids: partitions of 1000
    with Session(tables) as session, session.begin():
        replay_event(session)
        replay_ledger_event(session)
    assert state(tables) == before
    with Session(tables) as session, session.begin():
        replay_event(session, point_in_time=dt.datetime(2002, 1, 1, tzinfo=UTC))
        assert session.scalars(select(Author.id)).all() == [ids["old"]]
        replay_event(session)
    assert verify_event(tables).identical
    assert verify_ledger_event(tables).identical
    with Session(tables) as session, session.begin():
        seen = log.read_after_event(session, None, limit=1000)
        assert [e.id for e in seen] == sorted(e.id for e in seen)
        assert len(seen) == session.scalar(select(func.count()).select_from(Event))
        assert len(log.read_rows_after_ledger_event(session, 2000, limit=1000)) == 502


def test_async_actions_and_replay_on_a_partitioned_log(database_url: str) -> None:
    async def main() -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)
            async with AsyncSession(engine, expire_on_commit=False) as session:
                async with session.begin():
                    one = await aio_authors.create(session, name="one")
                    await aio_authors.create_many(session, [{"name": "two"}, {"name": "three"}])
                    await aio_authors.update(session, one, name="uno")
                async with session.begin():
                    await aio_replay_event(session)
                    found = await session.scalars(select(Author.name).order_by(Author.name))
                    assert list(found) == ["three", "two", "uno"]
                    count = await session.scalar(select(func.count()).select_from(Event))
                    assert count == 4
        finally:
            await engine.dispose()

    asyncio.run(main())


@contextlib.contextmanager
def write_path(engine: Engine, path: str) -> Iterator[None]:
    """The actions' writes go to the driver (``_wire``), through Core statements (``_direct``,
    when a cursor listener is there) or through the unit of work (an ORM listener too)."""
    listeners: list[tuple[Any, str, Any]] = []
    if path in ("core", "orm"):
        listeners.append((engine, "before_cursor_execute", lambda *_: None))
    if path == "orm":
        listeners.append((Author, "before_insert", lambda *_: None))
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    try:
        yield
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)


def counts(session: Session) -> tuple[int, int]:
    authors_ = session.scalar(select(func.count()).select_from(Author)) or 0
    return authors_, session.scalar(select(func.count()).select_from(Event)) or 0


@pytest.mark.parametrize("path", ["driver", "core", "orm"])
def test_an_event_past_the_last_partition_is_a_missing_partition_error_and_nothing_is_written(
    tables: Engine, path: str
) -> None:
    far = month(12)
    with write_path(tables, path), Session(tables) as session, session.begin():
        if tables.dialect.name == "sqlite":  # partitioning is ignored: any date goes
            authors.create(session, name="far", created_at=far)
            authors.create_many(session, [{"name": "far", "created_at": far}])
            return
        with pytest.raises(MissingPartitionError) as caught:
            authors.create(session, name="far", created_at=far)
        error = caught.value
        assert (error.log, error.table) == ("Event", "events")
        assert error.value == f"(occurred_at) = ({far:%Y-%m-%d} 00:00:00+00)"
        assert "run eventspec partitions (or partitioned.data.partitions.ensure_partitions)" in (
            str(error)
        )
        assert isinstance(error.__cause__, IntegrityError)
        # The action's SAVEPOINT rolled back: no record, no event, the transaction goes on.
        assert counts(session) == (0, 0)
        with pytest.raises(MissingPartitionError, match="no partition of events"):
            authors.create_many(session, [{"name": "near"}, {"name": "far", "created_at": far}])
        assert counts(session) == (0, 0)
        authors.create(session, name="near")
        assert counts(session) == (1, 1)
    with tables.begin() as connection:
        assert ensure_partitions(connection, through=far)[-1] == f"events_p{far:%Y%m}"
    with Session(tables) as session, session.begin():
        authors.create(session, name="far", created_at=far)
        assert session.scalar(select(func.count()).select_from(Event)) == 2


def test_an_id_past_the_last_partition_of_a_log_by_id_is_a_missing_partition_error(
    tables: Engine,
) -> None:
    if tables.dialect.name == "sqlite":
        return
    with tables.begin() as connection:  # the next id is past ledger_events_p3 (ids up to 3999)
        connection.execute(
            text("SELECT setval(pg_get_serial_sequence('ledger_events', 'id'), 4000)")
        )
    with Session(tables) as session, session.begin():
        with pytest.raises(MissingPartitionError) as caught:
            entries.create_many(session, [{"amount": 1}, {"amount": 2}])
        assert (caught.value.log, caught.value.value) == ("LedgerEvent", "(id) = (4001)")
        assert session.scalar(select(func.count()).select_from(Entry)) == 0
        with pytest.raises(MissingPartitionError, match="the LedgerEvent log"):
            entries.create(session, amount=3)
        assert session.scalar(select(func.count()).select_from(LedgerEvent)) == 0
        authors.create(session, name="still usable")


def test_an_async_action_past_the_last_partition_is_a_missing_partition_error(
    database_url: str,
) -> None:
    async def main() -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)
            session = AsyncSession(engine, expire_on_commit=False)
            async with session, session.begin():
                if engine.dialect.name == "postgresql":
                    with pytest.raises(MissingPartitionError):
                        await aio_authors.create(session, name="far", created_at=month(12))
                    with pytest.raises(MissingPartitionError):
                        await aio_authors.create_many(
                            session, [{"name": "far", "created_at": month(12)}]
                        )
                await aio_authors.create(session, name="near")
                count = await session.scalar(select(func.count()).select_from(Event))
                assert count == 1
        finally:
            await engine.dispose()

    asyncio.run(main())


def test_ensure_continues_without_gaps_and_detach_takes_whole_partitions(tables: Engine) -> None:
    if tables.dialect.name == "sqlite":
        with tables.begin() as connection:
            assert ensure_partitions(connection, through=month(6), ahead=9) == []
        return
    history(tables)
    with tables.begin() as connection:
        # 2502 ledger events reach partition 2: three more ahead of it. Events: all there.
        assert ensure_partitions(connection) == ["ledger_events_p4", "ledger_events_p5"]
        assert ensure_partitions(connection) == []
        created = ensure_partitions(connection, ahead=5)
        assert created == [f"events_p{month(i):%Y%m}" for i in (3, 4, 5)] + [
            f"ledger_events_p{i}" for i in (6, 7)
        ]
        assert ensure_partitions(connection, through=9999) == [
            f"ledger_events_p{i}" for i in (8, 9)
        ]
        detached = detach_partitions(connection, Event, before=month(1))
        assert detached == ["events_history", f"events_p{month(0):%Y%m}"]
        assert "events_history" not in names(connection, "events")
        # Detached, the partition is a table of its own; its events left the log.
        assert connection.execute(text("SELECT count(*) FROM events_history")).scalar_one() == 1
        assert connection.execute(text("SELECT count(*) FROM events")).scalar_one() == 1
        assert detach_partitions(connection, LedgerEvent, before=2000, drop=True) == [
            "ledger_events_p0",
            "ledger_events_p1",
        ]
        exists = connection.execute(text("SELECT to_regclass('ledger_events_p0')")).scalar()
        assert exists is None


# --- migrations and the command line ------------------------------------------------------------


def alembic(project: Path, database_url: str, *args: str) -> None:
    command = [sys.executable, "-m", "alembic", "-x", f"database_url={database_url}", *args]
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_migration_creates_the_partitions_and_the_command_extends_them(
    tmp_path: Path, database_url: str, engine: Engine
) -> None:
    project = tmp_path / "partitioned"
    shutil.copytree(PROJECT, project)
    for path, content in scaffold_alembic(project, "partitioned.data", "migrations").items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(content, encoding="utf-8")
    alembic(project, database_url, "upgrade", "head")
    config = str(project / "eventspec.yaml")
    run = CliRunner().invoke(
        main,
        ["partitions", "--config", config, "--database-url", database_url, "--ahead", "4"],
    )
    assert run.exit_code == 0, run.output
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            assert "is not PostgreSQL" in run.output
            sql = connection.execute(text("SELECT sql FROM sqlite_master WHERE name = 'events'"))
            assert "PRIMARY KEY (id)" in sql.scalar_one()
        else:
            months = [f"events_p{month(i):%Y%m}" for i in range(5)]
            assert names(connection, "events") == sorted(["events_history", *months])
            assert f"created events_p{month(3):%Y%m}" in run.output
            assert f"created {months[-1]}" in run.output
            assert "created ledger_events_p4" in run.output
            assert "LedgerEvent: 5 partitions of ledger_events, up to 5000" in run.output
    with Session(engine) as session, session.begin():
        authors.create(session, name="Ann")
        entries.create(session, amount=1)
    again = CliRunner().invoke(
        main, ["partitions", "--config", config, "--database-url", database_url]
    )
    assert again.exit_code == 0, again.output
    if engine.dialect.name == "postgresql":
        assert "every partition was there already" in again.output
    listing = ["events", "--config", config, "--database-url", database_url, "--json"]
    events = CliRunner().invoke(main, [*listing, "--event-log", "Event"])
    assert events.exit_code == 0, events.output
    assert [json.loads(row)["action"] for row in events.stdout.splitlines()] == ["create"]
    alembic(project, database_url, "downgrade", "base")
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            assert connection.execute(text("SELECT to_regclass('events_history')")).scalar() is None


def test_generate_warns_that_sqlite_ignores_partitioning(tmp_path: Path) -> None:
    project = tmp_path / "partitioned"
    shutil.copytree(PROJECT / "specs", project / "specs")
    (project / "eventspec.yaml").write_text(
        (PROJECT / "eventspec.yaml")
        .read_text(encoding="utf-8")
        .replace("postgresql+psycopg://postgres@127.0.0.1:5432/partitioned", "sqlite:///p.db")
    )
    loaded, diagnostics = load_project(project / "eventspec.yaml")
    assert loaded is not None, diagnostics
    assert [w for w in make_plan(loaded).warnings if "partitioning" in w] == [
        "Event: partitioning applies on PostgreSQL only; on SQLite (database_url) events is a "
        "plain table",
        "LedgerEvent: partitioning applies on PostgreSQL only; on SQLite (database_url) "
        "ledger_events is a plain table",
    ]


def test_migrations_do_not_repartition_an_existing_table() -> None:
    project, _ = load_project(PROJECT / "eventspec.yaml")
    assert project is not None
    defs = table_defs(project)
    stored = {}
    for table in defs:
        snap = snapshot_of(table)
        if snap.name == "events":
            snap = snap.__class__(**{**snap.__dict__, "partition_by": None})
        stored[snap.name] = snap
    result = diff(stored, defs, package=project.package)
    assert result.upgrade == []
    assert result.warnings == [
        "events: the table is not partitioned in the database; migrations do not re-partition "
        "an existing table (copy its events into a new one, see docs/scaling.md)"
    ]


def test_bounds_of_the_wrong_kind_are_refused(tables: Engine) -> None:
    from partitioned.data.errors import ConfigurationError

    with tables.begin() as connection:
        if tables.dialect.name == "sqlite":  # nothing is checked where nothing is done
            assert detach_partitions(connection, Event, before=5) == []
            return
        with pytest.raises(ConfigurationError, match="partitioned by occurred_at is an instant"):
            detach_partitions(connection, Event, before=5)
        with pytest.raises(ConfigurationError, match="partitioned by id is an id"):
            detach_partitions(connection, LedgerEvent, before=month(0))
        with pytest.raises(ConfigurationError, match="aware datetime"):
            detach_partitions(connection, Event, before=dt.datetime(2020, 1, 1))
        assert "events_history" in names(connection, "events")

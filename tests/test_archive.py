"""Archiving: old events move to a checked archive file after a snapshot of the state they built;
replay starts from the snapshot, or from the archive files, and equals the live state.

Runs the generated `archive_<log>` and `replay_<log>` functions of the features project (both its
logs are `archive: true`: Event with integer ids, Ledger with uuidv7 ids and encryption), on SQLite
and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import json
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from eventspec.cli import main
from features.data import _archive
from features.data.actions import account as accounts
from features.data.actions import article as articles
from features.data.actions import document as documents
from features.data.actions import member as members
from features.data.errors import ArchiveError, ReplayError
from features.data.models import (
    Account,
    Article,
    Base,
    Document,
    Event,
    EventSnapshot,
    EventSnapshotRow,
    Ledger,
    Member,
)
from features.data.replay import (
    archive_event,
    archive_ledger,
    replay_event,
    replay_ledger,
    verify_event,
    verify_ledger,
)
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tests.conftest import FEATURES, POSTGRES_URL
from tests.engines import create_engine

EVENT_TRACKED = (Article, Document, Member)
LEDGER_TRACKED = (Account,)


def rows(engine: Engine, models: tuple[Any, ...]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of ``models``' tables, typed as the models read them, sorted."""
    with Session(engine) as session:
        return {
            model.__name__: sorted(
                (tuple(row) for row in session.execute(select(*model.__table__.columns))), key=repr
            )
            for model in models
        }


def count(engine: Engine, model: Any) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def ids(engine: Engine, model: Any) -> list[Any]:
    with Session(engine) as session:
        return list(session.scalars(select(model.id).order_by(model.id)))


def write_history(engine: Engine, rounds: int, start: int = 0) -> None:
    """Events of both logs: members and articles (Event), accounts (Ledger, encrypted), with
    updates and a destroy, decimals, dates, JSON and arrays."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        for i in range(start, start + rounds):
            member = members.create(
                session,
                handle=f"m{i}",
                tags=["x", str(i)],
                profile={"n": i, "nested": {"ok": True}},
                joined_on=dt.date(2024, 1, 1) + dt.timedelta(days=i),
            )
            members.bump(session, member, by=i + 1)
            article = articles.create(
                session, title=f"A{i}", price=Decimal(f"{i}.10"), slug=f"a{i}"
            )
            if i % 2:
                articles.publish(session, article)
            workspace = uuid.uuid4()
            document = documents.create(
                session, title=f"T{i}", body="B", tenant=workspace, actor=member
            )
            documents.edit(session, document, title=f"T{i}!", tenant=workspace)
            account = accounts.open(session, owner=f"Quentin{i}", pin=f"{i:04d}-secret")
            accounts.deposit(session, account, amount=10 * i + 5)


def replayed(engine: Engine, replay: Callable[..., Any], models: tuple[Any, ...], **kw: Any) -> Any:
    """What an in-place replay makes of the tracked tables (rolled back afterwards)."""
    session = Session(engine)
    try:
        session.begin()
        replay(session, **kw)
        return {
            model.__name__: sorted(
                (tuple(row) for row in session.execute(select(*model.__table__.columns))), key=repr
            )
            for model in models
        }
    finally:
        session.rollback()
        session.close()


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
    name = f"eventspec_archive_{uuid.uuid4().hex[:12]}"
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


LOGS = {
    "event": (archive_event, replay_event, verify_event, Event, EVENT_TRACKED),
    "ledger": (archive_ledger, replay_ledger, verify_ledger, Ledger, LEDGER_TRACKED),
}


@pytest.mark.parametrize("log", sorted(LOGS))
def test_archive_half_then_replay_from_the_snapshot_equals_the_live_state(
    features: Engine, tmp_path: Path, log: str
) -> None:
    archive, replay, verify, model, tracked = LOGS[log]
    write_history(features, 6)
    live = rows(features, tracked)
    every = ids(features, model)
    middle = every[len(every) // 2]
    result = archive(features, before=middle, to=tmp_path / "a.jsonl.gz")
    assert result.count == len(every) // 2
    assert ids(features, model) == every[len(every) // 2 :]  # the archived events are gone
    assert (tmp_path / "a.jsonl.gz").exists()
    assert not (tmp_path / "a.jsonl.gz.tmp").exists()
    report = verify(features)
    assert report.identical, str(report)
    assert replayed(features, replay, tracked) == live
    # In place for real too, then again after more events.
    with Session(features) as session, session.begin():
        replay(session)
    assert rows(features, tracked) == live
    write_history(features, 2, start=6)
    assert verify(features).identical


@pytest.mark.parametrize("log", sorted(LOGS))
def test_replay_from_the_archive_into_an_empty_database_equals_the_live_state(
    features: Engine, empty: Engine, tmp_path: Path, log: str
) -> None:
    archive, replay, _verify, model, tracked = LOGS[log]
    write_history(features, 5)
    every = ids(features, model)
    archive(features, before=every[len(every) // 2], to=tmp_path / "a.jsonl.gz")
    live = rows(features, tracked)
    with Session(empty) as session, session.begin(), features.connect() as source:
        result = replay(session, source=source, archives=[tmp_path / "a.jsonl.gz"])
    assert result.applied == len(every)
    assert rows(empty, tracked) == live
    assert count(empty, model) == 0  # the events stay where they are


def test_an_encrypted_logs_archive_holds_ciphertext_only(features: Engine, tmp_path: Path) -> None:
    write_history(features, 3)
    every = ids(features, Ledger)
    archive_ledger(features, before=every[-1], to=tmp_path / "l.jsonl.gz")
    content = gzip.decompress((tmp_path / "l.jsonl.gz").read_bytes())
    assert b"Quentin" not in content and b"-secret" not in content
    header = json.loads(content.splitlines()[0])
    assert header["columns"]["data"] == "ciphertext"
    assert header["log"] == "Ledger" and header["count"] == len(every) - 1
    with features.connect() as connection:  # the snapshot's rows are encrypted as the events
        stored = connection.exec_driver_sql("SELECT row FROM ledger_events_snapshot_rows").all()
    assert len(stored) == 3
    assert all(b"Quentin" not in bytes(row) and b"secret" not in bytes(row) for (row,) in stored)


def test_a_failure_between_the_archive_and_the_delete_leaves_the_log_intact(
    features: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_history(features, 4)
    before = ids(features, Event)

    def broken(*args: Any) -> None:
        raise OSError("the disk went away")

    monkeypatch.setattr(_archive, "delete_archived", broken)
    with pytest.raises(ArchiveError, match="nothing was deleted: the log is intact") as caught:
        archive_event(features, before=before[5], to=tmp_path / "a.jsonl.gz")
    assert "the disk went away" in str(caught.value)
    assert ids(features, Event) == before
    assert count(features, EventSnapshot) == 0 and count(features, EventSnapshotRow) == 0
    assert sorted(tmp_path.glob("a.*")) == []  # neither the file nor its .tmp is left
    monkeypatch.undo()
    # Nothing is in the way of a second try.
    archive_event(features, before=before[5], to=tmp_path / "a.jsonl.gz")
    assert ids(features, Event) == before[5:]


def test_a_file_that_does_not_read_back_as_written_deletes_nothing(
    features: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_history(features, 3)
    before = ids(features, Event)
    write = _archive._write

    def corrupting(live: Engine, log: Any, path: Path, *args: Any) -> str:
        digest = write(live, log, path, *args)
        lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
        lines[1] = lines[1].replace(b'"m0"', b'"m9"')
        path.write_bytes(gzip.compress(b"".join(lines)))
        return digest

    monkeypatch.setattr(_archive, "_write", corrupting)
    with pytest.raises(ArchiveError, match=r"checksum.*nothing was deleted"):
        archive_event(features, before=before[4], to=tmp_path / "a.jsonl.gz")
    assert ids(features, Event) == before
    assert count(features, EventSnapshot) == 0
    assert sorted(tmp_path.glob("a.*")) == []


def test_a_second_archive_takes_a_second_snapshot(
    features: Engine, empty: Engine, tmp_path: Path
) -> None:
    write_history(features, 3)
    first = tmp_path / "1.jsonl.gz"
    archive_event(features, before=ids(features, Event)[-3], to=first)
    write_history(features, 3, start=3)
    second = tmp_path / "2.jsonl.gz"
    result = archive_event(features, before=ids(features, Event)[-2], to=second)
    assert result.snapshot_id == 2
    live = rows(features, EVENT_TRACKED)
    assert verify_event(features).identical
    assert replayed(features, replay_event, EVENT_TRACKED) == live
    with Session(features) as session:  # the first snapshot's rows are no longer needed
        assert session.scalars(select(EventSnapshotRow.snapshot_id).distinct()).all() == [2]
    with Session(empty) as session, session.begin(), features.connect() as source:
        replay_event(session, source=source, archives=[second, first])  # in any order
    assert rows(empty, EVENT_TRACKED) == live
    with Session(empty) as session, session.begin(), features.connect() as source:
        with pytest.raises(ArchiveError, match="pass every archive file"):
            replay_event(session, source=source, archives=[second])
        with pytest.raises(ArchiveError, match="pass that file too"):
            replay_event(session, source=source, archives=[first])


def test_a_cut_before_the_archive_boundary_is_a_clear_error(
    features: Engine, tmp_path: Path
) -> None:
    write_history(features, 1)
    with Session(features) as session:
        early_id = session.scalar(select(func.max(Event.id)))
        early_instant = session.scalar(select(func.max(Event.occurred_at)))
    # A Document event's occurred_at is its whole-second timestamp: the next second, then.
    time.sleep(1.1)
    write_history(features, 3, start=1)
    every = ids(features, Event)
    expected = replayed(features, replay_event, EVENT_TRACKED, last_event_id=early_id)
    at_instant = replayed(features, replay_event, EVENT_TRACKED, point_in_time=early_instant)
    path = tmp_path / "a.jsonl.gz"
    archive_event(features, before=every[8], to=path)
    with Session(features) as session, session.begin():
        with pytest.raises(ReplayError, match=r"were archived to a\.jsonl\.gz .*--from-archive"):
            replay_event(session, last_event_id=early_id)
        with pytest.raises(ReplayError, match="were archived"):
            replay_event(session, point_in_time=early_instant)
    # A cut at or after the boundary is fine, and from the archive any cut is.
    assert replayed(features, replay_event, EVENT_TRACKED, last_event_id=every[7])
    archived = [path]
    assert (
        replayed(features, replay_event, EVENT_TRACKED, last_event_id=early_id, archives=archived)
        == expected
    )
    assert (
        replayed(
            features, replay_event, EVENT_TRACKED, point_in_time=early_instant, archives=archived
        )
        == at_instant
    )


def test_archiving_by_instant_takes_the_events_before_it(features: Engine, tmp_path: Path) -> None:
    write_history(features, 3)
    every = ids(features, Event)
    with Session(features) as session:
        cut = session.scalar(select(Event.occurred_at).where(Event.id == every[6]))
    assert cut is not None
    result = archive_event(features, before=cut, to=tmp_path / "a.jsonl.gz")
    assert result.last_event_id == every[5]
    assert ids(features, Event) == every[6:]


def test_refusals_change_nothing(features: Engine, tmp_path: Path) -> None:
    write_history(features, 2)
    every = ids(features, Event)
    taken = tmp_path / "taken.jsonl.gz"
    taken.write_bytes(b"mine")
    with pytest.raises(ArchiveError, match="exists: an archive file is never overwritten"):
        archive_event(features, before=every[3], to=taken)
    assert taken.read_bytes() == b"mine"
    with pytest.raises(ArchiveError, match="nothing to archive"):
        archive_event(features, before=every[0], to=tmp_path / "none.jsonl.gz")
    assert ids(features, Event) == every
    assert count(features, EventSnapshot) == 0
    with (
        Session(features) as session,
        session.begin(),
        pytest.raises(ArchiveError, match=r"not an eventspec archive|not a complete gzip"),
    ):
        replay_event(session, archives=[taken])


def cli(*args: str) -> Any:
    config = ["--config", str(FEATURES / "eventspec.yaml"), "--event-log", "Event"]
    return CliRunner().invoke(main, [args[0], *config, *args[1:]], catch_exceptions=False)


def test_archive_and_replay_from_archive_on_the_command_line(
    features: Engine, database_url: str, tmp_path: Path
) -> None:
    write_history(features, 4)
    every = ids(features, Event)
    live = rows(features, EVENT_TRACKED)
    path = tmp_path / "cli.jsonl.gz"
    url = ["--database-url", database_url]
    unconfirmed = cli("archive", *url, "--before", str(every[10]), "--to", str(path))
    assert unconfirmed.exit_code == 2 and "--yes" in unconfirmed.output
    nonsense = cli("archive", *url, "--before", "soon", "--to", str(path), "--yes")
    assert nonsense.exit_code == 2 and "neither an event id of Event nor" in nonsense.output
    assert ids(features, Event) == every
    done = cli("archive", *url, "--before", str(every[10]), "--to", str(path), "--yes")
    assert done.exit_code == 0, done.output
    assert "archived 10 events of Event (ids 1 to 10)" in done.output
    header = json.loads(gzip.decompress(path.read_bytes()).splitlines()[0])
    assert header["event_schema_lock"]["Member"]["create"]  # the log's entry of the lock
    again = cli("archive", *url, "--before", str(every[12]), "--to", str(path), "--yes")
    assert again.exit_code == 2 and "never overwritten" in again.output
    early = cli("replay", *url, "--last-event-id", str(every[3]), "--yes")
    assert early.exit_code == 1
    assert early.output.startswith("error: replay failed before its first event")
    assert "--from-archive" in early.output and "Traceback" not in early.output
    into = f"sqlite:///{tmp_path / 'into.db'}"
    rebuilt = cli("replay", *url, "--from-archive", str(path), "--into", into)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert f"replayed {len(every)} events" in rebuilt.output
    target = create_engine(into)
    try:
        assert rows(target, EVENT_TRACKED) == live
    finally:
        target.dispose()
    in_place = cli("replay", *url, "--from-archive", str(path), "--yes")
    assert in_place.exit_code == 0, in_place.output
    assert rows(features, EVENT_TRACKED) == live
    plain = CliRunner().invoke(
        main,
        ["archive", "--config", str(FEATURES / "eventspec.yaml"), *url, "--before", "1"],
        catch_exceptions=False,
    )
    assert plain.exit_code == 2 and "--to" in plain.output


def test_the_async_replay_starts_from_the_snapshot_or_the_archive(
    features: Engine, database_url: str, tmp_path: Path
) -> None:
    from features.data.aio.replay import replay_event as replay_async
    from sqlalchemy.ext.asyncio import AsyncSession

    from tests.engines import create_async_engine

    write_history(features, 3)
    path = tmp_path / "a.jsonl.gz"
    archive_event(features, before=ids(features, Event)[7], to=path)
    live = rows(features, EVENT_TRACKED)

    async def main() -> list[int]:
        engine = create_async_engine(database_url)
        applied = []
        try:
            for archives in ((), (path,)):
                async with AsyncSession(engine) as session, session.begin():
                    result = await replay_async(session, archives=archives)
                    applied.append(result.applied)
        finally:
            await engine.dispose()
        return applied

    total = len(ids(features, Event))
    assert asyncio.run(main()) == [total, total + 7]
    assert rows(features, EVENT_TRACKED) == live


def test_an_event_committed_below_the_cut_meanwhile_stops_the_delete(
    features: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A uuidv7 id is made by its writer: a slow transaction may commit one below the cut after
    the snapshot was taken. The delete counts again, sees it, and deletes nothing."""
    write_history(features, 3)
    every = ids(features, Ledger)
    check = _archive._check_against

    def late_writer(*args: Any) -> None:
        check(*args)
        with Session(features) as session, session.begin():
            late = session.get(Ledger, every[0])
            assert late is not None
            values = {c.key: getattr(late, c.key) for c in Ledger.__mapper__.column_attrs}
            session.add(Ledger(**{**values, "id": uuid.UUID(int=every[0].int - 1)}))

    monkeypatch.setattr(_archive, "_check_against", late_writer)
    with pytest.raises(ArchiveError, match=r"written meanwhile; run it again; nothing was deleted"):
        archive_ledger(features, before=every[-1], to=tmp_path / "l.jsonl.gz")
    assert ids(features, Ledger)[1:] == every
    assert not (tmp_path / "l.jsonl.gz").exists()


def test_a_consumer_behind_the_archived_events_is_named(features: Engine, tmp_path: Path) -> None:
    from features.data.log import consume

    write_history(features, 2)
    every = ids(features, Event)
    with Session(features) as session, session.begin():
        consume(session, "mailer", lambda _session, _events: None, limit=3)
    result = archive_event(features, before=every[5], to=tmp_path / "a.jsonl.gz")
    assert result.behind == (("mailer", every[2]),)
    assert f"consumer 'mailer' had handled events up to {every[2]} only" in str(result)


def test_a_delete_that_may_have_committed_keeps_the_file(
    features: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection lost at COMMIT: the events may be gone, so the file is kept."""
    write_history(features, 3)
    every = ids(features, Event)
    live = rows(features, EVENT_TRACKED)
    delete = _archive.delete_archived

    def lost_at_commit(*args: Any) -> None:
        delete(*args)
        raise ConnectionError("server closed the connection unexpectedly")

    monkeypatch.setattr(_archive, "delete_archived", lost_at_commit)
    path = tmp_path / "a.jsonl.gz"
    with pytest.raises(ArchiveError, match=r"keep .*a\.jsonl\.gz, it may be their only copy"):
        archive_event(features, before=every[6], to=path)
    assert path.exists() and ids(features, Event) == every[6:]
    assert replayed(features, replay_event, EVENT_TRACKED) == live

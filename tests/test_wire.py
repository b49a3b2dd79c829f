"""Actions written straight to the driver (``_wire.py``), and what that must keep.

On PostgreSQL round trips are counted from libpq's protocol trace, as ``bench/roundtrips.py``
counts them: a turn from client messages to server messages is one wait. A create or update whose
rules are all eventspec's own sends SAVEPOINT, the lock, its writes and RELEASE in one; with a
``call`` change the SAVEPOINT comes first (the user's code runs inside it) and RELEASE after, three
in all; an engine that echoes or has a cursor listener sees every statement one by one, as before.
On both databases: a row gone before its update writes no event, and a failure names the
statement that failed and leaves nothing behind.

``create_many`` takes the same road: on PostgreSQL the SAVEPOINT, the lock, one multi-row INSERT of
the records and one of the events, and RELEASE are one round trip for the whole batch; on SQLite an
executemany each. A failure anywhere in the batch leaves no record, no event and no object.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import itertools
import logging
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from features.data import _wire as wire
from features.data.actions import account as accounts
from features.data.actions import document as documents
from features.data.actions import member as members
from features.data.models import Document, Event, Member
from psycopg import pq
from sqlalchemy import Engine, create_engine, event, func, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from tests.conftest import LEDGER_KEY
from tests.engines import create_async_engine
from tests.projects import generated_package
from tests.test_actions_features import advisory_locks
from tests.test_faults import DEFAULT_KEY, REFUSE, ghosts, refuse_marked_events
from tests.test_replay import snapshot

POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def session_of(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)


@contextmanager
def round_trips(session: Session) -> Iterator[Callable[[], int]]:
    """Count the round trips of the block on the session's connection (its transaction open)."""
    with traced(session.connection().connection.driver_connection) as count:
        yield count


@contextmanager
def traced(driver: Any) -> Iterator[Callable[[], int]]:
    """Count the round trips of the block on psycopg connection ``driver`` (sync or async)."""
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as trace:
        driver.pgconn.trace(trace.fileno())
        driver.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        turns: list[int] = []
        try:
            yield lambda: turns[0]
        finally:
            driver.pgconn.untrace()
            trace.seek(0)
            directions = [line.split("\t", 1)[0] for line in trace]
            moves = [d for d in directions if d in ("F", "B")]
            turns.append(sum(pair == ("F", "B") for pair in itertools.pairwise(moves)))


@POSTGRESQL
def test_an_async_action_is_one_round_trip_as_well(features: Engine) -> None:
    from features.data.aio.actions import member as aio_members

    url = features.url.render_as_string(hide_password=False)

    async def main() -> tuple[int, int]:
        engine = create_async_engine(url)
        try:
            async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
                await session.execute(text("SELECT 1"))  # BEGIN is behind us
                raw = await (await session.connection()).get_raw_connection()
                with traced(raw.driver_connection) as create:
                    member = await aio_members.create(session, handle="ann")
                with traced(raw.driver_connection) as bump:
                    await aio_members.bump(session, member, by=2)
            return create(), bump()
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == (1, 1)
    with session_of(features) as session:
        assert session.scalars(select(Member.karma)).all() == [2]
        assert event_count(session) == 2


@POSTGRESQL
def test_a_cancelled_async_action_leaves_neither_record_nor_event(
    features: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The task is cancelled as the pipeline queues its 1st, 2nd, ... statement (it is raised at
    the next real wait: a statement's or the pipeline's sync), until the action ends on its own;
    what each transaction then holds is committed, and every record has its event."""
    from features.data.aio.actions import member as aio_members

    at = [0]
    original = wire._pipelined_async

    class Cancelling:
        """The connection (or one of its cursors) that cancels the task at statement ``at``."""

        def __init__(self, driver: Any, queued: list[int] | None = None) -> None:
            self.driver, self.queued = driver, queued if queued is not None else [0]

        def __getattr__(self, name: str) -> Any:  # pipeline(), rowcount, pgresult
            return getattr(self.driver, name)

        def cursor(self) -> Cancelling:
            return Cancelling(self.driver.cursor(), self.queued)

        def execute(self, *args: Any) -> Any:
            self.queued[0] += 1
            if self.queued[0] == at[0]:
                task = asyncio.current_task()
                assert task is not None
                task.cancel()
            return self.driver.execute(*args)

    async def cancelling(driver: Any, *args: Any) -> list[int]:
        return await original(Cancelling(driver), *args)

    monkeypatch.setattr(wire, "_pipelined_async", cancelling)
    url = features.url.render_as_string(hide_password=False)

    async def main() -> tuple[int, set[str]]:
        engine = create_async_engine(url)
        cancelled, written = 0, set()
        try:
            async with AsyncSession(engine, expire_on_commit=False) as session:
                for k in range(1, 20):
                    at[0] = k
                    try:
                        await aio_members.create(session, handle=f"m{k}")
                    except asyncio.CancelledError:
                        cancelled += 1
                        try:  # what the transaction holds, if psycopg kept the connection
                            await session.commit()
                        except OperationalError:  # it closed it mid-pipeline: all is gone
                            await session.rollback()
                        continue
                    task = asyncio.current_task()
                    assert task is not None
                    if task.cancelling():  # asked for after the last await: the action is done
                        with contextlib.suppress(asyncio.CancelledError):
                            await asyncio.sleep(0)  # where it is delivered, if it still is
                        task.uncancel()
                    await session.commit()
                    written.add(f"m{k}")
                    if k > 5:  # past its five statements: nothing was cancelled
                        return cancelled, written
            raise AssertionError("the action never ended")
        finally:
            await engine.dispose()

    cancelled, written = asyncio.run(main())
    # A cancellation asked for as a statement is queued lands at the pipeline's next real wait:
    # how many land inside the action depends on the server's speed; at least the sync's does.
    assert cancelled >= 1
    with session_of(features) as session:
        handles = set(session.scalars(select(Member.handle)))
        recorded = set(session.scalars(select(Event.data["handle"].as_string())))
    assert handles == recorded == written  # each record with its event, the cancelled ones gone


def event_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Event)) or 0


@POSTGRESQL
def test_an_action_of_eventspecs_own_rules_is_one_round_trip(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        session.execute(text("SELECT 1"))  # BEGIN is behind us
        with round_trips(session) as create:
            member = members.create(session, handle="ann", tags=["a"])
        with round_trips(session) as again:
            members.create(session, handle="bob")  # the lock is held: one round trip all the same
        assert DEFAULT_KEY in advisory_locks(features)
        with round_trips(session) as bump:
            members.bump(session, member, by=2)  # a call change that leaves the session alone
        with round_trips(session) as rename:
            members.rename(session, member, handle="ann2")  # one that writes through it
    # rename: SQLAlchemy's SAVEPOINT when the change asks for the session, its UPDATE, the
    # pipeline (lock, UPDATE + event) and RELEASE
    assert (create(), again(), bump(), rename()) == (1, 1, 1, 4)
    with session_of(features) as session:
        stored = session.get_one(Member, member.id)
        assert (stored.handle, stored.tags, stored.karma) == ("ann2", ["a"], 2)
        assert event_count(session) == 4


@POSTGRESQL
def test_an_echoing_engine_sees_every_statement(features: Engine) -> None:
    echoing = create_engine(features.url, echo=True)
    try:
        with session_of(echoing) as session, session.begin():
            session.execute(text("SELECT 1"))
            with round_trips(session) as create:
                members.create(session, handle="cat")
        assert create() == 5  # SAVEPOINT, lock, INSERT, INSERT, RELEASE
    finally:
        echoing.dispose()


def test_the_sqlalchemy_engine_logger_sees_every_statement(
    features: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sent: list[str] = []
    monkeypatch.setattr(wire, "create", _spy(wire.create, "create", sent))
    logged = caplog.at_level(logging.INFO, logger="sqlalchemy.engine")
    with logged, session_of(features) as session, session.begin():
        members.create(session, handle="joe")
    assert sent == []
    assert any("INSERT INTO members" in record.getMessage() for record in caplog.records)


def test_a_cursor_listener_sees_every_statement(features: Engine) -> None:
    statements: list[str] = []
    with session_of(features) as session, session.begin():
        connection = session.connection()
        event.listen(
            connection, "before_cursor_execute", lambda _c, _u, sql, *_: statements.append(sql)
        )
        members.create(session, handle="dan")
    assert any(s.startswith("INSERT INTO members") for s in statements)
    assert any(s.startswith("INSERT INTO events") for s in statements)


def test_a_row_gone_before_its_update_writes_no_event(features: Engine) -> None:
    workspace = uuid.uuid4()
    with session_of(features) as session, session.begin():
        member = members.create(session, handle="eve")
        document = documents.create(session, title="Doc", tenant=workspace)
    with session_of(features) as session, session.begin():
        member = session.get_one(Member, member.id)
        document = session.get_one(Document, document.id)
        session.execute(text("DELETE FROM members"))
        session.execute(text("DELETE FROM documents"))
        before = event_count(session)
        with pytest.raises(StaleDataError, match="expected to update 1 row"):
            members.bump(session, member, by=1)  # inside SQLAlchemy's SAVEPOINT
        with pytest.raises(StaleDataError, match="expected to update 1 row"):
            documents.edit(session, document, title="New", tenant=workspace)  # its own
        assert event_count(session) == before
        assert (member.karma, document.title) == (0, "Doc")
        members.create(session, handle="fay")  # the transaction goes on
    with session_of(features) as session:
        assert session.scalars(select(Member.handle)).all() == ["fay"]


def test_a_failure_names_its_statement_and_leaves_nothing(features: Engine) -> None:
    refuse_marked_events(features)
    with session_of(features) as session, session.begin():
        members.create(session, handle="gus")
        with pytest.raises(IntegrityError) as taken:
            members.create(session, handle="gus")
        assert str(taken.value.statement).startswith("INSERT INTO members")
        with pytest.raises(DBAPIError, match="event refused") as refused:
            members.create(session, handle="hal", metadata=REFUSE)
        assert str(refused.value.statement).startswith("INSERT INTO events")
        workspace = uuid.uuid4()
        document = documents.create(session, title="Doc", tenant=workspace)
        with pytest.raises(DBAPIError, match="event refused"):  # the UPDATE is undone too
            documents.edit(session, document, title="New", tenant=workspace, metadata=REFUSE)
        assert document.title == "Doc"
        assert ghosts(session) == [] and not session.dirty
        assert session.scalars(select(Member.handle)).all() == ["gus"]
        members.create(session, handle="hal")
    with session_of(features) as session:
        assert sorted(session.scalars(select(Member.handle))) == ["gus", "hal"]
        assert session.scalars(select(Document.title)).all() == ["Doc"]


def test_what_user_code_wrote_through_the_session_goes_with_a_failed_action(
    features: Engine,
) -> None:
    with session_of(features) as session, session.begin():
        ann = members.create(session, handle="ann")
        members.create(session, handle="bob")
        with pytest.raises(IntegrityError):  # the UPDATE breaks unique_handle
            members.rename(session, ann, handle="bob")
        assert ann.handle == "ann" and not session.dirty and ghosts(session) == []
        assert session.scalars(select(Member.karma)).all() == [0, 0]  # the thanks went too
        members.rename(session, ann, handle="amy")  # the transaction goes on
    with session_of(features) as session:
        karma = dict(session.execute(select(Member.handle, Member.karma)).all())
        assert karma == {"amy": 0, "bob": 1}
        assert event_count(session) == 3


def test_the_actions_that_can_are_written_straight_to_the_driver(
    features: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    for name in ("create", "update", "destroy"):
        original = getattr(wire, name)
        monkeypatch.setattr(wire, name, _spy(original, name, sent))
    with session_of(features) as session, session.begin():
        member = members.create(session, handle="ida")  # eventspec's own rules
        members.bump(session, member, by=1)  # a call change
        members.rename(session, member, handle="ida2")  # one that uses the session
        documents.create(session, title="Doc", tenant=uuid.uuid4())  # a call validation
        members.destroy(session, member)
        members.destroy_many(session, [members.create(session, handle="jo")])  # one SAVEPOINT
    assert sent == ["create", "update", "update", "create", "destroy", "create"]


# --- destroy ------------------------------------------------------------------------------------


@POSTGRESQL
def test_a_destroy_is_one_round_trip(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        member = members.create(session, handle="kim")
        with round_trips(session) as destroy:
            members.destroy(session, member)
    assert destroy() == 1  # SAVEPOINT, lock, DELETE, the event's INSERT, RELEASE
    with session_of(features) as session:
        assert session.get(Member, member.id) is None
        assert [e.action for e in events_of(session)] == ["create", "destroy"]


def test_a_destroyed_object_leaves_the_session_as_a_flush_leaves_it(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        member = members.create(session, handle="lea")
    with session_of(features) as session:
        member = session.get_one(Member, member.id)
        members.destroy(session, member)
        assert inspect(member).deleted and member not in session
        assert session.get(Member, member.id) is None
        session.rollback()  # the caller's rollback puts it back, with its row
        assert inspect(member).persistent and session.get(Member, member.id) is member
        members.destroy(session, member)
        session.commit()
        assert inspect(member).was_deleted and not inspect(member).persistent
        assert session.get(Member, member.id) is None
        assert [e.action for e in events_of(session)] == ["create", "destroy"]


def test_a_failed_destroy_leaves_its_record_and_no_event(features: Engine) -> None:
    refuse_marked_events(features)
    with session_of(features) as session, session.begin():
        member = members.create(session, handle="max")
        with pytest.raises(DBAPIError, match="event refused") as refused:
            members.destroy(session, member, metadata=REFUSE)
        assert "INSERT INTO events" in str(refused.value.statement)  # PostgreSQL: from the DELETE
        assert inspect(member).persistent and not session.deleted and ghosts(session) == []
        assert session.scalars(select(Member.handle)).all() == ["max"]
        members.destroy(session, member)  # the transaction goes on
    with session_of(features) as session:
        assert session.scalars(select(Member.handle)).all() == []
        assert [e.action for e in events_of(session)] == ["create", "destroy"]


@pytest.mark.parametrize("path", ["driver", "unit of work"])
def test_a_row_gone_before_its_destroy_writes_no_event(features: Engine, path: str) -> None:
    """Two transactions destroying one record: the second is refused, as an update of a row
    gone is, instead of recording a destroy that did not happen (the unit of work only warns)."""
    listening = path == "unit of work"
    if listening:  # a mapper listener: the action goes through session.delete() and a flush
        event.listen(Member, "before_delete", _noticed)
    try:
        with session_of(features) as session, session.begin():
            ann = members.create(session, handle="ann")
            bob = members.create(session, handle="bob")
        with session_of(features) as session, session.begin():
            ann = session.get_one(Member, ann.id)
            session.execute(text("DELETE FROM members WHERE handle = 'ann'"))
            before = event_count(session)
            with pytest.raises(StaleDataError, match="expected to delete 1 row"):
                members.destroy(session, ann)
            assert event_count(session) == before and inspect(ann).persistent
            assert not session.deleted  # ann stays as the session knew her: expire to see
            members.destroy(session, session.get_one(Member, bob.id))  # the transaction goes on
        with session_of(features) as session:
            assert session.scalars(select(Member.handle)).all() == []
            assert [e.action for e in events_of(session)] == ["create", "create", "destroy"]
    finally:
        if listening:
            event.remove(Member, "before_delete", _noticed)


@POSTGRESQL
def test_of_two_transactions_destroying_one_record_the_second_is_refused(
    features: Engine,
) -> None:
    with session_of(features) as session, session.begin():
        member = members.create(session, handle="ora")
    first, second = session_of(features), session_of(features)
    outcome: list[BaseException | None] = []
    with first, second:
        first.begin()
        members.destroy(first, first.get_one(Member, member.id))  # holds the row and the lock
        second.begin()
        loaded = second.get_one(Member, member.id)

        def destroy() -> None:
            try:
                members.destroy(second, loaded)
                outcome.append(None)
            except BaseException as error:  # handed to the test's thread
                outcome.append(error)

        waiting = threading.Thread(target=destroy)
        waiting.start()
        waiting.join(0.5)
        assert waiting.is_alive()  # it waits for the first to end
        first.commit()
        waiting.join(10)
        assert isinstance(outcome[0], StaleDataError)
        second.rollback()
    with session_of(features) as session:
        assert [e.action for e in events_of(session)] == ["create", "destroy"]


def _noticed(*_: Any) -> None:
    pass


# --- create_many --------------------------------------------------------------------------------


def handles(count: int, start: int = 0) -> list[members.CreateInput]:
    return [{"handle": f"m{i:03}", "karma": i % 3} for i in range(start, start + count)]


def events_of(session: Session) -> list[Event]:
    return list(session.scalars(select(Event).order_by(Event.id)))


@POSTGRESQL
def test_a_batch_of_eventspecs_own_rules_is_one_round_trip(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        session.execute(text("SELECT 1"))  # BEGIN is behind us
        with round_trips(session) as first:
            made = members.create_many(session, handles(50))
        with round_trips(session) as second:  # the lock is held now
            more = members.create_many(session, handles(50, start=50))
        assert DEFAULT_KEY in advisory_locks(features)
    assert (first(), second()) == (1, 1)
    with session_of(features) as session:
        assert [e.record_id for e in events_of(session)] == [m.id for m in made + more]
        stored = session.scalars(select(Member.handle).order_by(Member.handle)).all()
        assert stored == [m.handle for m in made + more]


@POSTGRESQL
def test_a_batch_beyond_the_parameter_limit_is_split_in_the_same_round_trip(
    features: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wire, "_MAX_PARAMETERS", 40)  # 6 members or 3 events per INSERT
    with session_of(features) as session, session.begin():
        session.execute(text("SELECT 1"))
        with round_trips(session) as batch:
            made = members.create_many(session, handles(20))
    assert batch() == 1
    with session_of(features) as session:
        assert [e.record_id for e in events_of(session)] == [m.id for m in made]
        assert session.scalar(select(func.count()).select_from(Member)) == 20


@pytest.mark.parametrize("failing", ["record", "event"])
def test_a_batch_failing_midway_leaves_nothing(features: Engine, failing: str) -> None:
    refuse_marked_events(features)
    with session_of(features) as session, session.begin():
        kept = members.create(session, handle="m030")
        inputs = handles(50)
        metadata = None
        if failing == "event":  # the records are written, then the events refused
            inputs[30]["handle"] = "new"
            metadata = REFUSE
        error = IntegrityError if failing == "record" else DBAPIError
        with pytest.raises(error) as caught:  # row 30 is taken
            members.create_many(session, inputs, metadata=metadata)
        table = "members" if failing == "record" else "events"
        assert str(caught.value.statement).startswith(f"INSERT INTO {table}")
        assert ghosts(session) == [] and not session.new and not session.dirty
        assert list(session.identity_map.values()) == [kept]
        assert session.scalars(select(Member.handle)).all() == ["m030"]
        assert event_count(session) == 1
        made = members.create_many(session, handles(2))  # the transaction goes on
    with session_of(features) as session:
        assert sorted(session.scalars(select(Member.handle))) == ["m000", "m001", "m030"]
        assert [e.record_id for e in events_of(session)] == [kept.id, *(m.id for m in made)]


def test_a_batch_replays_to_what_it_wrote(features: Engine) -> None:
    from features.data.replay import replay_event

    with session_of(features) as session, session.begin():
        made = members.create_many(session, [*handles(3), {"handle": "tagged", "tags": ["a"]}])
        members.bump(session, made[0], by=2)
        live = snapshot(session, (Member,))
    with session_of(features) as session, session.begin():
        replay_event(session)
    with session_of(features) as session:
        assert snapshot(session, (Member,)) == live


def test_batches_go_to_the_driver_where_single_creates_do(
    features: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    monkeypatch.setattr(wire, "create_many", _spy(wire.create_many, "many", sent))
    with session_of(features) as session, session.begin():
        members.create_many(session, handles(2))  # eventspec's own rules: its own SAVEPOINT
        documents.create_many(session, [{"title": "Doc"}], tenant=uuid.uuid4())  # a call
        accounts.open_many(session, [{"owner": "ann"}])  # the database makes the key
    assert sent == ["many", "many"]


# A log encrypted, keyed by uuidv7 (made in Python: the statements sent carry it), and a change
# that drops a defaulted attribute from some rows: its default is written, as SQLAlchemy's INSERT
# fills it in (both failed with a KeyError on the driver's road before). Titles of odd and even
# length take different advisory locks.
VAULT = """\
kind: event_log
name: Vault
table: vault_events
primary_key_type: uuidv7
encryption: {key_env: WIRE_VAULT_KEYS}
advisory_lock_key_generator: TOP.changes:lock_key
---
kind: resource
name: Note
attributes:
  id: {type: uuid, primary_key: true, default: uuid4, writable: false}
  title: {type: string, allow_nil: false}
  secret: {type: string, sensitive: true}
  stars: {type: integer, default: 5}
identities:
  unique_title: [title]
actions:
  create:
    type: create
    accept: [title, secret, stars]
    changes:
      - call: TOP.changes:unstarred
  retitle: {type: update, accept: [title]}
events: {event_log: Vault}
"""
UNSTARRED = """\
from sqlalchemy import text


def unstarred(changeset):
    if changeset.attributes["title"].startswith("plain"):
        del changeset.attributes["stars"]
    if changeset.attributes["title"].startswith("counted"):  # code that uses the database
        changeset.session.execute(text("SELECT count(*) FROM notes"))


def lock_key(changeset, default):
    return 100 + len(changeset.get("title")) % 2
"""


@pytest.fixture(scope="module")
def vault_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    top = f"wirevault_{uuid.uuid4().hex[:8]}"
    spec = VAULT.replace("TOP", top)
    with generated_package(tmp_path_factory.mktemp("vault"), top, {"notes.yaml": spec}) as src:
        (src / "changes.py").write_text(UNSTARRED, encoding="utf-8")
        yield SimpleNamespace(
            models=importlib.import_module(f"{top}.data.models"),
            notes=importlib.import_module(f"{top}.data.actions.note"),
            replay=importlib.import_module(f"{top}.data.replay").replay,
            wire=importlib.import_module(f"{top}.data._wire"),
        )


@pytest.fixture
def vault(
    vault_package: SimpleNamespace, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> SimpleNamespace:
    monkeypatch.setenv("WIRE_VAULT_KEYS", LEDGER_KEY)
    vault_package.models.Base.metadata.create_all(engine)
    return SimpleNamespace(**vars(vault_package), engine=engine)


def test_an_encrypted_batch_with_dropped_defaults_round_trips(
    vault: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    Note, Vault = vault.models.Note, vault.models.Vault
    sent: list[str] = []
    monkeypatch.setattr(vault.wire, "create_many", _spy(vault.wire.create_many, "many", sent))
    inputs = [
        {"title": "starred", "secret": "s3cret-one", "stars": 2},
        {"title": "plain one", "secret": "s3cret-two", "stars": 3},  # stars dropped
        {"title": "plain two"},
        {"title": "defaulted"},
    ]
    with session_of(vault.engine) as session, session.begin():
        made = vault.notes.create_many(session, inputs)
        single = vault.notes.create(session, title="single", secret="s3cret-three")
        vault.notes.retitle(session, single, title="retitled")
        assert [n.stars for n in made] == [2, 5, 5, 5]  # the dropped ones take the default
        live = snapshot(session, (Note,))
    assert sent == ["many"]
    with vault.engine.connect() as connection:
        raw = connection.execute(text("SELECT data FROM vault_events")).scalars().all()
    assert len(raw) == 6
    assert not [blob for blob in raw if b"s3cret" in bytes(blob) or b'"title"' in bytes(blob)]
    with session_of(vault.engine) as session:
        events = session.scalars(select(Vault).order_by(Vault.id)).all()
        assert [e.record_id for e in events] == [*(n.id for n in made), single.id, single.id]
        assert events[0].data == {"title": "starred", "secret": "s3cret-one", "stars": 2}
        assert [e.changed_attributes.get("stars") for e in events[:4]] == [None, None, None, 5]
    with session_of(vault.engine) as session, session.begin():
        vault.replay(session)
    with session_of(vault.engine) as session:
        assert snapshot(session, (Note,)) == live


@POSTGRESQL
def test_a_batch_opens_sqlalchemys_savepoint_first_only_when_its_code_asks_for_the_session(
    vault: SimpleNamespace,
) -> None:
    with session_of(vault.engine) as session, session.begin():
        session.execute(text("SELECT 1"))
        with round_trips(session) as alone:  # a call change that leaves the session alone
            vault.notes.create_many(session, [{"title": f"n{i}"} for i in range(20)])
        assert {(0, 100, 1), (0, 101, 1)} <= advisory_locks(vault.engine)  # both keys
        with round_trips(session) as asking:  # the second input's asks for it
            made = vault.notes.create_many(session, [{"title": "m0"}, {"title": "counted"}])
    # SAVEPOINT as the second input's code asks, its SELECT, the INSERTs, RELEASE
    assert (alone(), asking()) == (1, 4)
    assert [note.title for note in made] == ["m0", "counted"]


def test_a_failing_encrypted_batch_names_no_secret(vault: SimpleNamespace) -> None:
    inputs = [{"title": "same", "secret": "s3cret-a"}, {"title": "same", "secret": "s3cret-b"}]
    with session_of(vault.engine) as session, session.begin():
        with pytest.raises(IntegrityError) as caught:
            vault.notes.create_many(session, inputs)
        assert "s3cret" not in str(caught.value)
        assert ghosts(session) == []
        assert session.scalar(select(func.count()).select_from(vault.models.Vault)) == 0


def _spy(original: Callable[..., Any], name: str, sent: list[str]) -> Callable[..., Any]:
    def spy(*args: Any, **kwargs: Any) -> Any:
        sent.append(name)
        return original(*args, **kwargs)

    return spy

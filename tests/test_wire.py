"""Actions written straight to the driver (``_wire.py``), and what that must keep.

On PostgreSQL round trips are counted from libpq's protocol trace, as ``bench/roundtrips.py``
counts them: a turn from client messages to server messages is one wait. A create or update whose
rules are all eventspec's own sends SAVEPOINT, the lock, its writes and RELEASE in one; with a
``call`` change the SAVEPOINT comes first (the user's code runs inside it) and RELEASE after, three
in all; an engine that echoes or has a cursor listener sees every statement one by one, as before.
On both databases: a row gone before its update writes no event, and a failure names the
statement that failed and leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from features.data import _wire as wire
from features.data.actions import document as documents
from features.data.actions import member as members
from features.data.models import Document, Event, Member
from psycopg import pq
from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from tests.engines import create_async_engine
from tests.test_actions_features import advisory_locks
from tests.test_faults import DEFAULT_KEY, REFUSE, ghosts, refuse_marked_events

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
    the next await: the statement itself or the pipeline's sync), until the action ends on its
    own; what each transaction then holds is committed, and every record has its event."""
    from features.data.aio.actions import member as aio_members

    at = [0]
    original = wire._pipelined_async

    class Cancelling:
        def __init__(self, driver: Any) -> None:
            self.driver, self.queued = driver, 0

        def pipeline(self) -> Any:
            return self.driver.pipeline()

        def execute(self, *args: Any) -> Any:
            self.queued += 1
            if self.queued == at[0]:
                task = asyncio.current_task()
                assert task is not None
                task.cancel()
            return self.driver.execute(*args)

    async def cancelling(driver: Any, *args: Any) -> list[int]:
        return await original(Cancelling(driver), *args)

    monkeypatch.setattr(wire, "_pipelined_async", cancelling)
    url = features.url.render_as_string(hide_password=False)

    async def main() -> int:
        engine = create_async_engine(url)
        try:
            async with AsyncSession(engine, expire_on_commit=False) as session:
                for k in range(1, 20):
                    at[0] = k
                    try:
                        await aio_members.create(session, handle=f"m{k}")
                    except asyncio.CancelledError:
                        await session.commit()
                        continue
                    await session.commit()
                    return k - 1
            raise AssertionError("the action never ended")
        finally:
            await engine.dispose()

    cancelled = asyncio.run(main())
    assert cancelled == 5  # at SAVEPOINT, the lock, both INSERTs and RELEASE
    with session_of(features) as session:
        handles = set(session.scalars(select(Member.handle)))
        recorded = set(session.scalars(select(Event.data["handle"].as_string())))
    assert handles == recorded == {f"m{cancelled + 1}"}


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
    for name in ("create", "update"):
        original = getattr(wire, name)
        monkeypatch.setattr(wire, name, _spy(original, name, sent))
    with session_of(features) as session, session.begin():
        member = members.create(session, handle="ida")  # eventspec's own rules
        members.bump(session, member, by=1)  # a call change
        members.rename(session, member, handle="ida2")  # one that uses the session
        documents.create(session, title="Doc", tenant=uuid.uuid4())  # a call validation
        members.destroy(session, member)  # destroys take the unit of work
    assert sent == ["create", "update", "update", "create"]


def _spy(original: Callable[..., Any], name: str, sent: list[str]) -> Callable[..., Any]:
    def spy(*args: Any, **kwargs: Any) -> Any:
        sent.append(name)
        return original(*args, **kwargs)

    return spy

"""The generated ``aio`` modules: every action kind, replay and clear-records through an
``AsyncSession``, on ``sqlite+aiosqlite`` and ``postgresql+psycopg`` (async); errors equal to the
sync ones; concurrent tasks; cancellation. (``tests/aio/`` runs the sync suite through the async
stack as well.)"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import subprocess
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from accounts.actors import SystemActor
from accounts.data.actions import org as sync_orgs
from accounts.data.actions import user as sync_users
from accounts.data.aio.actions import org as orgs
from accounts.data.aio.actions import user as users
from accounts.data.aio.actions import user_role as roles
from accounts.data.aio.clear_records import clear_records
from accounts.data.aio.replay import replay
from accounts.data.errors import ValidationError
from accounts.data.models import Base, Event, Org, User, UserRole
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from tests.engines import create_async_engine
from tests.test_golden import BIN, package_dir
from tests.test_replay import snapshot

TRACKED = (Org, User, UserRole)
Body = Callable[[AsyncEngine], Awaitable[None]]


def run(database_url: str, body: Body, metadata: Any = Base.metadata, **options: Any) -> None:
    """Create ``metadata``'s tables on an async engine of ``database_url`` and await ``body``."""

    async def main() -> None:
        engine = create_async_engine(database_url, **options)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(metadata.create_all)
            await body(engine)
        finally:
            await engine.dispose()

    asyncio.run(main())


def session_of(engine: AsyncEngine) -> AsyncSession:
    return AsyncSession(engine, expire_on_commit=False)


async def actions_of(session: AsyncSession) -> list[tuple[str, str]]:
    rows = await session.execute(select(Event.resource, Event.action).order_by(Event.id))
    return [(resource, action) for resource, action in rows]


async def count(session: AsyncSession, model: Any) -> int:
    return await session.scalar(select(func.count()).select_from(model)) or 0


def test_every_action_kind_and_replay_through_the_async_api(database_url: str) -> None:
    admin = SystemActor("admin")

    async def body(engine: AsyncEngine) -> None:
        async with session_of(engine) as session, session.begin():
            acme = await orgs.create(session, name="Acme", actor=admin, metadata={"via": "aio"})
            ann = await users.create(
                session, email="ann@example.com", password="pw", org_id=acme.id
            )
            await users.update(session, ann, given_name="Ann", actor=ann)
            await users.register(session, email="bob@example.com", given_name="Bob")
            bob = await users.register(session, email="bob@example.com", given_name="Robert")
            await users.change_password(session, bob, password="new")
            await users.suspend(session, bob, actor=admin)
            await users.soft_delete(session, bob)
            await users.create_v1(session, email="old@example.com")  # ignored: no event
            many = await orgs.create_many(session, [{"name": "One"}, {"name": "Two"}])
            await orgs.rename_many(session, [(o, {"name": o.name + "!"}) for o in many])
            await orgs.destroy_many(session, many)
            cy = await users.create(session, email="cy@example.com")
            await session.refresh(cy, ["roles"])
            await roles.revoke_many(session, list(cy.roles))
            await users.destroy(session, cy)
            await roles.grant(session, user_id=ann.id, name="owner")
            await orgs.rename(session, acme, name="Acme Inc")
        async with session_of(engine) as session:
            assert await actions_of(session) == [
                ("Org", "create"),
                ("User", "create"),
                ("UserRole", "grant"),  # the after_action hook, run in the same greenlet
                ("User", "update"),
                ("User", "register"),
                ("User", "register"),
                ("User", "change_password"),
                ("User", "suspend"),
                ("User", "soft_delete"),
                *[("Org", "create")] * 2,
                *[("Org", "rename")] * 2,
                *[("Org", "destroy")] * 2,
                ("User", "create"),
                ("UserRole", "grant"),
                ("UserRole", "revoke"),
                ("User", "destroy"),
                ("UserRole", "grant"),
                ("Org", "rename"),
            ]
            first = await session.scalar(select(Event).order_by(Event.id).limit(1))
            assert first is not None
            assert (first.system_actor, first.metadata_) == ("admin", {"via": "aio"})
            before = await session.run_sync(snapshot, TRACKED)
            stamps = list(await session.scalars(select(Event.occurred_at).order_by(Event.id)))
            ids = list(await session.scalars(select(Event.id).order_by(Event.id)))
        # The old user of the ignored action has no event: replay rebuilds the rest exactly.
        async with session_of(engine) as session, session.begin():
            await session.execute(text("DELETE FROM users WHERE email = 'old@example.com'"))
            before["User"] = [row for row in before["User"] if "old@example.com" not in row]
            result = await replay(session)
        assert result.applied == len(ids)
        async with session_of(engine) as session:
            assert await session.run_sync(snapshot, TRACKED) == before
            assert await count(session, Event) == len(ids)
        # Up to an event id, and up to a point in time: the Org as it was first created.
        async with session_of(engine) as session, session.begin():
            await replay(session, last_event_id=ids[0])
            assert [o.name for o in await session.scalars(select(Org))] == ["Acme"]
            assert await count(session, User) == 0
        async with session_of(engine) as session, session.begin():
            await replay(session, point_in_time=stamps[1])
            assert await count(session, User) == 1
        async with session_of(engine) as session, session.begin():
            await clear_records(session)
            assert [await count(session, m) for m in (*TRACKED, Event)] == [0, 0, 0, len(ids)]

    run(database_url, body)


def test_features_actions_replay_both_logs(database_url: str, monkeypatch: Any) -> None:
    """Integer keys, an encrypted log, a tenant, version routes, both replays of two logs."""
    from features.actors import Service
    from features.data.aio.actions import account as accounts
    from features.data.aio.actions import article as articles
    from features.data.aio.actions import document as documents
    from features.data.aio.actions import member as members
    from features.data.aio.clear_records import clear_event, clear_ledger
    from features.data.aio.replay import replay_event, replay_ledger
    from features.data.models import Account, Article, Base, Document, Ledger, Member

    from tests.conftest import LEDGER_KEY

    monkeypatch.setenv("FEATURES_LEDGER_KEYS", LEDGER_KEY)
    models = (Account, Article, Document, Member)

    async def body(engine: AsyncEngine) -> None:
        workspace = uuid.uuid4()
        async with session_of(engine) as session, session.begin():
            account = await accounts.open(session, owner="ada", pin="1234")
            await accounts.deposit(session, account, amount=5)
            author = await members.create(session, handle="ty", joined_on=dt.date(2024, 2, 29))
            await members.bump(session, author, by=2)
            doc = await documents.create(session, title="T", tenant=workspace, actor=author)
            await documents.edit(session, doc, title="T2", tenant=workspace)
            article = await articles.create(session, title="A", price=Decimal("9.99"), slug="a")
            await articles.publish(session, article)
            await articles.publish_v1(session, article)  # ignored: a replay target only
            await articles.import_article(session, title="B", slug="b", actor=Service("feed"))
            await articles.archive(session, article)
        async with session_of(engine) as session:
            before = await session.run_sync(snapshot, models)
            ledger = list(await session.scalars(select(Ledger.action).order_by(Ledger.id)))
            assert ledger == ["open", "deposit"]
        async with session_of(engine) as session, session.begin():
            await clear_event(session)
            await clear_ledger(session)
            assert sum([await count(session, m) for m in models]) == 0
            await replay_event(session)
            await replay_ledger(session)
        async with session_of(engine) as session:
            assert await session.run_sync(snapshot, models) == before

    run(database_url, body, Base.metadata)


def test_errors_are_the_sync_errors_and_leave_nothing(database_url: str) -> None:
    async def body(engine: AsyncEngine) -> None:
        calls: list[Callable[[AsyncSession], Awaitable[Any]]] = [
            lambda s: users.create(s, email="not-an-email"),
            lambda s: users.create(s, email="x@example.com", hashed_password="x"),  # type: ignore[call-arg]
            lambda s: orgs.create(s, name="Broken", metadata={"when": object()}),
        ]
        syncs: list[Callable[[Session], Any]] = [
            lambda s: sync_users.create(s, email="not-an-email"),
            lambda s: sync_users.create(s, email="x@example.com", hashed_password="x"),  # type: ignore[call-arg]
            lambda s: sync_orgs.create(s, name="Broken", metadata={"when": object()}),
        ]
        async with session_of(engine) as session, session.begin():
            for call, sync in zip(calls, syncs, strict=True):
                with pytest.raises(Exception) as raised:
                    await call(session)
                with pytest.raises(Exception) as expected:
                    await session.run_sync(sync)
                assert type(raised.value) is type(expected.value)  # not wrapped
                assert str(raised.value) == str(expected.value)
            assert isinstance(raised.value, TypeError)
            assert await count(session, User) == await count(session, Event) == 0
            await orgs.create(session, name="Still usable")
        async with session_of(engine) as session:
            assert await count(session, Org) == await count(session, Event) == 1

    run(database_url, body)


def test_validation_error_fields_match(database_url: str) -> None:
    async def body(engine: AsyncEngine) -> None:
        async with session_of(engine) as session, session.begin():
            user = await users.create(session, email="di@example.com")
            await users.suspend(session, user)
            with pytest.raises(ValidationError) as error:
                await users.suspend(session, user)
        assert (error.value.field, error.value.message) == ("status", "is already suspended")

    run(database_url, body)


def test_concurrent_tasks_on_one_loop_lose_nothing_and_keep_lock_order(database_url: str) -> None:
    """Eight tasks, each with its own session, interleave their creates on one event loop. On
    PostgreSQL the advisory lock held from the first event to the commit keeps every
    transaction's events together, in one run of ids; SQLite has one writer, so its async engine
    gets one connection, which the sessions take in turn."""
    tasks, per_task = 8, 5
    postgres = database_url.startswith("postgresql")
    options: dict[str, Any] = {} if postgres else {"pool_size": 1, "max_overflow": 0}

    async def writer(engine: AsyncEngine, n: int) -> None:
        async with session_of(engine) as session, session.begin():
            for i in range(per_task):
                await orgs.create(session, name=f"Org {n}-{i}")
                await asyncio.sleep(0)  # let the other tasks run in between

    async def body(engine: AsyncEngine) -> None:
        await asyncio.gather(*(writer(engine, n) for n in range(tasks)))
        async with session_of(engine) as session:
            rows = (
                await session.execute(
                    select(Event.id, Org.name)
                    .join(Org, Org.id == Event.record_id)
                    .order_by(Event.id)
                )
            ).all()
        assert len(rows) == tasks * per_task
        assert sorted(name for _, name in rows) == sorted(
            f"Org {n}-{i}" for n in range(tasks) for i in range(per_task)
        )
        owners = [name.split("-")[0] for _, name in rows]
        runs = [owner for k, owner in enumerate(owners) if k == 0 or owners[k - 1] != owner]
        assert len(runs) == tasks  # each transaction's events are one run of ids

    run(database_url, body, **options)


async def cancel_at_every_statement(
    engine: AsyncEngine, session: AsyncSession, call: Callable[[int], Coroutine[Any, Any, Any]]
) -> int:
    """Run ``call(k)`` and cancel it while its k-th statement is in flight, for k = 1, 2, ...
    until it ends before its k-th statement, so that every await point of it is hit once. After
    each, commit what the transaction holds (or roll back when the connection is gone).
    Returns how many runs were cancelled."""
    sent = [0]

    def count_statement(*args: Any) -> None:
        sent[0] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count_statement)
    for k in range(1, 200):
        sent[0] = 0
        task = asyncio.create_task(call(k))
        while sent[0] < k and not task.done():
            await asyncio.sleep(0)
        if task.done():
            await task
            await session.commit()
            event.remove(engine.sync_engine, "before_cursor_execute", count_statement)
            return k - 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        del task
        try:
            await session.commit()
        except Exception:
            await session.rollback()
        await release_interrupted_sqlite_calls()
    raise AssertionError("the call never ended")


async def release_interrupted_sqlite_calls() -> None:
    """aiosqlite's worker keeps the call a cancellation interrupted, and through it the cursor of
    the connection SQLAlchemy then invalidated: until the worker thread has ended and the garbage
    is collected, SQLite keeps that connection's locks (aiosqlite issue 259). Wait for the
    workers of closed connections, then collect: what a long-running program does on its own."""
    stopped = [
        c for c in gc.get_objects() if isinstance(c, aiosqlite.Connection) and not c._running
    ]
    for connection in stopped:
        await asyncio.to_thread(connection._thread.join, 10)
    stopped.clear()
    gc.collect()


@pytest.mark.parametrize("bulk", [False, True], ids=["create", "create_many"])
def test_cancelled_task_leaves_neither_record_nor_event(database_url: str, bulk: bool) -> None:
    """A cancelled action (its hook's nested action and both events, or a bulk call in one
    SAVEPOINT) stores a record only with its event, and the session works again after
    ``rollback()``."""

    def call(session: AsyncSession) -> Callable[[int], Coroutine[Any, Any, Any]]:
        if bulk:
            return lambda k: users.create_many(
                session, [{"email": f"u{k}-{i}@example.com"} for i in range(3)]
            )
        return lambda k: users.create(session, email=f"u{k}@example.com")

    async def body(engine: AsyncEngine) -> None:
        async with session_of(engine) as session:
            cancelled = await cancel_at_every_statement(engine, session, call(session))
            await session.rollback()
            await users.create(session, email="after@example.com")  # usable after rollback
            await session.commit()
            users_ = set(await session.scalars(select(User.id)))
            created = set(
                await session.scalars(select(Event.record_id).where(Event.resource == "User"))
            )
            roles_ = set(await session.scalars(select(UserRole.user_id)))
        assert cancelled >= 4  # BEGIN, SAVEPOINT, the inserts, the lock...: mid-action
        assert users_ == created == roles_  # no record without its event, nor an event alone
        assert len(users_) >= 2 + 2 * bulk

    run(database_url, body)


def test_cancelled_replay_leaves_the_state_it_found(database_url: str) -> None:
    async def body(engine: AsyncEngine) -> None:
        async with session_of(engine) as session, session.begin():
            for n in range(3):
                user = await users.create(session, email=f"r{n}@example.com")
                await users.update(session, user, given_name=f"R{n}")
        async with session_of(engine) as session:
            before = await session.run_sync(snapshot, TRACKED)
            events = await count(session, Event)
            cancelled = await cancel_at_every_statement(
                engine, session, lambda k: replay(session, batch_size=2)
            )
            await session.rollback()
            assert await session.run_sync(snapshot, TRACKED) == before
            assert await count(session, Event) == events
        assert cancelled >= 8

    run(database_url, body)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_cancelled_while_waiting_for_the_advisory_lock(database_url: str) -> None:
    """A task waiting for another transaction's advisory lock (PostgreSQL only: SQLite has none)
    is cancelled there: its record, already inserted in its SAVEPOINT, goes; the lock holder is
    not disturbed, and the session works again after ``rollback()``."""

    async def waiting(engine: AsyncEngine) -> int:
        async with engine.connect() as connection:
            query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            return int((await connection.execute(text(query))).scalar_one())

    async def body(engine: AsyncEngine) -> None:
        async with session_of(engine) as holder, session_of(engine) as other:
            await holder.begin()
            await orgs.create(holder, name="Holder")
            task = asyncio.create_task(orgs.create(other, name="Waiter"))
            while await waiting(engine) == 0:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await other.rollback()
            await holder.commit()
            await orgs.create(other, name="After")
            await other.commit()
            names = sorted(await other.scalars(select(Org.name)))
            assert names == ["After", "Holder"]
            assert await count(other, Event) == 2

    run(database_url, body)


def test_mypy_flags_an_async_caller_passing_a_wrong_type(tmp_path: Path) -> None:
    base, _ = package_dir("accounts")
    caller = tmp_path / "caller.py"
    caller.write_text(
        "from sqlalchemy.ext.asyncio import AsyncSession\n"
        "from sqlalchemy.orm import Session\n"
        "from accounts.data.aio.actions import user as users\n"
        "from accounts.data.aio.replay import replay\n\n\n"
        "async def good(session: AsyncSession) -> None:\n"
        "    user = await users.create(session, email='a@b.c', role='admin')\n"
        "    await users.update(session, user, given_name='x')\n"
        "    await replay(session, last_event_id=3)\n\n\n"
        "async def bad(session: AsyncSession, sync: Session) -> None:\n"
        "    await users.create(session, email=42)\n"
        "    await users.create(session, given_name='no email')\n"
        "    await users.update(session, None, given_name='x')\n"
        "    await users.create(sync, email='a@b.c')\n"
        "    await replay(session, last_event_id='3')\n"
        "    users.create(session, email='a@b.c')\n"
    )
    result = subprocess.run(
        [BIN / "mypy", "--strict", "--no-incremental", str(caller)],
        cwd=base,
        capture_output=True,
        text=True,
        env={"MYPYPATH": str(base), "PATH": str(BIN)},
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    # The last line forgets the await: mypy --strict reports the unused coroutine.
    assert [line.split(":")[1] for line in errors] == ["14", "15", "16", "17", "18", "19"], (
        result.stdout
    )


def test_replay_reads_the_events_through_an_async_source(database_url: str, tmp_path: Path) -> None:
    """``source=``: the events of one database (an ``AsyncSession`` on it) replayed into another."""

    async def body(engine: AsyncEngine) -> None:
        async with session_of(engine) as session, session.begin():
            acme = await orgs.create(session, name="Acme")
            await orgs.rename(session, acme, name="Acme Inc")
        into = create_async_engine(f"sqlite:///{tmp_path / 'into.db'}")
        try:
            async with into.begin() as connection:
                await connection.run_sync(Base.metadata.create_all)
            async with session_of(engine) as source, session_of(into) as session:
                async with session.begin():
                    result = await replay(session, source=source)
                assert result.applied == 2
                assert list(await session.scalars(select(Org.name))) == ["Acme Inc"]
                assert await count(session, Event) == 0  # the events stay in the source
        finally:
            await into.dispose()

    run(database_url, body)


def test_the_sync_package_does_not_import_the_async_one() -> None:
    """The generated sync code needs SQLAlchemy only: nothing of it imports ``aio`` or asyncio."""
    code = (
        "import sys\n"
        "import accounts.data.actions.user, accounts.data.replay, accounts.data.clear_records\n"
        "loaded = [m for m in sys.modules if m.startswith('accounts.data.aio')\n"
        "          or m in ('sqlalchemy.ext.asyncio', 'greenlet', 'aiosqlite')]\n"
        "assert not loaded, loaded\n"
    )
    base, _ = package_dir("accounts")
    result = subprocess.run(
        [BIN / "python", "-c", code], cwd=base, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr

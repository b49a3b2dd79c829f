"""Faults at the database leave nothing behind: no ghost in the session, no lock assumed held.

A statement refused by the database (a trigger, a CHECK constraint, a unique key, on PostgreSQL a
``statement_timeout`` while waiting for the advisory lock) fails the action; the session must then
hold exactly what the database holds, and the caller's transaction must go on.
"""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from features.data._locks import tenant_lock_key
from features.data.actions import account as accounts
from features.data.actions import article as articles
from features.data.actions import document as documents
from features.data.actions import member as members
from features.data.models import Account, Article, Document, Event, Member
from sqlalchemy import Engine, event, func, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tests.test_actions_features import advisory_locks

REFUSE = {"refuse": True}  # metadata the trigger below refuses


def session_of(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)


def refuse_marked_events(engine: Engine) -> None:
    """A trigger failing every event INSERT whose metadata has a ``refuse`` key."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_event BEFORE INSERT ON events "
                "WHEN json_extract(NEW.metadata, '$.refuse') IS NOT NULL "
                "BEGIN SELECT RAISE(ABORT, 'event refused'); END"
            )
            return
        connection.exec_driver_sql(
            "CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.metadata ? 'refuse' THEN RAISE EXCEPTION 'event refused'; END IF; "
            "RETURN NEW; END $$"
        )
        connection.exec_driver_sql(
            "CREATE TRIGGER refuse_event BEFORE INSERT ON events "
            "FOR EACH ROW EXECUTE FUNCTION refuse_event()"
        )


def observed(session: Session) -> Session:
    """A listener the Core fast path cannot serve: actions go through the unit of work."""
    event.listen(session, "before_flush", lambda *_: None)
    return session


SESSIONS: dict[str, Callable[[Engine], Session]] = {
    "core": session_of,
    "orm": lambda engine: observed(session_of(engine)),
}


def ghosts(session: Session) -> list[Any]:
    """Objects the session holds as persistent or pending whose row does not exist."""
    found = []
    for obj in [*session.identity_map.values(), *session.new]:
        state = inspect(obj)
        model = type(obj)
        key = state.identity or (getattr(obj, "id", None),)
        exists = session.scalar(
            select(func.count()).select_from(model).where(model.id == key[0])  # type: ignore[attr-defined]
        )
        if not exists:
            found.append(obj)
    return found


def count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def refusing(features: Engine) -> Engine:
    refuse_marked_events(features)
    return features


@pytest.mark.parametrize("path", sorted(SESSIONS))
def test_a_refused_create_leaves_no_ghost(refusing: Engine, path: str) -> None:
    with SESSIONS[path](refusing) as session, session.begin():
        with pytest.raises(DBAPIError, match="event refused"):
            members.create(session, handle="ghost", metadata=REFUSE)
        with pytest.raises(DBAPIError, match="event refused"):
            articles.create(session, title="Ghost", slug="ghost", metadata=REFUSE)
        assert ghosts(session) == []
        assert count(session, Event) == 0
        members.create(session, handle="ghost")  # the transaction goes on
    with session_of(refusing) as session:
        assert session.scalars(select(Member.handle)).all() == ["ghost"]
        assert count(session, Event) == 1


def test_a_refused_create_many_leaves_no_ghost(refusing: Engine) -> None:
    with session_of(refusing) as session, session.begin():
        with pytest.raises(DBAPIError, match="event refused"):
            members.create_many(session, [{"handle": "g1"}, {"handle": "g2"}], metadata=REFUSE)
        assert ghosts(session) == []
        assert count(session, Member) == 0
        members.create_many(session, [{"handle": "g1"}])
    with session_of(refusing) as session:
        assert session.scalars(select(Member.handle)).all() == ["g1"]


@pytest.mark.parametrize("path", sorted(SESSIONS))
def test_a_refused_update_restores_the_object(refusing: Engine, path: str) -> None:
    with session_of(refusing) as session, session.begin():
        member = members.create(session, handle="kept", karma=1)
        article = articles.create(session, title="Kept", slug="kept")
    with SESSIONS[path](refusing) as session, session.begin():
        member = session.get_one(Member, member.id)
        article = session.get_one(Article, article.id)
        with pytest.raises(DBAPIError, match="event refused"):
            members.bump(session, member, by=5, metadata=REFUSE)
        with pytest.raises(DBAPIError, match="event refused"):
            articles.publish(session, article, metadata=REFUSE)
        with pytest.raises(DBAPIError, match="event refused"):
            articles.archive(session, article, metadata=REFUSE)
        assert (member.karma, article.state, article.archived_at) == (1, "draft", None)
        assert not session.dirty and ghosts(session) == []
        members.bump(session, member, by=2)
        assert member.karma == 3
    with session_of(refusing) as session:
        assert session.scalars(select(Member.karma)).all() == [3]
        assert session.scalars(select(Article.state)).all() == ["draft"]


@pytest.mark.parametrize("path", sorted(SESSIONS))
def test_a_refused_destroy_keeps_the_object(refusing: Engine, path: str) -> None:
    with session_of(refusing) as session, session.begin():
        member = members.create(session, handle="stays")
    with SESSIONS[path](refusing) as session, session.begin():
        member = session.get_one(Member, member.id)
        with pytest.raises(DBAPIError, match="event refused"):
            members.destroy(session, member, metadata=REFUSE)
        assert member in session and not inspect(member).deleted
        assert member.handle == "stays"
        assert session.get(Member, member.id) is member
    with session_of(refusing) as session:
        assert count(session, Member) == 1


@pytest.mark.parametrize("path", sorted(SESSIONS))
def test_a_record_refused_by_a_unique_key_leaves_no_ghost(features: Engine, path: str) -> None:
    with session_of(features) as session, session.begin():
        members.create(session, handle="taken")
    with SESSIONS[path](features) as session, session.begin():
        with pytest.raises(DBAPIError):
            members.create(session, handle="taken")
        with pytest.raises(DBAPIError):
            members.create_many(session, [{"handle": "free"}, {"handle": "taken"}])
        assert ghosts(session) == []
        members.create(session, handle="free")
    with session_of(features) as session:
        assert sorted(session.scalars(select(Member.handle))) == ["free", "taken"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("path", sorted(SESSIONS))
def test_an_event_refused_by_a_check_constraint_leaves_no_ghost(
    features: Engine, path: str
) -> None:
    with features.begin() as connection:
        connection.exec_driver_sql(
            "ALTER TABLE events ADD CONSTRAINT ck_no_refuse CHECK (NOT metadata ? 'refuse')"
        )
    with SESSIONS[path](features) as session, session.begin():
        with pytest.raises(DBAPIError, match="ck_no_refuse"):
            members.create(session, handle="ghost", metadata=REFUSE)
        with pytest.raises(DBAPIError, match="ck_no_refuse"):
            members.create_many(session, [{"handle": "g1"}], metadata=REFUSE)
        assert ghosts(session) == []
        members.create(session, handle="ghost")
    with session_of(features) as session:
        assert session.scalars(select(Member.handle)).all() == ["ghost"]


@contextmanager
def lock_held_elsewhere(engine: Engine, *key: int) -> Iterator[None]:
    """Another connection holds the advisory lock ``key`` until the block ends."""
    with engine.connect() as other:
        arguments = ", ".join(str(k) for k in key)
        other.exec_driver_sql(f"SELECT pg_advisory_xact_lock({arguments})")
        try:
            yield
        finally:
            other.rollback()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("path", sorted(SESSIONS))
def test_a_lock_timeout_leaves_no_ghost(features: Engine, path: str) -> None:
    workspace = uuid.uuid4()
    with session_of(features) as session, session.begin():
        member = members.create(session, handle="before")
        document = documents.create(session, title="Before", tenant=workspace)
    with SESSIONS[path](features) as session, session.begin():
        session.execute(text("SET LOCAL statement_timeout = '100ms'"))
        member = session.get_one(Member, member.id)
        document = session.get_one(Document, document.id)
        with lock_held_elsewhere(features, 2147483647):
            timeout = pytest.raises(DBAPIError, match="statement timeout")
            with timeout:
                members.create(session, handle="ghost")
            with timeout:
                members.create_many(session, [{"handle": "g1"}, {"handle": "g2"}])
            with timeout:
                members.bump(session, member, by=3)
            with timeout:
                members.destroy(session, member)
        tenant_key = tenant_lock_key(workspace)
        assert isinstance(tenant_key, tuple)
        with (
            lock_held_elsewhere(features, *tenant_key),
            pytest.raises(DBAPIError, match="statement timeout"),
        ):
            documents.edit(session, document, title="After", tenant=workspace)
        assert ghosts(session) == [] and not session.dirty
        assert (member.karma, document.title) == (0, "Before")
        members.bump(session, member, by=1)
    with session_of(features) as session:
        assert session.scalars(select(Member.karma)).all() == [1]
        assert count(session, Event) == 3


@pytest.mark.parametrize("path", sorted(SESSIONS))
def test_the_callers_rollback_undoes_actions_in_the_session_too(
    features: Engine, path: str
) -> None:
    with session_of(features) as session, session.begin():
        kept = members.create(session, handle="kept", karma=1)
    with SESSIONS[path](features) as session:
        with session.begin():
            kept = session.get_one(Member, kept.id)
            with session.begin_nested() as savepoint:
                members.create(session, handle="inner")
                members.create_many(session, [{"handle": "bulk"}])
                members.bump(session, kept, by=4)
                savepoint.rollback()
            assert ghosts(session) == [] and kept.karma == 1
            members.create(session, handle="outer")
            members.bump(session, kept, by=2)
            session.rollback()
        assert ghosts(session) == [] and kept.karma == 1
    with session_of(features) as session:
        assert session.scalars(select(Member.handle)).all() == ["kept"]


# --- the advisory-lock memo follows the real transaction ----------------------------------------

DEFAULT_KEY = (0, 2147483647, 1)  # how pg_locks shows the default single bigint key


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("savepoint", ["core", "orm"])
def test_the_lock_is_taken_again_after_the_callers_savepoint_rolled_back(
    features: Engine, savepoint: str
) -> None:
    with session_of(features) as session, session.begin():
        kept = members.create(session, handle="kept")
    with session_of(features) as session, session.begin():
        kept = session.get_one(Member, kept.id)
        if savepoint == "core":
            nested: Any = session.connection().begin_nested()
        else:
            nested = session.begin_nested()
        members.bump(session, kept, by=1)
        assert DEFAULT_KEY in advisory_locks(features)
        nested.rollback()
        assert DEFAULT_KEY not in advisory_locks(features)  # PostgreSQL released it
        if savepoint == "core":
            session.expire(kept)  # a Core savepoint is invisible to the session
        members.bump(session, kept, by=2)
        assert DEFAULT_KEY in advisory_locks(features)  # the next event took it again
        members.create_many(session, [{"handle": "bulk"}])
        members.create(session, handle="one")
        assert DEFAULT_KEY in advisory_locks(features)
    with session_of(features) as session:
        assert sorted(session.scalars(select(Member.karma))) == [0, 0, 2]
        assert count(session, Event) == 4


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_lock_is_taken_once_per_open_transaction(features: Engine) -> None:
    statements: list[str] = []
    with session_of(features) as session, session.begin():
        event.listen(
            session.connection(),
            "before_cursor_execute",
            lambda _c, _cur, statement, *_: statements.append(statement),
        )
        members.create(session, handle="aa")
        members.create_many(session, [{"handle": "bb"}, {"handle": "cc"}])
        with session.begin_nested():
            members.create(session, handle="dd")  # held by the transaction around
        assert sum("pg_advisory_xact_lock" in s for s in statements) == 1
    with session_of(features) as session, session.begin():
        statements.clear()
        event.listen(
            session.connection(),
            "before_cursor_execute",
            lambda _c, _cur, statement, *_: statements.append(statement),
        )
        with session.begin_nested():
            members.create(session, handle="ee")
        # The caller's savepoint ended: released or rolled back, the memo cannot tell which,
        # so the next event takes the lock once more, and then holds it.
        members.create(session, handle="ff")
        members.create_many(session, [{"handle": "gg"}])
        assert sum("pg_advisory_xact_lock" in s for s in statements) == 2


# --- secrets never in messages -----------------------------------------------------------------

PIN = "8642-secret"


def told(error: BaseException) -> str:
    """Everything a traceback of ``error`` prints, its causes included."""
    return "".join(traceback.format_exception(error))


def test_a_pin_of_the_wrong_type_is_not_in_the_message(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        with pytest.raises(Exception) as caught:  # any error, as long as it is quiet
            accounts.open(session, owner="Quentin", pin=bytearray(PIN.encode()))  # type: ignore[arg-type]
        assert PIN not in told(caught.value)
        assert count(session, Account) == 0


def test_a_refused_statement_does_not_quote_sensitive_input(features: Engine) -> None:
    with features.begin() as connection:
        if features.dialect.name == "sqlite":
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_ledger BEFORE INSERT ON ledger_events "
                "BEGIN SELECT RAISE(ABORT, 'ledger closed'); END"
            )
        else:  # PostgreSQL quotes the failing row in its message
            connection.exec_driver_sql(
                f"ALTER TABLE ledger_accounts ADD CONSTRAINT ck_pin CHECK (pin <> '{PIN}')"
            )
    with session_of(features) as session, session.begin():
        for write in (
            lambda: accounts.open(session, owner="Quentin", pin=PIN),
            lambda: accounts.open_many(session, [{"owner": "Quentin", "pin": PIN}]),
        ):
            with pytest.raises(DBAPIError) as caught:
                write()
            assert PIN not in told(caught.value)
            assert "Quentin" in told(caught.value) or "hidden" in told(caught.value)

"""``<create>_many`` writes records and events in bulk: the same rows as one create at a time."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from features.actors import Service
from features.data import _direct
from features.data.actions import account as accounts
from features.data.actions import member as members
from features.data.errors import ValidationError
from features.data.models import Account, Event, Ledger, Member
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

INPUTS: list[members.CreateInput] = [
    {
        "handle": "ada",
        "tags": ["x", "y"],
        "profile": {"a": [1, 2]},
        "joined_on": dt.date(2024, 2, 29),
    },
    {"handle": "bob", "karma": 3},  # karma has a default: a row of another shape
    {"handle": "cy", "tags": [], "profile": None},
]


def session_of(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)


def member_events(session: Session) -> list[tuple[Any, ...]]:
    """The events, without what differs between two writes of the same inputs."""
    rows = session.scalars(select(Event).order_by(Event.id))
    out = []
    for e in rows:
        changed = {k: v for k, v in e.changed_attributes.items() if k != "id"}
        out.append((e.resource, e.action, e.version, e.data, changed, e.metadata, e.service))
    return out


def members_as_rows(session: Session) -> list[tuple[Any, ...]]:
    rows = session.scalars(select(Member).order_by(Member.handle))
    return [(m.handle, m.karma, m.tags, m.profile, m.joined_on) for m in rows]


def write_one_by_one(session: Session) -> list[Member]:
    actor = Service("importer")
    return [members.create(session, **i, actor=actor, metadata={"batch": 1}) for i in INPUTS]


def write_in_bulk(session: Session) -> list[Member]:
    actor = Service("importer")
    return members.create_many(session, INPUTS, actor=actor, metadata={"batch": 1})


def test_bulk_writes_what_one_create_at_a_time_writes(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        write_one_by_one(session)
        single = member_events(session), members_as_rows(session)
        session.execute(Event.__table__.delete())
        session.execute(Member.__table__.delete())
    with session_of(features) as session, session.begin():
        made = write_in_bulk(session)
        assert (member_events(session), members_as_rows(session)) == single
        # The records come back as ORM objects of the session, in the inputs' order.
        assert [m.handle for m in made] == ["ada", "bob", "cy"]
        assert all(m in session for m in made)
        assert session.get(Member, made[1].id) is made[1]
        recorded = [e.record_id for e in session.scalars(select(Event).order_by(Event.id))]
        assert recorded == [m.id for m in made]


def test_bulk_with_database_generated_keys_matches_events_to_records(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        opened = accounts.open_many(session, [{"owner": f"o{i}", "pin": str(i)} for i in range(5)])
        ids = [a.id for a in opened]
        assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 5
        events = list(session.scalars(select(Ledger).order_by(Ledger.id)))
        assert [e.record_id for e in events] == ids
        assert [e.data["owner"] for e in events] == [f"o{i}" for i in range(5)]
        assert [session.get(Account, i).owner for i in ids] == [f"o{i}" for i in range(5)]


def test_a_failing_input_leaves_no_record_and_no_event(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        members.create(session, handle="kept")
        with pytest.raises(ValidationError, match="karma"):
            members.create_many(session, [{"handle": "ok"}, {"handle": "bad", "karma": -1}])
        assert session.scalar(select(func.count()).select_from(Member)) == 1
        assert session.scalar(select(func.count()).select_from(Event)) == 1


def test_listeners_keep_the_record_by_record_path(features: Engine) -> None:
    inserted: list[str] = []

    def listener(_mapper: Any, _connection: Any, target: Member) -> None:
        inserted.append(target.handle)

    assert _direct.unobserved(Session(features), [Member])
    event.listen(Member, "before_insert", listener)
    try:
        assert not _direct.unobserved(Session(features), [Member])
        with session_of(features) as session, session.begin():
            made = write_in_bulk(session)
            assert member_events(session)[0][1] == "create"
    finally:
        event.remove(Member, "before_insert", listener)
    assert inserted == [m.handle for m in made]


def test_created_records_read_unset_columns_after_the_session_closes(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        one = members.create(session, handle="solo")
        many = members.create_many(session, [{"handle": "duo"}])
    for member in (one, *many):
        assert (member.profile, member.joined_on, member.karma) == (None, None, 0)


def test_a_create_failing_at_its_event_leaves_nothing_in_the_session(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        with pytest.raises(TypeError, match="cannot store"):
            members.create(session, handle="ghost", metadata={"bad": object()})
        with pytest.raises(TypeError, match="cannot store"):
            members.create_many(session, [{"handle": "ghosts"}], metadata={"bad": object()})
        assert [m for m in session.identity_map.values() if isinstance(m, Member)] == []
        assert session.scalars(select(Member)).all() == []
        members.create(session, handle="ghost")  # the transaction goes on
        assert [m.handle for m in session.scalars(select(Member))] == ["ghost"]


def test_an_update_failing_at_its_event_leaves_record_and_row_as_they_were(
    features: Engine,
) -> None:
    with session_of(features) as session, session.begin():
        member = members.create(session, handle="before")
        with pytest.raises(TypeError, match="cannot store"):
            members.bump(session, member, by=2, metadata={"bad": object()})
        assert member.karma == 0  # the object did not take the value the row did not keep
        assert session.scalar(select(Member.karma)) == 0
        assert session.scalar(select(func.count()).select_from(Event)) == 1
        members.bump(session, member, by=2)
        assert member.karma == 2 and session.scalar(select(Member.karma)) == 2
        assert member not in session.dirty  # the values are as loaded: nothing left to flush


def test_an_update_of_a_row_gone_behind_the_session_is_refused(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        member = members.create(session, handle="gone")
        session.execute(Member.__table__.delete())
        with pytest.raises(StaleDataError, match="expected to update 1 row"):
            members.bump(session, member, by=1)
        assert session.scalar(select(func.count()).select_from(Event)) == 1


def test_an_update_setting_nothing_sends_no_update(features: Engine) -> None:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(features, "before_cursor_execute", record)
    try:
        with session_of(features) as session, session.begin():
            account = accounts.open(session, owner="ann", pin="0000")
            opened = len(statements)
            accounts.audit_touch(session, account)  # no input, no update default
    finally:
        event.remove(features, "before_cursor_execute", record)
    assert any(s.lstrip().upper().startswith("INSERT") for s in statements[:opened])
    assert not [s for s in statements[opened:] if s.lstrip().upper().startswith("UPDATE")]

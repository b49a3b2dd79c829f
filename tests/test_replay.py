"""Replay rebuilds exactly the state the actions built, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from accounts.actors import SystemActor
from accounts.data.actions import org as orgs
from accounts.data.actions import user as users
from accounts.data.actions import user_role as roles
from accounts.data.clear_records import clear_records
from accounts.data.errors import ReplayError
from accounts.data.models import Event, Org, User, UserRole
from accounts.data.replay import replay
from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

TRACKED = (Org, User, UserRole)


def session_of(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)


def snapshot(session: Session, models: tuple[Any, ...] = TRACKED) -> dict[str, list[Any]]:
    """Every row of every tracked table, as plain sorted tuples."""
    out: dict[str, list[Any]] = {}
    for model in models:
        columns = list(model.__table__.columns)
        rows = session.execute(select(*columns)).all()
        out[model.__name__] = sorted((tuple(row) for row in rows), key=repr)
    return out


def event_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Event)) or 0


def build_history(engine: Engine) -> dict[str, Any]:
    admin = SystemActor("admin")
    with session_of(engine) as session, session.begin():
        acme = orgs.create(session, name="Acme", actor=admin)
        ann = users.create(
            session, email="ann@example.com", password="pw", org_id=acme.id, role="owner"
        )
        users.update(session, ann, given_name="Ann", actor=ann)
        users.register(session, email="bob@example.com", given_name="Bob")
        bob = users.register(session, email="bob@example.com", given_name="Robert")
        users.change_password(session, bob, password="new")
        users.suspend(session, bob, actor=admin)
        users.soft_delete(session, bob)
        orgs.rename(session, acme, name="Acme Inc")
        cy = users.create(session, email="cy@example.com")
        for role in list(cy.roles):
            roles.revoke(session, role)
        users.destroy(session, cy)
    return {"acme": acme, "ann": ann, "bob": bob}


def test_full_replay_rebuilds_identical_state_without_new_events(accounts: Engine) -> None:
    build_history(accounts)
    with session_of(accounts) as session:
        before, events_before = snapshot(session), event_count(session)
    with session_of(accounts) as session, session.begin():
        result = replay(session)
    with session_of(accounts) as session:
        assert snapshot(session) == before
        assert event_count(session) == events_before
    assert result.applied == events_before
    assert result.by_target["User.register"] == 2
    assert result.warnings == []


def test_replay_does_not_rerun_hooks(accounts: Engine) -> None:
    build_history(accounts)
    with session_of(accounts) as session, session.begin():
        replay(session)
        # grant_initial_role (an after_action) would add a second role per user.
        per_user = session.execute(
            select(UserRole.user_id, func.count()).group_by(UserRole.user_id)
        ).all()
    assert per_user and all(n == 1 for _, n in per_user)


def test_replay_works_after_every_row_was_deleted(accounts: Engine) -> None:
    build_history(accounts)
    with session_of(accounts) as session:
        before = snapshot(session)
    with session_of(accounts) as session, session.begin():
        clear_records(session)
        assert all(rows == [] for rows in snapshot(session).values())
    with session_of(accounts) as session, session.begin():
        replay(session)
    with session_of(accounts) as session:
        assert snapshot(session) == before


def test_clear_records_order_is_checked_by_the_database(accounts: Engine) -> None:
    """Both databases enforce foreign keys (tests/engines.py): deleting parents first fails, so
    clear_records passing above means its children-first order is right on SQLite too."""
    build_history(accounts)
    for parent in (Org, User):
        with session_of(accounts) as session, session.begin(), pytest.raises(IntegrityError):
            session.execute(delete(parent))
    with session_of(accounts) as session, session.begin():
        clear_records(session)
    with session_of(accounts) as session:
        assert all(rows == [] for rows in snapshot(session).values())
        assert event_count(session) > 0  # the event log is never cleared


def test_replay_to_an_event_id_and_to_a_point_in_time(accounts: Engine) -> None:
    with session_of(accounts) as session, session.begin():
        org = orgs.create(session, name="First")
    with session_of(accounts) as session:
        first_state = snapshot(session)
        first_id = session.scalar(select(func.max(Event.id)))
        instant = session.scalar(select(func.max(Event.occurred_at)))
    with session_of(accounts) as session, session.begin():
        orgs.rename(session, session.get(Org, org.id), name="Second")
        users.create(session, email="later@example.com")
    with session_of(accounts) as session:
        final_state = snapshot(session)
    with session_of(accounts) as session, session.begin():
        replay(session, last_event_id=first_id)
        assert snapshot(session) == first_state
    with session_of(accounts) as session, session.begin():
        replay(session)
        assert snapshot(session) == final_state
    with session_of(accounts) as session, session.begin():
        # last_event_id wins over point_in_time.
        replay(session, point_in_time=instant, last_event_id=first_id + 1)
        assert session.get(Org, org.id).name == "Second"  # type: ignore[union-attr]
        replay(session, point_in_time=instant)
        assert snapshot(session) == first_state


def insert_event(session: Session, **values: Any) -> int:
    row = {
        "record_id": uuid.uuid4(),
        "version": 1,
        "occurred_at": dt.datetime(2020, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC),
        "action_type": "create",
        "data": {},
        "metadata": {},
        "changed_attributes": {},
        **values,
    }
    return int(session.execute(insert(Event).returning(Event.id), [row]).scalar_one())


def test_legacy_version_routes_to_legacy_action_and_fans_out(accounts: Engine) -> None:
    legacy_id = uuid.uuid4()
    stamp = "2020-01-02T03:04:05.678901+00:00"
    with session_of(accounts) as session, session.begin():
        insert_event(
            session,
            record_id=legacy_id,
            resource="User",
            action="create",
            version=1,
            data={"email": "legacy@example.com", "given_name": "Old", "password": None},
            changed_attributes={"created_at": stamp, "updated_at": stamp, "status": "active"},
        )
    with session_of(accounts) as session, session.begin():
        result = replay(session)
        user = session.get(User, legacy_id)
        role = session.scalars(select(UserRole)).one()
    assert user is not None and user.email == "legacy@example.com"
    assert user.created_at == dt.datetime(2020, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
    assert user.hashed_password is None  # create_v1 had no password
    assert (role.id, role.user_id, role.name) == (legacy_id, legacy_id, "member")
    assert result.by_target == {"User.create_v1": 1, "UserRole.grant_legacy_default": 1}


def test_update_of_a_missing_record_is_a_warning(accounts: Engine) -> None:
    ghost = uuid.uuid4()
    with session_of(accounts) as session, session.begin():
        orgs.create(session, name="Real")
        insert_event(
            session,
            record_id=ghost,
            resource="Org",
            action="rename",
            action_type="update",
            data={"name": "Ghost"},
        )
    with session_of(accounts) as session, session.begin():
        result = replay(session)
    assert len(result.warnings) == 1 and str(ghost) in result.warnings[0]
    assert result.applied == 2


def test_failing_replay_leaves_the_previous_state_intact(accounts: Engine) -> None:
    build_history(accounts)
    with session_of(accounts) as session:
        before = snapshot(session)
    with session_of(accounts) as session, session.begin():
        bad = insert_event(session, resource="Nope", action="create")
    with session_of(accounts) as session, session.begin():
        with pytest.raises(ReplayError) as error:
            replay(session)
        assert error.value.event_id == bad and "Nope.create" in str(error.value)
        assert snapshot(session) == before  # the SAVEPOINT rolled back the clear too
        orgs.create(session, name="Still usable")
    with session_of(accounts) as session:
        assert len(snapshot(session)["Org"]) == len(before["Org"]) + 1


def test_validations_run_during_replay(accounts: Engine) -> None:
    with session_of(accounts) as session, session.begin():
        insert_event(
            session,
            resource="Org",
            action="create",
            data={"name": None},
            changed_attributes={"slug": "x"},
        )
    with (
        session_of(accounts) as session,
        session.begin(),
        pytest.raises(ReplayError, match=r"Org\.create.*name: is required"),
    ):
        replay(session)


def test_progress_is_reported(accounts: Engine) -> None:
    build_history(accounts)
    seen: list[tuple[int, int]] = []
    with session_of(accounts) as session, session.begin():
        replay(session, on_progress=lambda done, total: seen.append((done, total)), batch_size=3)
    total = seen[-1][1]
    assert [done for done, _ in seen] == list(range(1, total + 1))


def test_a_write_that_fails_in_a_batch_names_its_own_event(accounts: Engine) -> None:
    """Replay flushes rows in pages; a failure is traced back to the event that caused it."""
    with session_of(accounts) as session, session.begin():
        orgs.create(session, name="First")
        insert_event(session, resource="Org", action="create", data={"name": "Same"})
        insert_event(session, resource="Org", action="create", data={"name": "Other"})
        clash = insert_event(session, resource="Org", action="create", data={"name": "Same"})
        insert_event(session, resource="Org", action="create", data={"name": "Last"})
    with session_of(accounts) as session:
        before = snapshot(session)
    with session_of(accounts) as session, session.begin():
        with pytest.raises(ReplayError) as error:
            replay(session)
        assert error.value.event_id == clash
        assert "Org.create" in str(error.value) and "unique" in str(error.value).lower()
        assert snapshot(session) == before

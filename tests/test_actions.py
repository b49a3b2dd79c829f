"""Generated actions write the record and its event together, as AshEvents does (both databases)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from accounts.actors import SystemActor
from accounts.data.actions import org as orgs
from accounts.data.actions import user as users
from accounts.data.actions import user_role as roles
from accounts.data.errors import ValidationError
from accounts.data.models import Event, Org, User, UserRole
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from tests.engines import create_engine


def events(session: Session) -> list[Event]:
    return list(session.scalars(select(Event).order_by(Event.id)))


def count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_create_records_input_changed_attributes_actor_and_metadata(accounts: Engine) -> None:
    seed = SystemActor("seed")
    with Session(accounts, expire_on_commit=False) as session, session.begin():
        org = orgs.create(session, name="Acme Corp", actor=seed)
        user = users.create(
            session,
            email="ann@example.com",
            given_name="Ann",
            password="s3cret",
            org_id=org.id,
            actor=seed,
            metadata={"source": "api", "request": 7},
        )
        created = events(session)[1]
    assert (created.resource, created.action, created.action_type) == ("User", "create", "create")
    assert created.version == 2  # current_action_versions: {create: 2}
    assert created.record_id == user.id
    # data is the input exactly as given; the sensitive password is kept as a key, value null.
    assert created.data == {
        "email": "ann@example.com",
        "given_name": "Ann",
        "password": None,
        "org_id": str(org.id),
    }
    # changed_attributes: everything else the action set; the belongs_to key always.
    assert created.changed_attributes == {
        "id": str(user.id),
        "hashed_password": user.hashed_password,
        "status": "active",
        "created_at": user.created_at.isoformat(),
        "updated_at": user.updated_at.isoformat(),
        "org_id": str(org.id),
    }
    assert created.metadata_ == {"source": "api", "request": 7}
    assert (created.system_actor, created.user_id) == ("seed", None)
    assert created.occurred_at == user.created_at


def test_nested_action_from_hook_gets_the_actor_but_not_the_metadata(accounts: Engine) -> None:
    with Session(accounts, expire_on_commit=False) as session, session.begin():
        admin = users.create(session, email="root@example.com", role="admin")
        user = users.create(
            session, email="bo@example.com", actor=admin, metadata={"source": "signup"}
        )
        parent, child = events(session)[-2:]
        role = session.scalars(select(UserRole).where(UserRole.user_id == user.id)).one()
    assert (parent.resource, child.resource, child.action) == ("User", "UserRole", "grant")
    assert child.id > parent.id  # after_action hooks run after the parent's event
    assert child.record_id == role.id
    assert child.user_id == admin.id == parent.user_id
    assert parent.metadata_ == {"source": "signup"}
    assert child.metadata_ == {}
    assert child.changed_attributes["user_id"] == str(user.id)
    assert role.name == "member"  # the argument's default reached the hook


def test_no_actor_leaves_actor_columns_empty(accounts: Engine) -> None:
    with Session(accounts, expire_on_commit=False) as session, session.begin():
        orgs.create(session, name="Nobody's")
        (event,) = events(session)
    assert (event.user_id, event.system_actor) == (None, None)
    assert event.metadata_ == {}


def test_update_records_only_what_was_passed(accounts: Engine) -> None:
    with Session(accounts, expire_on_commit=False) as session, session.begin():
        user = users.create(session, email="cy@example.com", given_name="Cy")
        created_at = user.created_at
        users.update(session, user, given_name="Cyrus", actor=user)
        update = events(session)[-1]
    assert update.action_type == "update"
    assert update.data == {"given_name": "Cyrus"}
    assert update.changed_attributes == {"updated_at": user.updated_at.isoformat()}
    assert update.occurred_at == user.updated_at > created_at
    assert update.user_id == user.id
    assert user.email == "cy@example.com"


def test_changes_and_built_in_validations(accounts: Engine) -> None:
    with Session(accounts, expire_on_commit=False) as session, session.begin():
        user = users.create(session, email="di@example.com")
        users.suspend(session, user)
        assert user.status == "suspended"
        assert events(session)[-1].changed_attributes["status"] == "suspended"
        with pytest.raises(ValidationError) as error:
            users.suspend(session, user)
    # The spec's custom message is kept.
    assert (error.value.field, error.value.message) == ("status", "is already suspended")


def test_failing_validation_writes_nothing_and_keeps_the_session_usable(
    accounts: Engine,
) -> None:
    with Session(accounts, expire_on_commit=False) as session, session.begin():
        with pytest.raises(ValidationError, match="must be an email address"):
            users.create(session, email="not-an-email")
        assert count(session, User) == count(session, Event) == 0
        users.create(session, email="ok@example.com")
    with Session(accounts, expire_on_commit=False) as session:
        assert count(session, User) == 1
        assert count(session, Event) == 2  # the user and its role


def test_failing_event_insert_leaves_neither_record_nor_event(accounts: Engine) -> None:
    with Session(accounts, expire_on_commit=False) as session, session.begin():
        orgs.create(session, name="Before")
        with pytest.raises(TypeError, match="cannot store"):
            orgs.create(session, name="Broken", metadata={"when": object()})
        assert count(session, Org) == count(session, Event) == 1
    with Session(accounts, expire_on_commit=False) as session, session.begin():
        session.execute(text("ALTER TABLE events RENAME TO events_gone"))
        with pytest.raises(Exception, match="events"):
            orgs.create(session, name="No log")
        assert count(session, Org) == 1
        session.execute(text("ALTER TABLE events_gone RENAME TO events"))
        orgs.create(session, name="After")  # the transaction is still usable
    with Session(accounts, expire_on_commit=False) as session:
        assert sorted(session.scalars(select(Org.name))) == ["After", "Before"]
        assert count(session, Event) == 2


def test_upsert_writes_one_event_per_call_with_the_surviving_record_id(accounts: Engine) -> None:
    with Session(accounts, expire_on_commit=False) as session, session.begin():
        first = users.register(session, email="eve@example.com", given_name="Eve")
        second = users.register(session, email="eve@example.com", given_name="Evelyn")
        inserted, updated = events(session)
    assert first is second and first.given_name == "Evelyn"
    assert inserted.record_id == updated.record_id == first.id
    assert inserted.action_type == updated.action_type == "create"
    assert updated.data == {"email": "eve@example.com", "given_name": "Evelyn"}
    assert inserted.occurred_at == first.created_at
    assert updated.occurred_at == first.updated_at > first.created_at


def test_soft_and_hard_destroy(accounts: Engine) -> None:
    with Session(accounts, expire_on_commit=False) as session, session.begin():
        kept = users.create(session, email="fay@example.com")
        gone = users.create(session, email="gil@example.com")
        users.soft_delete(session, kept)
        for role in list(gone.roles):
            roles.revoke(session, role)
        gone_id = gone.id
        users.destroy(session, gone)
        soft, *_, hard = [e for e in events(session) if e.action_type == "destroy"]
        assert session.get(User, kept.id) is not None and kept.deleted_at is not None
        assert session.get(User, gone_id) is None
    assert (soft.action, soft.record_id) == ("soft_delete", kept.id)
    assert soft.changed_attributes == {
        "deleted_at": kept.deleted_at.isoformat(),
        "updated_at": kept.updated_at.isoformat(),
    }
    assert (hard.action, hard.record_id, hard.data) == ("destroy", gone_id, {})
    before = dt.datetime.now(dt.UTC)
    assert hard.occurred_at <= before


def test_ignored_action_writes_no_event(accounts: Engine) -> None:
    with Session(accounts, expire_on_commit=False) as session, session.begin():
        users.create_v1(session, email="old@example.com")
        assert count(session, User) == 1
        assert count(session, Event) == 0


def test_bulk_variants_write_one_event_per_record_or_nothing(accounts: Engine) -> None:
    with Session(accounts, expire_on_commit=False) as session, session.begin():
        made = orgs.create_many(session, [{"name": f"Org {i}"} for i in range(5)])
        assert [e.record_id for e in events(session)] == [o.id for o in made]
        with pytest.raises(ValidationError):
            users.create_many(session, [{"email": "a@example.com"}, {"email": "broken"}])
        assert count(session, User) == 0
        renamed = orgs.rename_many(session, [(o, {"name": o.name + "!"}) for o in made])
        assert [o.slug for o in renamed] == [f"org-{i}" for i in range(5)]
        orgs.destroy_many(session, made)
        assert count(session, Org) == 0
        assert count(session, Event) == 15


def test_unknown_input_is_a_validation_error(accounts: Engine) -> None:
    with (
        Session(accounts, expire_on_commit=False) as session,
        session.begin(),
        pytest.raises(ValidationError, match="hashed_password: is not an input"),
    ):
        users.create(session, email="x@example.com", hashed_password="x")  # type: ignore[call-arg]


def test_plain_sqlite_engine_keeps_the_callers_rollback(tmp_path: Any) -> None:
    """pysqlite commits a SAVEPOINT that opens a transaction; the runtime prevents that."""
    from accounts.data.models import Base

    engine = create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        orgs.create(session, name="Rolled back")
        session.rollback()
    with Session(engine) as session, session.begin():
        session.scalar(select(func.count()).select_from(Org))  # a read opens nothing in pysqlite
        orgs.create(session, name="Also rolled back")
        session.rollback()
    with Session(engine) as session:
        assert count(session, Org) == count(session, Event) == 0
    engine.dispose()


def test_occurred_at_is_exactly_the_record_timestamp(accounts: Engine) -> None:
    with Session(accounts, expire_on_commit=False) as session, session.begin():
        org = orgs.create(session, name="Timely")
        orgs.rename(session, org, name="Timelier")
        create, rename = events(session)
    assert create.occurred_at == org.created_at
    assert rename.occurred_at == org.updated_at
    assert rename.changed_attributes["slug"] == "timelier"


def test_nul_characters_are_refused_on_every_database(accounts: Engine) -> None:
    """PostgreSQL cannot store NUL in text or JSONB; SQLite can. Both refuse it the same way."""
    with Session(accounts, expire_on_commit=False) as session, session.begin():
        with pytest.raises(ValidationError, match="given_name: must not contain NUL"):
            users.create(session, email="nul@example.com", given_name="a\x00b")
        with pytest.raises(ValidationError, match="password: must not contain NUL"):
            users.create(session, email="nul@example.com", password="\x00")
        assert count(session, User) == count(session, Event) == 0

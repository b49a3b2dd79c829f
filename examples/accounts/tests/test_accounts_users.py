"""Tests of code that calls the accounts actions, written with ``accounts.data.testing``."""

from __future__ import annotations

import pytest
from accounts.actors import SystemActor
from accounts.data.actions import org as orgs
from accounts.data.actions import user as users
from accounts.data.errors import ValidationError
from accounts.data.models import Event
from accounts.data.testing import NO_ACTOR, assert_event, assert_replays, capture_events
from sqlalchemy import func, select
from sqlalchemy.orm import Session


def onboard(session: Session, email: str, org_name: str, *, by: SystemActor) -> None:
    """Application code under test: an org, its first user, one commit."""
    org = orgs.create(session, name=org_name, actor=by)
    users.create(session, email=email, org_id=org.id, actor=by, metadata={"flow": "onboard"})
    session.commit()


def test_onboarding_records_who_did_what(session: Session) -> None:
    seed = SystemActor("seed")
    with capture_events(session) as events:
        onboard(session, "ann@example.com", "Acme", by=seed)
    [org_created] = assert_event(events, resource="Org", action="create", actor=seed)
    assert_event(
        events,
        resource="User",
        action="create",
        actor=seed,
        data={"email": "ann@example.com", "org_id": org_created.record_id},
        changed={"status": "active"},
        metadata={"flow": "onboard"},
    )
    assert_event(events, resource="UserRole", action="grant", data={"name": "member"}, actor=seed)
    assert len(events) == 3


def test_a_refused_user_records_nothing(session: Session) -> None:
    with capture_events(session) as events:
        with pytest.raises(ValidationError):
            users.create(session, email="not an address")
        users.register(session, email="bob@example.com")
    assert_event(events, action="register", actor=NO_ACTOR, count=1)
    assert_event(events, resource="User", action="create", count=0)


def test_the_history_replays_to_the_same_state(session: Session) -> None:
    onboard(session, "ann@example.com", "Acme", by=SystemActor("seed"))
    ann = users.register(session, email="ann@example.com", given_name="Ann")
    users.change_password(session, ann, password="correct horse battery staple")
    users.suspend(session, ann, actor=SystemActor("moderation"))
    assert_replays(session)


def test_each_test_starts_from_an_empty_database(session: Session) -> None:
    """The tests above committed; the fixture rolled their work back all the same."""
    assert session.scalar(select(func.count()).select_from(Event)) == 0
    onboard(session, "ann@example.com", "Acme", by=SystemActor("seed"))
    assert session.scalar(select(func.count()).select_from(Event)) == 3

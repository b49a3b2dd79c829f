"""Replay strategies, version routes, integer keys and tenants (features project, both DBs)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from features.data.actions import account as accounts
from features.data.actions import article as articles
from features.data.actions import document as documents
from features.data.actions import member as members
from features.data.errors import ReplayError
from features.data.models import Account, Article, Document, Event, Member
from features.data.replay import replay_event, replay_ledger
from features.hooks import NOTIFIED
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from tests.test_replay import snapshot

EVENT_TRACKED = (Article, Document, Member)


def session_of(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)


def test_event_log_replay_round_trips_every_type(features: Engine) -> None:
    workspace = uuid.uuid4()
    with session_of(features) as session, session.begin():
        author = members.create(
            session, handle="ty", tags=["x"], profile={"a": [1, 2]}, joined_on=dt.date(2024, 2, 29)
        )
        members.bump(session, author, by=2)
        doc = documents.create(session, title="T", body="B", tenant=workspace, actor=author)
        documents.edit(session, doc, title="T2", tenant=workspace)
        article = articles.create(session, title="A", price=Decimal("9.99"), slug="a")
        articles.publish(session, article)
        articles.archive(session, article)
    with session_of(features) as session:
        before = snapshot(session, EVENT_TRACKED)
    with session_of(features) as session, session.begin():
        replay_event(session)
    with session_of(features) as session:
        assert snapshot(session, EVENT_TRACKED) == before
        archived = session.get(Article, article.id)
        assert archived is not None and archived.archived_at is not None  # soft stays soft
        assert archived.published_at == article.published_at  # forced, not recomputed


def raw_event(session: Session, **values: Any) -> None:
    row = {
        "record_id": uuid.uuid4(),
        "occurred_at": dt.datetime(2021, 5, 6, tzinfo=dt.UTC),
        "action_type": "create",
        "data": {},
        "metadata": {},
        "changed_attributes": {},
        **values,
    }
    session.execute(insert(Event), [row])


def test_as_arguments_supplies_a_required_argument_from_changed_attributes(
    features: Engine,
) -> None:
    record_id = uuid.uuid4()
    with session_of(features) as session, session.begin():
        raw_event(
            session,
            record_id=record_id,
            resource="Article",
            action="import_article",
            data={"title": "Imported"},
            changed_attributes={"slug": "imported", "state": "published"},
        )
    with session_of(features) as session, session.begin():
        replay_event(session)
        article = session.get(Article, record_id)
    assert article is not None and article.slug == "imported"
    # as_arguments: attributes that are not inputs are recomputed, not forced.
    assert article.state == "draft"


def test_as_arguments_without_the_required_argument_fails_clearly(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        raw_event(session, resource="Article", action="import_article", data={"title": "X"})
    with (
        session_of(features) as session,
        session.begin(),
        pytest.raises(ReplayError, match=r"\(Article\.import_article v1\): slug: is required"),
    ):
        replay_event(session)


def test_old_version_routes_to_the_legacy_update(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        article = articles.create(session, title="Old", slug="old")
        raw_event(
            session,
            record_id=article.id,
            resource="Article",
            action="publish",
            action_type="update",
            version=1,
        )
        articles.publish(session, article)  # a version-2 event
    with session_of(features) as session, session.begin():
        result = replay_event(session)
    assert result.by_target["Article.publish_v1"] == 1
    assert result.by_target["Article.publish"] == 1


def test_replay_of_integer_keys_moves_sequences_past_them(features: Engine) -> None:
    NOTIFIED.clear()
    with session_of(features) as session, session.begin():
        first = accounts.open(session, owner="ann", pin="0000")
        accounts.deposit(session, first, amount=30)
        second = accounts.open(session, owner="bob")
    with session_of(features) as session:
        before = snapshot(session, (Account,))
    with session_of(features) as session, session.begin():
        replay_ledger(session)
    with session_of(features) as session, session.begin():
        assert snapshot(session, (Account,)) == before
        third = accounts.open(session, owner="cy")  # no duplicate key after replay
    assert third.id > second.id
    assert [(first.id, 30)] == NOTIFIED  # the after_action hook did not run again


def test_replay_ignores_tenants_but_restores_the_tenant_attribute(features: Engine) -> None:
    workspace = uuid.uuid4()
    with session_of(features) as session, session.begin():
        doc = documents.create(session, title="Mine", tenant=workspace)
    with session_of(features) as session, session.begin():
        replay_event(session)
        restored = session.get(Document, doc.id)
    assert restored is not None and restored.workspace_id == workspace

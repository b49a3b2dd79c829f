"""``<pkg>.observe``: every event write is reported once, to the DEBUG logger and to on_event
callbacks, without its data; replay reports nothing (both databases)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from accounts.actors import SystemActor
from accounts.data import _replay, observe
from accounts.data.actions import org as orgs
from accounts.data.actions import user as users
from accounts.data.models import Event
from accounts.data.replay import replay
from features.data import observe as features_observe
from features.data.actions import account as ledger_accounts
from features.data.actions import member as members
from features.data.models import Ledger
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session


def logged_events(session: Session) -> list[tuple[Any, str, str]]:
    return [(e.id, e.resource, e.action) for e in session.scalars(select(Event).order_by(Event.id))]


def reported(seen: list[observe.WrittenEvent]) -> list[tuple[Any, str, str]]:
    return [(e.id, e.resource, e.action) for e in seen]


def test_on_event_fires_once_per_event_on_every_write_path(accounts: Engine) -> None:
    seen: list[observe.WrittenEvent] = []
    seed = SystemActor("seed")
    with (
        Session(accounts, expire_on_commit=False) as session,
        session.begin(),
        observe.on_event(seen.append),
    ):
        acme = orgs.create(session, name="Acme")  # a direct (Core) create
        orgs.rename(session, acme, name="Acme Corp")  # a direct update
        ann = users.create(session, email="ann@example.com", actor=seed)  # hook: ORM path
        users.register(session, email="bob@example.com")  # upsert, inserting
        users.register(session, email="ann@example.com", given_name="Ann")  # upsert, updating
        orgs.create_many(session, [{"name": "Beta"}, {"name": "Gamma"}])  # executemany
        users.update_many(session, [(ann, {"given_name": "Anne"})])
        users.soft_delete(session, ann)
        orgs.destroy(session, acme)
        session.flush()
        written = logged_events(session)
    assert reported(seen) == written
    assert [e.action for e in seen] == [
        "create",
        "rename",
        "create",
        "grant",  # the role granted by the user's after_action hook
        "register",
        "register",
        "create",
        "create",
        "update",
        "soft_delete",
        "destroy",
    ]
    first = seen[2]
    assert (first.log, first.resource, first.version) == ("Event", "User", 2)
    assert first.action_type == "create"
    assert first.actor == {"system_actor": "seed"}
    assert first.record_id == ann.id
    assert first.data["email"] == "ann@example.com"
    assert seen[0].actor == {}


def test_bulk_and_uuidv7_logs_report_the_ids_written(features: Engine) -> None:
    seen: list[Any] = []
    with (
        Session(features, expire_on_commit=False) as session,
        session.begin(),
        features_observe.on_event(seen.append),
    ):
        members.create_many(session, [{"handle": "ada"}, {"handle": "bob"}])
        account = ledger_accounts.open(session, owner="ann", pin="1234")
        more = ledger_accounts.open_many(session, [{"owner": "bob"}, {"owner": "cy"}])
        ledger_ids = list(session.scalars(select(Ledger.id).order_by(Ledger.id)))
    assert [e.log for e in seen] == ["Event", "Event", "Ledger", "Ledger", "Ledger"]
    assert [e.id for e in seen[:2]] == [1, 2]
    assert [e.id for e in seen[2:]] == ledger_ids  # uuidv7 keys, read back in order
    assert [e.record_id for e in seen[2:]] == [account.id, *(a.id for a in more)]


def test_replay_writes_no_event_and_reports_none(accounts: Engine) -> None:
    with Session(accounts) as session, session.begin():
        users.create(session, email="ann@example.com")
    seen: list[observe.WrittenEvent] = []
    with Session(accounts) as session, session.begin(), observe.on_event(seen.append):
        result = replay(session)
    assert result.applied == 2
    assert seen == []


def test_a_removed_callback_is_not_called(accounts: Engine) -> None:
    seen: list[observe.WrittenEvent] = []
    subscription = observe.on_event(seen.append)
    with Session(accounts) as session, session.begin():
        orgs.create(session, name="Acme")
        subscription.remove()
        subscription.remove()  # removing twice is harmless
        orgs.create(session, name="Beta")
    assert [e.id for e in seen] == [1]


def test_a_failing_callback_fails_the_action_which_leaves_nothing(accounts: Engine) -> None:
    def refuse(event: observe.WrittenEvent) -> None:
        raise RuntimeError(f"no {event.resource} today")

    with Session(accounts) as session, session.begin():
        with observe.on_event(refuse), pytest.raises(RuntimeError, match="no Org today"):
            orgs.create(session, name="Acme")
        orgs.create(session, name="Beta")  # the transaction goes on
        assert [name for _, _, name in logged_events(session)] == ["create"]


def test_unobserved_writes_do_no_reporting_work(
    accounts: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No callback and DEBUG off: the report is never built (bulk inserts return no ids)."""

    def fail(*args: object) -> None:
        raise AssertionError("reported an event nobody watches")

    monkeypatch.setattr(observe, "written", fail)
    assert not observe.watching()
    with Session(accounts) as session, session.begin():
        acme = orgs.create(session, name="Acme")
        orgs.create_many(session, [{"name": "Beta"}])
        orgs.rename(session, acme, name="Acme Corp")
        assert len(logged_events(session)) == 3


def test_the_actions_logger_names_the_event_and_never_its_data(
    accounts: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="accounts.data.actions")
    with Session(accounts) as session, session.begin():
        ann = users.create(
            session,
            email="ann@example.com",
            given_name="Annabel",
            password="hunter2",
            actor=SystemActor("seed"),
            metadata={"request": "req-8812"},
        )
        users.change_password(session, ann, password="correct horse")
        users.create_many(session, [{"email": "bob@example.com", "given_name": "Bobby"}])
    records = [r for r in caplog.records if r.name == "accounts.data.actions"]
    assert [r.getMessage() for r in records] == [
        "event 1 in Event: User.create v2, actor system_actor=seed",
        "event 2 in Event: UserRole.grant v1, actor system_actor=seed",
        "event 3 in Event: User.change_password v1, actor none",
        "event 4 in Event: User.create v2, actor none",
        "event 5 in Event: UserRole.grant v1, actor none",
    ]
    assert all(r.levelno == logging.DEBUG for r in records)
    text = caplog.text + repr([r.args for r in records])
    for secret in ("ann@example.com", "Annabel", "hunter2", "correct horse", "req-8812", "Bobby"):
        assert secret not in text


def test_replay_logs_on_the_package_replay_logger() -> None:
    assert _replay.LOGGER.name == "accounts.data.replay"
    assert observe.logger.name == "accounts.data.actions"

"""Upcasters at read time (the golden `upcasting` project), on SQLite and PostgreSQL.

Old events are written as earlier versions of the specs wrote them (straight into the log, the
way they sit in a database that predates the current specs); replay must rebuild the rows the
current actions would have made, on the fold path and the ORM path, without touching the stored
events.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from eventspec.cli import main
from sqlalchemy import Engine, LargeBinary, event, select, type_coerce
from sqlalchemy.orm import Session
from upcasting.data import _upcast
from upcasting.data.actions import org as orgs
from upcasting.data.actions import secret as secrets
from upcasting.data.models import Base, Event, Org, Secret, Team, Vault
from upcasting.data.replay import EVENT_UPCASTERS, replay_event, replay_vault

from tests.conftest import UPCASTING

KEY = "q0GJ2p3Wg1Dq3s2H2sQ6c7S8b0kX3f7ZbqR2d1m4n5o="
T0 = dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)


@pytest.fixture
def db(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("UPCASTING_VAULT_KEYS", KEY)
    Base.metadata.create_all(engine)
    yield engine


@pytest.fixture(params=["fold", "orm"])
def path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def open_session(engine: Engine, path: str) -> Session:
    session = Session(engine, expire_on_commit=False)
    if path == "orm":
        # A session listener makes replay write through the unit of work (see _fold.eligible).
        event.listen(session, "before_flush", lambda *_: None)
    return session


def stored(
    model: type[Any], resource: str, action: str, version: int, record_id: uuid.UUID, **maps: Any
) -> Any:
    return model(
        record_id=record_id,
        version=version,
        occurred_at=T0,
        resource=resource,
        action=action,
        action_type="create" if action in ("create", "register") else action,
        data=maps.get("data", {}),
        changed_attributes=maps.get("changed", {}),
    )


def rows(session: Session, model: type[Any], *columns: str) -> list[tuple[Any, ...]]:
    records = session.scalars(select(model).order_by(model.id)).all()
    return sorted(tuple(getattr(r, c) for c in columns) for r in records)


def test_old_versions_are_upcast_through_the_chain(db: Engine, path: str) -> None:
    v1, v2, renamed = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with open_session(db, path) as session, session.begin():
        session.add_all(
            [
                # Version 1 stored `name` (now `title`), plan names since renamed, a dropped key.
                stored(Event, "Org", "create", 1, v1, data={"name": "Old", "plan": "premium",
                       "legacy_code": "X"}, changed={"id": str(v1)}),
                # Version 2 set seats in a change: now an input.
                stored(Event, "Org", "create", 2, v2, data={"name": "Two", "plan": "pro"},
                       changed={"id": str(v2), "seats": 7}),
                # An update recorded before the rename: renamed_from alone handles it.
                stored(Event, "Org", "update", 1, v1, data={"name": "Old, renamed"}),
                stored(Event, "Team", "register", 1, renamed, data={"label": "Legacy team"},
                       changed={"id": str(renamed)}),
            ]
        )  # fmt: skip
        current = orgs.create(session, title="Now", plan="team", seats=3)
        orgs.update(session, current, note="kept")
    with open_session(db, path) as session:
        live = rows(session, Org, "id", "title", "plan", "seats", "note")
    before = [(e.version, e.data) for e in _events(db)]

    with open_session(db, path) as session, session.begin():
        result = replay_event(session)
    assert result.applied == 6, str(result)
    with open_session(db, path) as session:
        assert rows(session, Org, "id", "title", "plan", "seats", "note") == sorted(
            [
                (v1, "Old, renamed", "pro", 1, None),
                (v2, "Two", "pro", 7, None),
                *[r for r in live if r[0] == current.id],
            ]
        )
        assert rows(session, Team, "id", "name") == [(renamed, "Legacy team")]
    assert [(e.version, e.data) for e in _events(db)] == before  # stored events are untouched


def _events(engine: Engine) -> list[Event]:
    with Session(engine) as session:
        return list(session.scalars(select(Event).order_by(Event.id)))


def test_replay_up_to_an_event_id_upcasts_too(db: Engine, path: str) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    with open_session(db, path) as session, session.begin():
        old = stored(Event, "Org", "create", 1, first, data={"name": "A", "plan": "basic"})
        session.add(old)
        session.add(stored(Event, "Org", "create", 1, second, data={"name": "B"}))
    with open_session(db, path) as session, session.begin():
        replay_event(session, last_event_id=old.id)
    with open_session(db, path) as session:
        assert rows(session, Org, "title", "plan") == [("A", "free")]


def test_a_call_step_chained_on_an_encrypted_log(db: Engine, path: str) -> None:
    one, two = uuid.uuid4(), uuid.uuid4()
    with open_session(db, path) as session, session.begin():
        session.add(stored(Vault, "Secret", "create", 1, one, data={"text": "key:abc"}))
        session.add(stored(Vault, "Secret", "create", 2, two, data={"body": "note:hello"}))
        live = secrets.create(session, body="plain", kind="key")
    with open_session(db, path) as session:
        # Encrypted at rest: the old body is not readable in the column.
        raw = session.scalars(select(type_coerce(Vault.data, LargeBinary))).all()
        assert all(b"abc" not in bytes(value) for value in raw)
    with open_session(db, path) as session, session.begin():
        replay_vault(session)
    with open_session(db, path) as session:
        # v1 -> v2 renames text to body; v2 -> v3 calls split_kind on the result.
        assert rows(session, Secret, "id", "body", "kind") == sorted(
            [(one, "abc", "key"), (two, "hello", "note"), (live.id, "plain", "key")]
        )


def test_an_upcaster_leaves_the_event_it_reads_unchanged() -> None:
    row = stored(Event, "Org", "create", 1, uuid.uuid4(), data={"name": "A", "plan": "basic"})
    out = _upcast.upcast(row, EVENT_UPCASTERS)
    assert (out.version, out.data) == (3, {"title": "A", "plan": "free", "seats": 1})
    assert out.changed_attributes == {"origin": "import"}
    assert (row.version, row.data) == (1, {"name": "A", "plan": "basic"})


def test_events_without_upcasters_are_passed_through_as_they_are() -> None:
    row = stored(Event, "Org", "create", 3, uuid.uuid4(), data={"title": "A"})
    assert _upcast.upcast(row, {}) is row
    assert _upcast.upcast(row, EVENT_UPCASTERS).data == {"title": "A"}


def test_events_upcast_shows_the_stored_and_the_replayed_form(
    db: Engine, database_url: str
) -> None:
    record = uuid.uuid4()
    with Session(db) as session, session.begin():
        session.add(stored(Event, "Org", "create", 1, record, data={"name": "A", "plan": "basic"}))
    args = ["events", "--config", str(UPCASTING / "eventspec.yaml"), "--event-log", "Event"]
    args += ["--database-url", database_url, "--all", "--json", "--upcast"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output.splitlines()[-1])
    assert (shown["version"], shown["data"]) == (1, {"name": "A", "plan": "basic"})
    assert (shown["replay_version"], shown["replay_data"]) == (
        3,
        {"title": "A", "plan": "free", "seats": 1},
    )
    assert shown["replay_changed_attributes"] == {"origin": "import"}
    table = CliRunner().invoke(main, [*args[:-2], "--upcast", "--wide"], catch_exceptions=False)
    assert "replay_data" in table.output.splitlines()[0]

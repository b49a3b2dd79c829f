"""Tenants, advisory locks, hooks, integer keys and the less common action options."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from features.actors import Service
from features.data.actions import account as accounts
from features.data.actions import document as documents
from features.data.actions import member as members
from features.data.errors import ConfigurationError, ValidationError
from features.data.models import Account, Event, Ledger, Member
from features.data.replay import replay_event
from features.hooks import NOTIFIED
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from tests.engines import create_engine
from tests.test_replay import snapshot


def session_of(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)


def count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_failing_after_action_leaves_no_row_and_no_event(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        account = accounts.open(session, owner="ada", pin="1234")
        before = count(session, Ledger)
        with pytest.raises(RuntimeError, match="negative deposits"):
            accounts.deposit(session, account, amount=-5)
        assert count(session, Ledger) == before
        session.refresh(account)
        assert account.balance == 0
        accounts.deposit(session, account, amount=5)  # the transaction is still usable
    with session_of(features) as session:
        assert session.scalars(select(Account.balance)).one() == 5
        assert [e.action for e in session.scalars(select(Ledger).order_by(Ledger.id))] == [
            "open",
            "deposit",
        ]


def test_only_actions_and_integer_keys(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        account = accounts.open(session, owner="bea")
        accounts.audit_touch(session, account, owner="bea2")  # not in only_actions
        (event,) = session.scalars(select(Ledger))
    assert isinstance(account.id, int)
    assert event.record_id == account.id
    assert event.changed_attributes["id"] == account.id
    assert event.occurred_at == account.opened_at


def test_tenant_is_required_set_and_checked(features: Engine) -> None:
    workspace, other = uuid.uuid4(), uuid.uuid4()
    with session_of(features) as session, session.begin():
        with pytest.raises(ValidationError, match="a tenant is required"):
            documents.create(session, title="No tenant")
        doc = documents.create(session, title="Plan", tenant=workspace)
        assert doc.workspace_id == workspace
        with pytest.raises(ValidationError, match="another tenant"):
            documents.edit(session, doc, title="Stolen", tenant=other)
        documents.edit(session, doc, title="Plan B", tenant=workspace)
        create, edit = session.scalars(select(Event).order_by(Event.id))
    assert create.changed_attributes["workspace_id"] == str(workspace)
    assert "workspace_id" not in create.data
    assert edit.data == {"title": "Plan B"}


def test_set_attribute_from_actor_with_where_and_custom_validation(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        author = members.create(session, handle="al")
        doc = documents.create(session, title="Hi", tenant=uuid.uuid4(), actor=author)
        assert doc.author_id == author.id
        with pytest.raises(ValidationError) as error:
            documents.create(session, title="LOUD TITLE", tenant=uuid.uuid4(), actor=author)
        event = session.scalars(select(Event).where(Event.resource == "Document")).one()
    assert (error.value.field, error.value.message) == ("title", "please do not shout")
    assert event.member_id == author.id
    assert event.changed_attributes["author_id"] == str(author.id)


def test_constraints_and_types_round_trip(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        with pytest.raises(ValidationError, match="handle: must be at least 2"):
            members.create(session, handle="x")
        member = members.create(
            session, handle="mo", tags=["a", "b"], profile={"bio": {"lang": "en"}}
        )
        members.bump(session, member, by=3, actor=Service("karma-bot"))
        with pytest.raises(ValidationError, match="by: must be greater than 0"):
            members.bump(session, member, by=0)
        create, bump = session.scalars(select(Event).order_by(Event.id))
    assert member.karma == 3
    assert create.data == {"handle": "mo", "tags": ["a", "b"], "profile": {"bio": {"lang": "en"}}}
    assert bump.data == {"by": 3}
    assert bump.changed_attributes == {"karma": 3}
    assert (bump.service, bump.member_id) == ("karma-bot", None)


def test_argument_default_is_not_recorded_as_input(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        member = members.create(session, handle="nn")
        members.bump(session, member)
        bump = session.scalars(select(Event).order_by(Event.id.desc())).first()
    assert bump is not None and bump.data == {}
    assert member.karma == 1


def test_sensitive_input_is_null_in_plain_logs(features: Engine) -> None:
    # A sensitive argument is nulled in `data`; the attribute a change sets from it is kept in
    # changed_attributes (as AshEvents does), so replay restores it.
    with session_of(features) as session, session.begin():
        documents.create(session, title="Doc", note="hunter2", tenant=uuid.uuid4())
        event = session.scalars(select(Event)).one()
    assert event.data["note"] is None
    assert event.changed_attributes["secret_note"] == "hunter2"


def test_hooks_see_the_changeset(features: Engine) -> None:
    NOTIFIED.clear()
    with session_of(features) as session, session.begin():
        account = accounts.open(session, owner="cy")
        accounts.deposit(session, account, amount=10)
    assert [(account.id, 10)] == NOTIFIED


# --- PostgreSQL advisory locks ------------------------------------------------------------------


def advisory_locks(engine: Engine) -> set[tuple[int, int, int]]:
    """(classid, objid, objsubid) of advisory locks other sessions hold in this database."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT classid::bigint, objid::bigint, objsubid FROM pg_locks "
                "WHERE locktype = 'advisory' AND pid <> pg_backend_pid() AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
        return {(r[0], r[1], r[2]) for r in rows}


@contextmanager
def open_transaction(engine: Engine) -> Iterator[Session]:
    session = session_of(engine)
    session.begin()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_pg_locks_show_the_default_and_tenant_keys(features: Engine) -> None:
    workspace = uuid.UUID("01234567-89ab-cdef-fedc-ba9876543210")
    with open_transaction(features) as session:
        members.create(session, handle="lk")
        # A single bigint key K shows as classid = K >> 32, objid = K & 0xffffffff, objsubid 1.
        assert (0, 2147483647, 1) in advisory_locks(features)
    with open_transaction(features) as session:
        documents.create(session, title="Locked", tenant=workspace)
        # A UUID tenant: bytes 0-3 and 8-11 as two int32, shown unsigned, objsubid 2.
        assert (0x01234567, 0xFEDCBA98, 2) in advisory_locks(features)
    with open_transaction(features) as session:
        accounts.open(session, owner="Zed")
        # The Ledger's own generator: (default[0], ord(first letter)).
        assert (7, ord("Z"), 2) in advisory_locks(features)
    assert advisory_locks(features) == set()


def test_default_tenant_lock_keys() -> None:
    from features.data._locks import tenant_lock_key

    assert tenant_lock_key(42) == 42
    tenant = uuid.UUID("ffffffff-0000-0000-8000-000100000000")
    assert tenant_lock_key(tenant) == tenant_lock_key(str(tenant)) == (-1, -2147483647)
    for unsupported in ("acme", None, 1.5):
        with pytest.raises(ConfigurationError, match="advisory_lock_key_generator"):
            tenant_lock_key(unsupported)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_writers_commit_in_event_id_order(features: Engine, database_url: str) -> None:
    """8 threads x 200 writes: no reader ever sees an event id gap that is filled later."""
    engine = create_engine(database_url, pool_size=10)
    writers, writes = 8, 200
    gaps: list[tuple[int, int, int]] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(writes):
                with session_of(engine) as session, session.begin():
                    members.create(session, handle=f"w{n}-{i}")
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    def read() -> None:
        with engine.connect() as connection:
            while not done.is_set():
                low, high, seen = connection.execute(
                    text("SELECT min(id), max(id), count(*) FROM events")
                ).one()
                connection.commit()
                if seen and high - low + 1 != seen:
                    gaps.append((low, high, seen))

    reader = threading.Thread(target=read)
    reader.start()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader.join()
    engine.dispose()
    assert not errors
    assert gaps == []
    with session_of(features) as session:
        ids = list(session.scalars(select(Event.id).order_by(Event.id)))
        before = snapshot(session, (Member,))
    assert len(ids) == writers * writes and ids == list(range(ids[0], ids[0] + len(ids)))
    with session_of(features) as session, session.begin():
        replay_event(session)
    with session_of(features) as session:
        assert snapshot(session, (Member,)) == before


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_lock_is_taken_again_after_a_rolled_back_action_released_it(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        account = accounts.open(session, owner="Ann")
    key = (7, ord("A"), 2)
    with open_transaction(features) as session:
        account = session.get(Account, account.id)
        with pytest.raises(RuntimeError):
            accounts.deposit(session, account, amount=-1)  # locks, then its hook fails
        assert key not in advisory_locks(features)  # the SAVEPOINT rollback released it
        accounts.deposit(session, account, amount=1)
        assert key in advisory_locks(features)
        accounts.deposit(session, account, amount=2)  # taken once, held until the end
        assert key in advisory_locks(features)
    assert key not in advisory_locks(features)

"""``<pkg>.testing``: capture_events, assert_event and assert_replays pass and fail when they
should, with messages that explain and never show a sensitive value (both databases)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from accounts.actors import SystemActor
from accounts.data.actions import org as orgs
from accounts.data.actions import user as users
from accounts.data.errors import ValidationError
from accounts.data.models import Event, Org, User
from accounts.data.testing import NO_ACTOR, assert_event, assert_replays, capture_events
from features.data import testing as features_testing
from features.data.actions import account as ledger_accounts
from features.data.actions import member as members
from features.data.models import Ledger
from sqlalchemy import Engine, create_engine, func, select, update
from sqlalchemy.orm import Session

from tests.projects import generated_package

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_TESTS = ROOT / "examples" / "accounts" / "tests"


@pytest.fixture
def session(accounts: Engine) -> Iterator[Session]:
    with Session(accounts) as session, session.begin():
        yield session


# --- capture_events -------------------------------------------------------------------------------


def test_capture_lists_the_blocks_events_in_the_order_written(session: Session) -> None:
    orgs.create(session, name="Before")
    with capture_events(session) as events:
        acme = orgs.create(session, name="Acme")
        ann = users.create(session, email="ann@example.com", org_id=acme.id)
        orgs.create_many(session, [{"name": "Beta"}])
        assert events == []  # filled when the block ends
    assert [(e.resource, e.action) for e in events] == [
        ("Org", "create"),
        ("User", "create"),
        ("UserRole", "grant"),
        ("Org", "create"),
    ]
    assert all(isinstance(e, Event) for e in events)
    assert events[1].record_id == ann.id
    assert str(events).splitlines()[1] == (
        f"#2 Event id={events[1].id}: User.create v2, record {ann.id}"
    )


def test_capture_leaves_out_what_was_rolled_back(session: Session) -> None:
    with capture_events(session) as events:
        orgs.create(session, name="Kept")
        with pytest.raises(ValidationError):
            users.create(session, email="not an address")  # refused before the write
        try:
            with session.begin_nested():
                orgs.create(session, name="Undone")
                raise LookupError
        except LookupError:
            pass
        orgs.create(session, name="Kept too")  # may reuse the undone event's id (SQLite)
    assert [e.record_id for e in events] == list(
        session.scalars(select(Org.id).where(Org.name.in_(["Kept", "Kept too"])).order_by(Org.name))
    )


def test_capture_leaves_out_an_event_whose_action_failed_after_writing_it(
    features: Engine,
) -> None:
    """Account.deposit's after_action hook refuses a negative amount after the event row is
    written: the action's SAVEPOINT takes the event back, and the capture has none."""
    with Session(features) as session, session.begin():
        account = ledger_accounts.open(session, owner="ann", pin="1234")
        with features_testing.capture_events(session) as events:
            with pytest.raises(RuntimeError, match="negative deposits"):
                ledger_accounts.deposit(session, account, amount=-5)
            ledger_accounts.deposit(session, account, amount=7)
        assert [(type(e), e.action, e.data) for e in events] == [(Ledger, "deposit", {"amount": 7})]


def test_capture_spans_every_log_in_write_order(features: Engine) -> None:
    with Session(features) as session, session.begin():
        with features_testing.capture_events(session) as events:
            ada = members.create(session, handle="ada")
            ledger_accounts.open(session, owner="ann", pin="1234")
            members.bump(session, ada)
        assert [(type(e).__name__, e.action) for e in events] == [
            ("Event", "create"),
            ("Ledger", "open"),
            ("Event", "bump"),
        ]


def test_capture_ignores_other_sessions_and_a_block_that_raises(accounts: Engine) -> None:
    with Session(accounts) as session, session.begin(), Session(accounts) as other:
        with capture_events(session) as events:
            orgs.create(other, name="Elsewhere")
            other.commit()
        assert events == []
        with pytest.raises(KeyError), capture_events(session) as failed:
            orgs.create(session, name="Acme")
            raise KeyError
        assert failed == []


# --- assert_event -------------------------------------------------------------------------------


def test_assert_event_matches_by_resource_action_actor_and_parts_of_the_maps(
    session: Session,
) -> None:
    seed = SystemActor("seed")
    with capture_events(session) as events:
        acme = orgs.create(session, name="Acme", actor=seed, metadata={"source": "api", "n": 1})
        ann = users.create(session, email="ann@example.com", org_id=acme.id)
        users.update(session, ann, given_name="Ann", actor=ann)
    [created] = assert_event(
        events, resource="Org", action="create", actor=seed, metadata={"source": "api"}
    )
    assert created.record_id == acme.id
    # Values as the caller passes them: a UUID matches the text the event stores.
    assert_event(events, resource="User", data={"org_id": acme.id}, changed={"status": "active"})
    assert_event(events, action="update", actor=ann, record_id=ann.id, data={"given_name": "Ann"})
    assert_event(events, action="update", actor={"user_id": ann.id, "system_actor": None})
    assert_event(events, resource="User", action="create", actor=NO_ACTOR, version=2)
    assert len(assert_event(events, action="create", count=2)) == 2
    assert_event(events, action="destroy", count=0)


def test_assert_event_explains_a_miss_with_the_closest_events(session: Session) -> None:
    with capture_events(session) as events:
        acme = orgs.create(session, name="Acme")
        ann = users.create(session, email="ann@example.com", actor=SystemActor("seed"))
    e1, e2 = events[0], events[1]
    with pytest.raises(AssertionError) as failure:
        assert_event(
            events,
            resource="User",
            action="create",
            actor=NO_ACTOR,
            data={"email": "bob@example.com", "given_name": None},
        )
    assert str(failure.value) == "\n".join(
        [
            "expected at least 1 event matching resource='User', action='create', no actor, "
            "data containing {'email': 'bob@example.com', 'given_name': None}",
            "none of the 3 events matches; the closest:",
            f"  #2 Event id={e2.id}: User.create v2, record {ann.id}",
            "      actor system_actor: expected None, got 'seed'",
            "      data['email']: expected 'bob@example.com', got 'ann@example.com'",
            "      data['given_name']: expected None, missing",
            f"  #1 Event id={e1.id}: Org.create v1, record {acme.id}",
            "      resource: expected 'User', got 'Org'",
            "      data['email']: expected 'bob@example.com', missing",
            "      data['given_name']: expected None, missing",
            f"  #3 Event id={events[2].id}: UserRole.grant v1, record {events[2].record_id}",
            "      resource: expected 'User', got 'UserRole'",
            "      action: expected 'create', got 'grant'",
            "      actor system_actor: expected None, got 'seed'",
            "      data['email']: expected 'bob@example.com', missing",
            "      data['given_name']: expected None, missing",
        ]
    )


def test_assert_event_counts(session: Session) -> None:
    with capture_events(session) as events:
        orgs.create(session, name="Acme")
        orgs.create(session, name="Beta")
    with pytest.raises(AssertionError) as failure:
        assert_event(events, resource="Org", count=1)
    assert str(failure.value).splitlines()[:2] == [
        "expected 1 event matching resource='Org'",
        "found 2:",
    ]
    with pytest.raises(AssertionError, match=r"^expected at least 1 event matching anything\n"):
        assert_event([])
    with pytest.raises(TypeError, match="pass the actor object"):
        assert_event(events, actor="a user id")


def test_assert_event_never_prints_a_sensitive_value(session: Session) -> None:
    with capture_events(session) as events:
        ann = users.create(session, email="ann@example.com", password="hunter2")
        users.change_password(session, ann, password="correct horse")
    with pytest.raises(AssertionError) as failure:
        assert_event(events, action="change_password", data={"password": "tr0ub4dor"})
    message = str(failure.value)
    assert "data containing {'password': '[sensitive]'}" in message
    assert "data['password']: [sensitive] differs" in message
    for secret in ("tr0ub4dor", "hunter2", "correct horse"):
        assert secret not in message


def test_assert_event_masks_what_an_encrypted_log_stores(features: Engine) -> None:
    """The Ledger log is encrypted: its data holds the sensitive pin, read back decrypted."""
    with Session(features) as session, session.begin():
        with features_testing.capture_events(session) as events:
            ledger_accounts.open(session, owner="ann", pin="1234")
        assert events[0].data["pin"] == "1234"
        features_testing.assert_event(events, data={"pin": "1234"})
        with pytest.raises(AssertionError) as failure:
            features_testing.assert_event(events, data={"pin": "9999", "owner": "bob"})
    message = str(failure.value)
    assert "data['owner']: expected 'bob', got 'ann'" in message
    assert "1234" not in message and "9999" not in message


# --- assert_replays -----------------------------------------------------------------------------


def test_assert_replays_passes_and_leaves_the_session_as_it_was(session: Session) -> None:
    acme = orgs.create(session, name="Acme")
    ann = users.create(session, email="ann@example.com", org_id=acme.id)
    users.update(session, ann, given_name="Ann")
    users.soft_delete(session, ann)
    assert_replays(session)
    assert ann in session and acme in session  # the test's objects are still its own
    users.update(session, ann, given_name="Anne")
    assert session.scalar(select(User.given_name)) == "Anne"
    assert session.scalar(select(func.count()).select_from(Event)) == 6
    assert_replays(session)


def test_assert_replays_lists_the_rows_that_differ(session: Session) -> None:
    ann = users.create(session, email="ann@example.com", given_name="Ann", password="hunter2")
    orgs.create(session, name="Acme")
    # Written behind the actions' back: no event says so.
    session.execute(
        update(User).values(given_name="Changed", hashed_password="leaked-hash"),
        execution_options={"synchronize_session": False},
    )
    session.execute(update(Org).values(name="Acme Corp"))
    with pytest.raises(AssertionError) as failure:
        assert_replays(session)
    message = str(failure.value)
    lines = message.splitlines()
    assert lines[0] == "the event log does not replay to the current state:"
    assert "orgs (Org): DIFFERENT: 0 same, 0 only live, 0 only replayed, 1 different" in lines
    assert "    name: live 'Acme Corp' != replayed 'Acme'" in lines
    assert f"  different {ann.id} (last event 1)" in lines
    assert "    given_name: live 'Changed' != replayed 'Ann'" in lines
    assert "    hashed_password: live '[sensitive]' != replayed '[sensitive]'" in lines
    identical = "identical: 1 same, 0 only live, 0 only replayed, 0 different"
    assert f"user_roles (UserRole): {identical}" in lines
    assert "leaked-hash" not in message and "hunter2" not in message
    # The replay was undone: the rows are as the test left them.
    assert session.scalar(select(User.given_name)) == "Changed"


def test_assert_replays_reports_a_replay_that_fails(session: Session) -> None:
    users.create(session, email="ann@example.com")
    session.execute(update(Event).values(action="vanished").where(Event.id == 1))
    with pytest.raises(AssertionError, match=r"^the event log does not replay: .*User\.vanished"):
        assert_replays(session)
    assert session.scalar(select(func.count()).select_from(User)) == 1


# --- the fixture pattern of docs/testing.md -------------------------------------------------------


def test_the_docs_show_the_example_conftest() -> None:
    """docs/testing.md quotes the fixtures of examples/accounts/tests/conftest.py verbatim."""
    docs = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    conftest = (EXAMPLE_TESTS / "conftest.py").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", docs, re.S)
    quoted = conftest.split("# --- fixtures ---\n", 1)[1]
    assert quoted.strip() in [b.strip() for b in blocks]


def test_the_fixture_pattern_rolls_back_even_a_commit(accounts: Engine) -> None:
    """Each test's session lives in a transaction the fixture rolls back; a test that commits
    only releases a SAVEPOINT. On SQLite only with the pysqlite recipe (a commit would persist)."""
    spec = importlib.util.spec_from_file_location("example_conftest", EXAMPLE_TESTS / "conftest.py")
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    if accounts.dialect.name == "sqlite":
        example.begin_explicitly(accounts)
        accounts.dispose()  # connections made from now on get the recipe
    with example.rolled_back_session(accounts) as test_session:
        orgs.create(test_session, name="Acme")
        test_session.commit()
        orgs.create(test_session, name="Beta")  # a new SAVEPOINT, after the commit
        assert test_session.scalar(select(func.count()).select_from(Org)) == 2
    with accounts.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Org)) == 0
        assert connection.scalar(select(func.count()).select_from(Event)) == 0


def test_without_the_recipe_a_commit_on_sqlite_persists(tmp_path: Path) -> None:
    """Why the fixture needs the recipe on SQLite: the same test, on a plain engine."""
    from accounts.data.models import Base

    engine = create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    Base.metadata.create_all(engine)
    with engine.connect() as connection:
        transaction = connection.begin()
        with Session(bind=connection, join_transaction_mode="create_savepoint") as test_session:
            orgs.create(test_session, name="Acme")
            test_session.commit()
        transaction.rollback()
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Org)) == 1
    engine.dispose()


# --- module names ---------------------------------------------------------------------------------

NAMED_LIKE_THE_HELPERS = """
kind: resource
name: {name}
attributes:
  id: {{type: uuid, primary_key: true, default: uuid4, writable: false}}
  label: string
actions:
  create: {{type: create, accept: [label]}}
events:
  event_log: Session
"""


def test_resources_named_like_the_helper_modules_keep_both(tmp_path: Path, engine: Engine) -> None:
    """Resource modules live under actions/, so a resource Testing or Observe (and a log named
    like a name the testing module binds) cannot shadow the helpers."""
    specs = {
        f"{name.lower()}.yaml": NAMED_LIKE_THE_HELPERS.format(name=name)
        for name in ("Testing", "Observe")
    }
    specs["log.yaml"] = "kind: event_log\nname: Session\ntable: events\n"
    with generated_package(tmp_path, "clash", specs):
        models = importlib.import_module("clash.data.models")
        testing = importlib.import_module("clash.data.testing")
        observe = importlib.import_module("clash.data.observe")
        resource = importlib.import_module("clash.data.actions.testing")
        models.Base.metadata.create_all(engine)
        seen: list[Any] = []
        with Session(engine) as session, observe.on_event(seen.append):
            with testing.capture_events(session) as events:
                resource.create(session, label="a")
            testing.assert_event(events, resource="Testing", action="create", count=1)
            testing.assert_replays(session)
        assert [e.resource for e in seen] == ["Testing"]


def test_the_helpers_need_no_pytest() -> None:
    code = (
        "import sys\n"
        "import accounts.data.testing, accounts.data.observe\n"
        "assert 'pytest' not in sys.modules and '_pytest' not in sys.modules, 'pytest imported'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "examples" / "accounts" / "src")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

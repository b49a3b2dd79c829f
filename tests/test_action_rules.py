"""Hooks, built-in validations, constraints and required input, run on both databases.

A project generated for these tests gives one resource, Ticket, every rule no other test runs:
``before_action`` hooks on create, update and destroy; ``absent``, ``attribute_equals``,
``attribute_does_not_equal`` and ``string_length`` with their default and custom messages and
``where:``; max-length and min/max value constraints; a required argument. Every refusal is a
``ValidationError(field, message)`` that leaves no row and no event, and the transaction usable.
"""

from __future__ import annotations

import importlib
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from features.data.actions import document as documents
from features.data.errors import ValidationError as FeaturesValidationError
from features.data.models import Document
from features.data.models import Event as FeaturesEvent
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from tests.projects import generated_package
from tests.test_replay import snapshot

TICKET = """
    kind: resource
    name: Ticket
    attributes:
      id: {type: uuid, primary_key: true, default: uuid4, writable: false}
      title: {type: string, allow_nil: false, constraints: {max_length: 20}}
      priority: {type: integer, default: 1, constraints: {min: 1, max: 5}}
      score: {type: float, constraints: {max: 1.5}}
      budget: {type: decimal, constraints: {min: 0, max: 99.5}}
      state: {type: enum, values: [open, closed], default: open}
      note: string
      closed_reason: string
      audited: {type: boolean, default: false, writable: false}
    actions:
      open:
        type: create
        accept: [title, priority, score, budget, note, closed_reason]
        arguments:
          reporter: {type: string, allow_nil: false}
        changes:
          - before_action: PACKAGE.hooks:before_write
        validations:
          - absent: {attributes: [closed_reason], message: is only given when closing}
          - absent:
              attributes: [score]
              where: [{attribute_equals: {attribute: priority, value: 1}}]
          - string_length: {attribute: note, min: 2, max: 10}
          - string_length:
              attribute: title
              min: 5
              message: is too short for an urgent ticket
              where: [{attribute_equals: {attribute: priority, value: 5}}]
      close:
        type: update
        accept: [closed_reason]
        changes:
          - set_attribute: {attribute: state, value: closed}
          - before_action: PACKAGE.hooks:before_write
        validations:
          - attribute_equals: {attribute: state, value: open, message: is already closed}
          - present: [closed_reason]
      reopen:
        type: update
        changes:
          - set_attribute: {attribute: state, value: open}
        validations:
          - attribute_equals: {attribute: state, value: closed}
          - attribute_equals:
              attribute: closed_reason
              value: duplicate
              message: only a duplicate is reopened
              where: [{attribute_does_not_equal: {attribute: priority, value: 5}}]
      edit:
        type: update
        accept: [title, priority, score, note]
        validations:
          - attribute_does_not_equal: {attribute: state, value: closed, message: is closed}
          - attribute_does_not_equal: {attribute: title, value: TODO}
          - attribute_does_not_equal:
              attribute: priority
              value: 5
              message: needs a note to be urgent
              where: [{absent: [note]}]
      destroy:
        type: destroy
        changes:
          - before_action: PACKAGE.hooks:before_write
    events: {event_log: Event}
"""

HOOKS = '''
"""The before_action of the rules tests: records what it sees, refuses when asked to."""

from typing import Any

from sqlalchemy import func, select

SEEN: list[dict[str, Any]] = []


def before_write(changeset: Any, record: Any) -> None:
    from PACKAGE.data.models import Event, Ticket

    session = changeset.session
    stored = None
    if record is not None:
        stored = session.scalar(select(Ticket.state).where(Ticket.id == record.id))
    SEEN.append(
        {
            "action": changeset.action,
            "record": record,
            "attributes": dict(changeset.attributes),
            "arguments": dict(changeset.arguments),
            "stored_state": stored,
            "tickets": session.scalar(select(func.count()).select_from(Ticket)),
            "events": session.scalar(select(func.count()).select_from(Event)),
        }
    )
    vetoed = record is not None and record.note == "veto"
    if changeset.arguments.get("reporter") == "mallory" or vetoed:
        raise PermissionError("refused by the hook")
    if changeset.action == "open":
        changeset.attributes["audited"] = True
    overrides = {"long": ("title", "x" * 21), "typed": ("priority", "high"), "low": ("priority", 0)}
    if changeset.arguments.get("reporter") in overrides:
        name, value = overrides[changeset.arguments["reporter"]]
        changeset.attributes[name] = value
'''


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """The generated Ticket package, imported once for the module."""
    name = f"rules_{uuid.uuid4().hex[:8]}"
    specs = {
        "ticket.yaml": textwrap.dedent(TICKET).replace("PACKAGE", name),
        "event_log.yaml": "kind: event_log\nname: Event\n",
    }
    with generated_package(tmp_path_factory.mktemp("rules"), name, specs) as source:
        (source / "hooks.py").write_text(HOOKS.replace("PACKAGE", name), encoding="utf-8")
        yield SimpleNamespace(
            models=importlib.import_module(f"{name}.data.models"),
            tickets=importlib.import_module(f"{name}.data.actions.ticket"),
            errors=importlib.import_module(f"{name}.data.errors"),
            replay=importlib.import_module(f"{name}.data.replay").replay,
            seen=importlib.import_module(f"{name}.hooks").SEEN,
        )


@pytest.fixture
def app(package: SimpleNamespace, engine: Engine) -> Iterator[SimpleNamespace]:
    """The package with its tables on ``engine`` and the hook's record emptied."""
    package.models.Base.metadata.create_all(engine)
    package.seen.clear()
    yield SimpleNamespace(**vars(package), engine=engine)
    package.seen.clear()


def session_of(app: SimpleNamespace) -> Session:
    return Session(app.engine, expire_on_commit=False)


def counts(session: Session, app: SimpleNamespace) -> tuple[int, int]:
    """(tickets, events) in the database, as this transaction sees them."""
    ticket, event = app.models.Ticket, app.models.Event
    return (
        session.scalar(select(func.count()).select_from(ticket)) or 0,
        session.scalar(select(func.count()).select_from(event)) or 0,
    )


@contextmanager
def refused(session: Session, app: SimpleNamespace, field: str, message: str) -> Iterator[None]:
    """The block raises ValidationError(field, message) and writes nothing."""
    before = counts(session, app)
    with pytest.raises(app.errors.ValidationError) as error:
        yield
    assert (error.value.field, error.value.message) == (field, message)
    assert counts(session, app) == before


def stored(app: SimpleNamespace, ticket: Any) -> tuple[Any, ...]:
    """The ticket's row as committed (title, priority, score, state, note, closed_reason)."""
    t = app.models.Ticket
    columns = (t.title, t.priority, t.score, t.state, t.note, t.closed_reason)
    with session_of(app) as session:
        return tuple(session.execute(select(*columns).where(t.id == ticket.id)).one())


# --- before_action ------------------------------------------------------------------------------


def test_before_action_sees_the_changeset_before_anything_is_written(app: SimpleNamespace) -> None:
    with session_of(app) as session, session.begin():
        ticket = app.tickets.open(session, title="Printer", reporter="ann")
        opened = app.seen[-1]
        app.tickets.close(session, ticket, closed_reason="fixed")
        closed = app.seen[-1]
        (event, close_event) = session.scalars(
            select(app.models.Event).order_by(app.models.Event.id)
        )
    # On create: no record yet, defaults applied, the arguments; no row and no event written yet.
    assert opened["record"] is None
    assert opened["attributes"]["title"] == "Printer" and opened["attributes"]["priority"] == 1
    assert opened["arguments"] == {"reporter": "ann"}
    assert (opened["tickets"], opened["events"]) == (0, 0)
    # On update: the record, the changes already run, the row still as it was.
    assert closed["record"] is ticket
    assert closed["attributes"]["state"] == "closed" and closed["stored_state"] == "open"
    assert (closed["tickets"], closed["events"]) == (1, 1)
    # What the hook set is written and recorded like any other change.
    assert ticket.audited is True
    assert event.changed_attributes["audited"] is True
    assert "audited" not in close_event.changed_attributes


def test_what_a_before_action_sets_is_checked_like_the_rest_of_the_write(
    app: SimpleNamespace,
) -> None:
    # The hook sets a title over max_length, a priority of the wrong type, one under its min.
    with session_of(app) as session, session.begin():
        with refused(session, app, "title", "must be at most 20 characters"):
            app.tickets.open(session, title="Short", reporter="long")
        with refused(session, app, "priority", "must be at least 1"):
            app.tickets.open(session, title="Short", reporter="low")
        before = counts(session, app)
        with pytest.raises(app.errors.ValidationError) as error:
            app.tickets.open(session, title="Short", reporter="typed")
        assert error.value.field == "priority" and counts(session, app) == before
        assert not session.new and not session.dirty


def test_before_action_that_raises_aborts_with_nothing_written(app: SimpleNamespace) -> None:
    with session_of(app) as session, session.begin():
        with pytest.raises(PermissionError, match="refused by the hook"):
            app.tickets.open(session, title="Intruder", reporter="mallory")
        assert counts(session, app) == (0, 0)
        ticket = app.tickets.open(session, title="Vetoed", note="veto", reporter="ann")
        with pytest.raises(PermissionError):
            app.tickets.close(session, ticket, closed_reason="done")
        with pytest.raises(PermissionError):
            app.tickets.destroy(session, ticket)
        assert counts(session, app) == (1, 1)
        app.tickets.open(session, title="Accepted", reporter="ann")  # the transaction goes on
    assert stored(app, ticket)[3] == "open"
    with session_of(app) as session:
        assert counts(session, app) == (2, 2)
    assert [seen["action"] for seen in app.seen] == ["open", "open", "close", "destroy", "open"]


@pytest.mark.parametrize("path", ["fold", "orm"])
def test_before_action_is_not_run_on_replay(app: SimpleNamespace, path: str) -> None:
    with session_of(app) as session, session.begin():
        ticket = app.tickets.open(session, title="Replayed", reporter="ann")
        app.tickets.close(session, ticket, closed_reason="duplicate")
        app.tickets.reopen(session, ticket)
        gone = app.tickets.open(session, title="Gone", reporter="bo")
        app.tickets.destroy(session, gone)
    with session_of(app) as session:
        built = snapshot(session, (app.models.Ticket,))
    assert len(app.seen) == 4
    app.seen.clear()
    # Replay folds pages in memory unless an ORM listener would notice: then it runs each event
    # through the ORM, the path where hooks could run.
    inserted: list[str] = []

    def listener(mapper: Any, connection: Any, target: Any) -> None:
        inserted.append(target.title)

    if path == "orm":
        event.listen(app.models.Ticket, "before_insert", listener)
    try:
        with session_of(app) as session, session.begin():
            app.replay(session)
    finally:
        if path == "orm":
            event.remove(app.models.Ticket, "before_insert", listener)
    with session_of(app) as session:
        assert snapshot(session, (app.models.Ticket,)) == built  # audited=True, from the event
    assert app.seen == []
    assert inserted == (["Replayed", "Gone"] if path == "orm" else [])


# --- absent, attribute_equals, attribute_does_not_equal, string_length ---------------------------


def test_absent(app: SimpleNamespace) -> None:
    with session_of(app) as session, session.begin():
        with refused(session, app, "closed_reason", "is only given when closing"):
            app.tickets.open(session, title="Early", closed_reason="x", reporter="a")
        # where: a score is refused only on a priority-1 ticket.
        with refused(session, app, "score", "must be absent"):
            app.tickets.open(session, title="Scored", score=0.5, reporter="a")
        scored = app.tickets.open(session, title="Scored", priority=2, score=0.5, reporter="a")
        blank = app.tickets.open(session, title="Blank", closed_reason="  ", reporter="a")
    assert stored(app, scored)[:3] == ("Scored", 2, 0.5)
    assert stored(app, blank)[5] == "  "  # blank counts as absent, and is stored as given


def test_string_length(app: SimpleNamespace) -> None:
    with session_of(app) as session, session.begin():
        for note, message in (
            ("x", "must be at least 2 characters"),
            ("x" * 11, "must be at most 10 characters"),
        ):
            with refused(session, app, "note", message):
                app.tickets.open(session, title="Noted", note=note, reporter="a")
        # where: the title's minimum applies to urgent tickets only, with its own message.
        with refused(session, app, "title", "is too short for an urgent ticket"):
            app.tickets.open(session, title="Fire", priority=5, reporter="a")
        short = app.tickets.open(session, title="Fire", priority=4, note="ok", reporter="a")
        urgent = app.tickets.open(session, title="Fire!", priority=5, note="x" * 10, reporter="a")
    assert stored(app, short)[:2] == ("Fire", 4)
    assert stored(app, urgent)[4] == "x" * 10


def test_attribute_equals(app: SimpleNamespace) -> None:
    with session_of(app) as session, session.begin():
        ticket = app.tickets.open(session, title="Jammed", reporter="a")
        with refused(session, app, "state", "must equal 'closed'"):
            app.tickets.reopen(session, ticket)
        app.tickets.close(session, ticket, closed_reason="fixed")
        with refused(session, app, "state", "is already closed"):
            app.tickets.close(session, ticket, closed_reason="again")
        # where: only a duplicate is reopened, unless the ticket is urgent.
        with refused(session, app, "closed_reason", "only a duplicate is reopened"):
            app.tickets.reopen(session, ticket)
        urgent = app.tickets.open(session, title="Urgent", priority=5, reporter="a")
        app.tickets.close(session, urgent, closed_reason="fixed")
        app.tickets.reopen(session, urgent)
        duplicate = app.tickets.open(session, title="Twice", reporter="a")
        app.tickets.close(session, duplicate, closed_reason="duplicate")
        app.tickets.reopen(session, duplicate)
    assert stored(app, ticket)[3:] == ("closed", None, "fixed")
    assert stored(app, urgent)[3] == stored(app, duplicate)[3] == "open"


def test_attribute_does_not_equal(app: SimpleNamespace) -> None:
    with session_of(app) as session, session.begin():
        ticket = app.tickets.open(session, title="Draft", reporter="a")
        with refused(session, app, "title", "must not equal 'TODO'"):
            app.tickets.edit(session, ticket, title="TODO")
        # where: becoming urgent needs a note, given now or already on the record.
        with refused(session, app, "priority", "needs a note to be urgent"):
            app.tickets.edit(session, ticket, priority=5)
        app.tickets.edit(session, ticket, priority=5, note="smoke")
        app.tickets.edit(session, ticket, priority=4)
        app.tickets.edit(session, ticket, priority=5, title="Final")
        app.tickets.close(session, ticket, closed_reason="done")
        with refused(session, app, "state", "is closed"):
            app.tickets.edit(session, ticket, title="Later")
    assert stored(app, ticket) == ("Final", 5, None, "closed", "smoke", "done")


# --- constraints and required input ----------------------------------------------------------


def test_max_length_and_min_max_value_constraints(app: SimpleNamespace) -> None:
    with session_of(app) as session, session.begin():
        with refused(session, app, "title", "must be at most 20 characters"):
            app.tickets.open(session, title="x" * 21, reporter="a")
        with refused(session, app, "priority", "must be at least 1"):
            app.tickets.open(session, title="Zero", priority=0, reporter="a")
        with refused(session, app, "priority", "must be at most 5"):
            app.tickets.open(session, title="Six", priority=6, reporter="a")
        with refused(session, app, "score", "must be at most 1.5"):
            app.tickets.open(session, title="Hot", priority=2, score=1.75, reporter="a")
        with refused(session, app, "budget", "must be at least 0"):
            app.tickets.open(session, title="Debt", budget=Decimal("-0.01"), reporter="a")
        with refused(session, app, "budget", "must be at most 99.5"):
            app.tickets.open(session, title="Rich", budget=Decimal("99.51"), reporter="a")
        # The bounds themselves are allowed; constraints hold on update too.
        ticket = app.tickets.open(
            session,
            title="x" * 20,
            priority=5,
            score=1.5,
            budget=Decimal("99.50"),
            note="edge",
            reporter="a",
        )
        with refused(session, app, "title", "must be at most 20 characters"):
            app.tickets.edit(session, ticket, title="y" * 21)
        with refused(session, app, "priority", "must be at most 5"):
            app.tickets.edit(session, ticket, priority=9)
        with refused(session, app, "score", "must be at most 1.5"):
            app.tickets.edit(session, ticket, score=2.0)
        app.tickets.edit(session, ticket, priority=1, score=None)
    assert stored(app, ticket) == ("x" * 20, 1, None, "open", "edge", None)


def test_a_missing_required_argument_is_a_validation_error(app: SimpleNamespace) -> None:
    with session_of(app) as session, session.begin():
        with refused(session, app, "reporter", "is required"):
            app.tickets.open(session, title="Anon")
        with refused(session, app, "reporter", "is required"):
            app.tickets.open(session, title="Anon", reporter=None)
        with refused(session, app, "title", "is required"):
            app.tickets.open(session, reporter="a")
    assert app.seen == []  # refused before the hook ran


# --- tenants ----------------------------------------------------------------------------------


def test_update_and_destroy_without_a_tenant_are_refused(features: Engine) -> None:
    workspace = uuid.uuid4()
    with Session(features, expire_on_commit=False) as session, session.begin():
        doc = documents.create(session, title="Roadmap", tenant=workspace)
        for call in (
            lambda: documents.edit(session, doc, title="Hijacked"),
            lambda: documents.destroy(session, doc),
            lambda: documents.edit(session, doc, title="Hijacked", tenant=None),
        ):
            with pytest.raises(FeaturesValidationError) as error:
                call()
            assert (error.value.field, error.value.message) == (
                "workspace_id",
                "a tenant is required",
            )
        documents.edit(session, doc, title="Roadmap 2", tenant=workspace)
    with Session(features) as session:
        assert session.scalars(select(Document.title)).all() == ["Roadmap 2"]
        actions = session.scalars(select(FeaturesEvent.action).order_by(FeaturesEvent.id)).all()
        assert actions == ["create", "edit"]

"""Actors that cannot go missing (issue #16, part 5), on both databases.

A project generated for these tests has three logs: ``Event`` records users and robots and
requires an actor (``require_actor: true``), ``Loose`` records users and requires one on a single
action, ``Audit`` declares no actor types. An actor that its event would not record (an id, a
dict, an object of an undeclared class, any actor at all in ``Audit``), or no actor where one is
required, raises ``ActorError`` before a single statement reaches the database: no SAVEPOINT, no
lock, no record, no event, nothing left in the session. Replay, which applies recorded events,
is exempt.
"""

from __future__ import annotations

import importlib
import textwrap
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests.projects import generated_package

LOGS = """
    kind: event_log
    name: Event
    require_actor: true
    persist_actor_primary_key:
      user_id: {actor: User}
      robot: {actor: PACKAGE.actors:Robot, attribute_type: string, primary_key: name}
    ---
    kind: event_log
    name: Loose
    table: loose_events
    persist_actor_primary_key:
      user_id: {actor: User}
    ---
    kind: event_log
    name: Audit
    table: audit_events
"""

USER = """
    kind: resource
    name: User
    attributes:
      id: {type: uuid, primary_key: true, default: uuid4, writable: false}
      email: {type: string, allow_nil: false}
      name: string
    identities:
      unique_email: [email]
    actions:
      create: {type: create, accept: [email, name], require_actor: false}
      register: {type: create, accept: [email, name], upsert: {identity: unique_email}}
      rename: {type: update, accept: [name]}
      touch: {type: update, accept: [name]}
      destroy: {type: destroy}
    events:
      event_log: Event
      ignore_actions: [touch]
"""

TASK = """
    kind: resource
    name: Task
    attributes:
      id: {type: uuid, primary_key: true, default: uuid4, writable: false}
      title: {type: string, allow_nil: false}
      owner: string
    actions:
      create: {type: create, accept: [title]}
      assign:
        type: update
        accept: [owner]
        require_actor: true
        changes:
          - after_action: PACKAGE.hooks:noted
      destroy: {type: destroy}
    events: {event_log: Loose}
"""

NOTE = """
    kind: resource
    name: Note
    attributes:
      id: {type: uuid, primary_key: true, default: uuid4, writable: false}
      text: string
    actions:
      create: {type: create, accept: [text]}
      edit: {type: update, accept: [text]}
    events: {event_log: Audit}
"""

ACTORS = '''
"""A robot: an actor that is not a resource."""

from dataclasses import dataclass


@dataclass
class Robot:
    name: str
'''

HOOKS = '''
"""An after_action hook: the action then writes through the unit of work, not Core."""

NOTED: list[str] = []


def noted(changeset, record):
    NOTED.append(changeset.action)
'''


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    name = f"actors_{uuid.uuid4().hex[:8]}"
    specs = {
        name_: textwrap.dedent(text).replace("PACKAGE", name)
        for name_, text in (
            ("logs.yaml", LOGS),
            ("user.yaml", USER),
            ("task.yaml", TASK),
            ("note.yaml", NOTE),
        )
    }
    with generated_package(tmp_path_factory.mktemp("actors"), name, specs) as source:
        (source / "actors.py").write_text(ACTORS, encoding="utf-8")
        (source / "hooks.py").write_text(HOOKS, encoding="utf-8")
        yield SimpleNamespace(
            models=importlib.import_module(f"{name}.data.models"),
            users=importlib.import_module(f"{name}.data.actions.user"),
            tasks=importlib.import_module(f"{name}.data.actions.task"),
            notes=importlib.import_module(f"{name}.data.actions.note"),
            errors=importlib.import_module(f"{name}.data.errors"),
            replay=importlib.import_module(f"{name}.data.replay"),
            Robot=importlib.import_module(f"{name}.actors").Robot,
        )


@pytest.fixture
def app(package: SimpleNamespace, engine: Engine) -> SimpleNamespace:
    package.models.Base.metadata.create_all(engine)
    return SimpleNamespace(**vars(package), engine=engine)


def session_of(app: SimpleNamespace) -> Session:
    return Session(app.engine, expire_on_commit=False)


def counts(session: Session, app: SimpleNamespace) -> dict[str, int]:
    m = app.models
    tables = (m.User, m.Task, m.Note, m.Event, m.Loose, m.Audit)
    return {t.__name__: session.scalar(select(func.count()).select_from(t)) or 0 for t in tables}


@contextmanager
def nothing_written(session: Session, app: SimpleNamespace, message: str) -> Iterator[None]:
    """The block raises ActorError matching ``message`` before any statement is sent: no
    SAVEPOINT, lock, record or event; the session holds nothing new and stays usable."""
    before = counts(session, app)
    statements: list[str] = []

    def sent(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(app.engine, "before_cursor_execute", sent)
    try:
        with pytest.raises(app.errors.ActorError, match=message) as error:
            yield
    finally:
        event.remove(app.engine, "before_cursor_execute", sent)
    assert statements == []
    assert isinstance(error.value, app.errors.ValidationError)
    assert error.value.field is None
    assert not session.new and not session.dirty and not session.deleted
    assert counts(session, app) == before


def seeded(app: SimpleNamespace, session: Session) -> SimpleNamespace:
    """A user (created without an actor: the one action that allows it), a task and a note."""
    ann = app.users.create(session, email="ann@example.com", name="Ann")
    task = app.tasks.create(session, title="Ship", actor=ann)
    note = app.notes.create(session, text="hi")
    return SimpleNamespace(ann=ann, task=task, note=note)


# --- an actor of no declared type ---------------------------------------------------------------

WRONG_ACTORS: dict[str, Callable[[SimpleNamespace, Any], Any]] = {
    "uuid id": lambda app, ann: ann.id,
    "str id": lambda app, ann: str(ann.id),
    "int id": lambda app, ann: 42,
    "dict": lambda app, ann: {"id": str(ann.id)},
    "other object": lambda app, ann: object(),
}

PATHS: dict[str, Callable[[SimpleNamespace, Session, SimpleNamespace, Any], Any]] = {
    "create": lambda app, s, x, actor: app.users.create(s, email="b@example.com", actor=actor),
    "create_many": lambda app, s, x, actor: app.users.create_many(
        s, [{"email": "b@example.com"}, {"email": "c@example.com"}], actor=actor
    ),
    "create_many of nothing": lambda app, s, x, actor: app.users.create_many(s, [], actor=actor),
    "upsert": lambda app, s, x, actor: app.users.register(s, email=x.ann.email, actor=actor),
    "upsert_many": lambda app, s, x, actor: app.users.register_many(
        s, [{"email": x.ann.email}], actor=actor
    ),
    "update": lambda app, s, x, actor: app.users.rename(s, x.ann, name="Anne", actor=actor),
    "update_many": lambda app, s, x, actor: app.users.rename_many(
        s, [(x.ann, {"name": "Anne"})], actor=actor
    ),
    "update with a hook": lambda app, s, x, actor: app.tasks.assign(
        s, x.task, owner="bo", actor=actor
    ),
    "destroy": lambda app, s, x, actor: app.users.destroy(s, x.ann, actor=actor),
    "destroy_many": lambda app, s, x, actor: app.users.destroy_many(s, [x.ann], actor=actor),
    "other log": lambda app, s, x, actor: app.tasks.destroy(s, x.task, actor=actor),
}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("wrong", WRONG_ACTORS)
def test_an_actor_of_no_declared_type_writes_nothing(
    app: SimpleNamespace, path: str, wrong: str
) -> None:
    with session_of(app) as session, session.begin():
        x = seeded(app, session)
        session.flush()
        actor = WRONG_ACTORS[wrong](app, x.ann)
        with nothing_written(session, app, "matches no actor type of the"):
            PATHS[path](app, session, x, actor)
        # The transaction goes on: the same call with the object is recorded.
        PATHS[path](app, session, x, x.ann)


def test_the_hint_says_what_to_pass_and_never_the_value(app: SimpleNamespace) -> None:
    secret = "ann.secret@example.com"
    with session_of(app) as session, session.begin():
        x = seeded(app, session)
        hints = {
            secret: "pass the User object, not its id",
            7: "pass the User object, not its id",
            x.ann.id: "pass the User object, not its id",
            "x": "pass the User object, not its id",
            (): "declare its class under persist_actor_primary_key",
        }
        for actor, hint in hints.items():
            with pytest.raises(app.errors.ActorError) as error:
                app.users.rename(session, x.ann, name="A", actor=actor)
            text = str(error.value)
            assert text.endswith(hint), text
            assert text.startswith("User.rename: an actor of type ")
            assert "(user_id: User, robot: " in text and ".actors.Robot)" in text
        with pytest.raises(app.errors.ActorError) as error:
            app.users.rename(session, x.ann, name="A", actor={"email": secret})
        assert str(error.value) == (
            "User.rename: an actor of type dict matches no actor type of the Event log "
            f"(user_id: User, robot: {type_name(app.Robot)}); pass the object, not a dict"
        )
        with pytest.raises(app.errors.ActorError) as error:
            app.users.rename(session, x.ann, name="A", actor=secret)
        assert "of type str" in str(error.value)
        assert secret not in str(error.value)
        with pytest.raises(app.errors.ActorError) as error:
            app.users.rename(session, x.ann, name="A", actor=x.ann.id)
        assert "of type uuid.UUID" in str(error.value)
        assert str(x.ann.id) not in str(error.value)


def type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def test_declared_actors_are_recorded(app: SimpleNamespace) -> None:
    with session_of(app) as session, session.begin():
        x = seeded(app, session)
        app.users.rename(session, x.ann, name="Anne", actor=app.Robot("importer"))
        app.users.rename(session, x.ann, name="Ann", actor=x.ann)
        app.tasks.assign(session, x.task, owner="ann", actor=x.ann)
        Event, Loose = app.models.Event, app.models.Loose
        recorded = session.execute(
            select(Event.action, Event.user_id, Event.robot).order_by(Event.id)
        )
        assert [tuple(row) for row in recorded] == [
            ("create", None, None),
            ("rename", None, "importer"),
            ("rename", x.ann.id, None),
        ]
        loose = session.scalars(select(Loose.user_id).order_by(Loose.id)).all()
        assert loose == [x.ann.id, x.ann.id]


def test_an_actor_without_its_key_yet_writes_nothing(app: SimpleNamespace) -> None:
    """A User built by hand and not flushed has no id: its event would record no actor."""
    with session_of(app) as session, session.begin():
        x = seeded(app, session)
        session.flush()
        unsaved = app.models.User(email="new@example.com")
        with nothing_written(
            session, app, r"^User\.rename: the actor, of type User, has no key yet"
        ):
            app.users.rename(session, x.ann, name="Anne", actor=unsaved)
        with nothing_written(session, app, "flush it first"):
            app.users.create_many(session, [], actor=app.Robot(None))
        unsaved.id = uuid.uuid4()
        app.users.rename(session, x.ann, name="Anne", actor=unsaved)
        Event = app.models.Event
        assert (
            session.scalars(select(Event.user_id).order_by(Event.id.desc())).first() == unsaved.id
        )


def test_a_log_without_actor_types_takes_no_actor(app: SimpleNamespace) -> None:
    with session_of(app) as session, session.begin():
        x = seeded(app, session)
        with nothing_written(session, app, "the Audit log declares no actor types"):
            app.notes.create(session, text="by ann", actor=x.ann)
        with nothing_written(session, app, "an actor of type int cannot be recorded"):
            app.notes.edit_many(session, [(x.note, {"text": "b"})], actor=5)
        app.notes.edit(session, x.note, text="no actor")
        assert counts(session, app)["Audit"] == 2


def test_an_action_that_writes_no_event_takes_any_actor(app: SimpleNamespace) -> None:
    """An ignored action records no actor, so none can go missing."""
    with session_of(app) as session, session.begin():
        x = seeded(app, session)
        app.users.touch(session, x.ann, name="Touched", actor=42)
        app.users.touch_many(session, [(x.ann, {"name": "T"})], actor={"who": "cron"})
        assert x.ann.name == "T"


# --- required actors ----------------------------------------------------------------------------


def test_a_log_that_requires_an_actor_refuses_none(app: SimpleNamespace) -> None:
    with session_of(app) as session, session.begin():
        x = seeded(app, session)
        session.flush()
        required = "User.rename requires an actor \\(User or .*Robot\\)"
        with nothing_written(session, app, required):
            app.users.rename(session, x.ann, name="Anne")
        with nothing_written(session, app, required):
            app.users.rename_many(session, [(x.ann, {"name": "Anne"})])
        with nothing_written(session, app, "User.register requires an actor"):
            app.users.register(session, email="new@example.com")
        with nothing_written(session, app, "User.register requires an actor"):
            app.users.register_many(session, [])
        with nothing_written(session, app, "User.destroy requires an actor"):
            app.users.destroy_many(session, [x.ann])
        # require_actor: false on the action overrides the log's: the first user has no actor.
        app.users.create(session, email="bo@example.com")
        app.users.create_many(session, [{"email": "cy@example.com"}])
        app.users.rename(session, x.ann, name="Anne", actor=app.Robot("cron"))


def test_an_action_can_require_an_actor_in_a_log_that_does_not(app: SimpleNamespace) -> None:
    with session_of(app) as session, session.begin():
        x = seeded(app, session)
        with nothing_written(session, app, "Task.assign requires an actor \\(User\\)$"):
            app.tasks.assign(session, x.task, owner="bo")
        app.tasks.create(session, title="No actor needed")
        app.tasks.assign(session, x.task, owner="bo", actor=x.ann)
        app.tasks.destroy(session, x.task)


def test_replay_applies_events_without_actor_under_require_actor(app: SimpleNamespace) -> None:
    """Replay is exempt: events recorded before an actor was required replay as they are."""
    Event, User = app.models.Event, app.models.User
    with session_of(app) as session, session.begin():
        ann = app.users.create(session, email="ann@example.com")
        bo = app.users.create(session, email="bo@example.com", actor=ann)
        app.users.rename(session, ann, name="Ann", actor=ann)
        app.users.rename(session, bo, name="Bo", actor=app.Robot("import"))
        app.users.destroy(session, bo, actor=ann)
    with session_of(app) as session, session.begin():
        # As if recorded before require_actor: true was added to the log.
        session.execute(update(Event).values(user_id=None, robot=None))
    with session_of(app) as session, session.begin():
        app.replay.replay_event(session)
    with session_of(app) as session:
        users = session.execute(select(User.email, User.name)).all()
        assert [tuple(u) for u in users] == [("ann@example.com", "Ann")]
        assert session.scalar(select(func.count()).select_from(Event)) == 5


def test_the_features_golden_requires_an_actor_to_import_an_article(features: Engine) -> None:
    """``require_actor: true`` on one action of a log that does not require actors; the replay
    of its events without an actor is in test_replay_features.py (as_arguments)."""
    from features.actors import Service
    from features.data.actions import article as articles
    from features.data.errors import ActorError
    from features.data.models import Event

    with Session(features, expire_on_commit=False) as session, session.begin():
        with pytest.raises(ActorError, match=r"^Article\.import_article requires an actor"):
            articles.import_article(session, title="Imported", slug="imported")
        articles.import_article(session, title="Imported", slug="imported", actor=Service("feed"))
        articles.create(session, title="Own", slug="own")  # the log itself requires none
        recorded = session.execute(select(Event.action, Event.service).order_by(Event.id))
        assert [tuple(row) for row in recorded] == [("import_article", "feed"), ("create", None)]


STRICT = """
    kind: event_log
    name: Event
    persist_actor_primary_key:
      user_id: {actor: User, allow_nil: false}
    ---
    kind: resource
    name: User
    attributes:
      id: {type: uuid, primary_key: true, default: uuid4, writable: false}
      email: string
    actions:
      create: {type: create, accept: [email]}
      first: {type: create, accept: [email], require_actor: false}
    events: {event_log: Event}
"""


def test_an_actor_column_that_cannot_be_null_requires_an_actor(
    tmp_path: Path, engine: Engine
) -> None:
    """``allow_nil: false`` on the log's one actor column: the database would refuse the event
    (after the record was written and rolled back); the action refuses the call first instead.
    ``require_actor: false`` overrides it, and the database has the last word."""
    name = f"strict_{uuid.uuid4().hex[:8]}"
    specs = {"specs.yaml": textwrap.dedent(STRICT)}
    with generated_package(tmp_path, name, specs):
        models = importlib.import_module(f"{name}.data.models")
        users = importlib.import_module(f"{name}.data.actions.user")
        errors = importlib.import_module(f"{name}.data.errors")
        models.Base.metadata.create_all(engine)
        with Session(engine, expire_on_commit=False) as session, session.begin():
            with pytest.raises(errors.ActorError, match=r"^User\.create requires an actor"):
                users.create(session, email="a@example.com")
            with pytest.raises(IntegrityError):
                users.first(session, email="a@example.com")  # the database refuses it
            ann = models.User(id=uuid.uuid4(), email="ann@example.com")
            users.create(session, email="b@example.com", actor=ann)
            counted = (
                session.scalar(select(func.count()).select_from(models.User)),
                session.scalar(select(func.count()).select_from(models.Event)),
            )
            assert counted == (1, 1)

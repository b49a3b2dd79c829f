"""Crypto-shredding (docs/privacy.md): personal values sealed with a key per data subject, erased
for good by destroying the key; replay, readers and key rotation carry on."""

from __future__ import annotations

import base64
import importlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner
from eventspec.cli import main
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.orm import Session

from tests.engines import create_engine
from tests.projects import generated_package

KEY_ENV = "SHRED_EVENT_KEYS"
KEY = base64.urlsafe_b64encode(b"k" * 32).decode()
KEY_2 = base64.urlsafe_b64encode(b"n" * 32).decode()

LOG = f"""\
kind: event_log
name: Event
encryption: {{key_env: {KEY_ENV}}}
persist_actor_primary_key:
  operator: {{actor: "shredapp.actors:Operator", attribute_type: string, primary_key: name}}
"""
PERSON = """\
kind: resource
name: Person
attributes:
  id: {type: uuid, primary_key: true, default: uuid4, writable: false}
  email: {type: string, personal: true}
  given_name: {type: string, personal: true}
  phone_hash: {type: string, personal: true}
  city: string
  created_at: {type: utc_datetime_usec, default: now, writable: false}
relationships:
  notes: {type: has_many, destination: Note, destination_attribute: person_id}
data_subject: record
actions:
  create:
    type: create
    accept: [email, given_name, city]
    arguments:
      phone: {type: string, personal: true, allow_nil: false}
    changes:
      - set_attribute: {attribute: phone_hash, from_argument: phone}
    validations:
      - present: [email]
  update: {type: update, accept: [given_name, city]}
  failing:
    type: update
    accept: [given_name]
    changes:
      - after_action: shredapp.hooks:fail
events:
  event_log: Event
"""
NOTE = """\
kind: resource
name: Note
attributes:
  id: {type: uuid, primary_key: true, default: uuid4, writable: false}
  title: string
  body: {type: text, personal: true}
relationships:
  person: {type: belongs_to, destination: Person, allow_nil: true}
data_subject: {attribute: person_id}
actions:
  create: {type: create, accept: [person_id, title, body]}
events:
  event_log: Event
"""
ANN = {"email": "ann.q.zyx@example.org", "given_name": "Annabelqz", "phone": "+31699912345"}
ANN_NOTE = "Ann's diary entry qwzx"
BOB = {"email": "bob.k.vw@example.org", "given_name": "Bobbykv", "phone": "+31688854321"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, Path]]:
    root = tmp_path_factory.mktemp("shred")
    specs = {"log.yaml": LOG, "person.yaml": PERSON, "note.yaml": NOTE}
    with generated_package(root, "shredapp", specs) as source:
        (source / "actors.py").write_text(
            "from dataclasses import dataclass\n\n\n@dataclass\nclass Operator:\n    name: str\n"
        )
        (source / "hooks.py").write_text("def fail(cs, record):\n    raise RuntimeError('no')\n")
        yield importlib.import_module("shredapp.data"), root


@pytest.fixture
def db(app: tuple[ModuleType, Path], database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(KEY_ENV, KEY)
    models = importlib.import_module("shredapp.data.models")
    engine = create_engine(database_url)
    models.Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def mod(name: str) -> Any:
    return importlib.import_module(f"shredapp.data.{name}")


def operator() -> Any:
    return importlib.import_module("shredapp.actors").Operator("ops")


def write(engine: Engine) -> tuple[uuid.UUID, uuid.UUID]:
    person, note = mod("actions.person"), mod("actions.note")
    with Session(engine) as session, session.begin():
        ann = person.create(session, **ANN, city="Utrecht", actor=operator())
        bob = person.create(session, **BOB, city="Delft", actor=operator())
        note.create(session, person_id=ann.id, title="t1", body=ANN_NOTE, actor=operator())
        note.create(session, person_id=bob.id, title="t2", body="Bob's note", actor=operator())
        person.update(session, ann, given_name="Annieqz", actor=operator())
        note.create(session, title="orphan", body=None, actor=operator())
        return ann.id, bob.id


def state(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    models = mod("models")
    out = {}
    with Session(engine) as session:
        for model in (models.Person, models.Note):
            columns = [c.key for c in inspect(model).columns]
            rows = session.execute(select(*(getattr(model, c) for c in columns)))
            out[model.__name__] = sorted((tuple(r) for r in rows), key=repr)
    return out


def erase(engine: Engine, subject: Any, reason: str = "GDPR request 7") -> Any:
    privacy = mod("privacy")
    with Session(engine) as session, session.begin():
        done = privacy.erase_subject(session, subject, actor=operator(), reason=reason)
    with engine.connect() as connection:
        privacy.purge(connection)
    return done


def secrets_of_ann() -> list[str]:
    return [*ANN.values(), "Annieqz", ANN_NOTE]


def scan(engine: Engine, database_url: str, values: list[str]) -> list[str]:
    """The values found anywhere in the database: the raw SQLite files, or every PostgreSQL
    table's rows as text."""
    found = []
    if engine.dialect.name == "sqlite":
        path = Path(database_url.removeprefix("sqlite:///"))
        blobs = [p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists()]
        for value in values:
            if any(value.encode() in blob for blob in blobs):
                found.append(value)
        return found
    with engine.connect() as connection:
        tables = inspect(connection).get_table_names()
        texts = [
            str(row[0])
            for table in tables
            for row in connection.execute(text(f'SELECT t::text FROM "{table}" t'))
        ]
    return [value for value in values if any(value in t for t in texts)]


def test_personal_values_are_sealed_and_round_trip(db: Engine) -> None:
    ann_id, _ = write(db)
    models = mod("models")
    with Session(db) as session:
        events = session.scalars(select(models.Event).order_by(models.Event.id)).all()
        first = events[0]
        assert first.subject == str(ann_id)
        assert set(first.data["email"]) == {"$erasable"}  # sealed inside the encrypted map
        assert first.data["city"] == "Utrecht"
        revealed = mod("privacy").reveal(session, events)
    assert revealed[0]["data"] == {**ANN, "city": "Utrecht"}
    assert revealed[0]["changed_attributes"]["phone_hash"] == ANN["phone"]
    assert revealed[2]["data"]["body"] == ANN_NOTE
    assert events[5].subject is None  # no personal value, no subject
    before = state(db)
    with Session(db) as session, session.begin():
        mod("replay").replay(session)
    assert state(db) == before  # written == recorded == replayed


def test_erase_leaves_no_byte_and_replay_rebuilds_the_rest(db: Engine, database_url: str) -> None:
    ann_id, bob_id = write(db)
    assert scan(db, database_url, secrets_of_ann()) != []  # the scan can find them
    before = state(db)
    done = erase(db, ann_id)
    assert done.records == {"Note": 1, "Person": 1}
    assert scan(db, database_url, secrets_of_ann()) == []
    after = state(db)
    ann_row = next(r for r in after["Person"] if r[0] == ann_id)
    assert ann_row[1:4] == (None, None, None) and ann_row[4] == "Utrecht"
    others = {k: [r for r in v if ann_id not in r] for k, v in before.items()}
    assert {k: [r for r in v if ann_id not in r] for k, v in after.items()} == others
    with Session(db) as session, session.begin():
        mod("replay").replay(session)
    assert state(db) == after
    assert any(r[0] == bob_id and r[1] == BOB["email"] for r in after["Person"])
    models, privacy = mod("models"), mod("privacy")
    with Session(db) as session:
        events = session.scalars(select(models.Event).order_by(models.Event.id)).all()
        revealed = privacy.reveal(session, events)
        key_row = session.get(models.EventSubjectKey, str(ann_id))
        assert key_row.wrapped_key is None and key_row.reason == "GDPR request 7"
        assert key_row.erased_by == "ops"
    assert revealed[0]["data"]["email"] is privacy.ERASED
    assert revealed[0]["data"]["city"] == "Utrecht"
    assert revealed[1]["data"]["email"] == BOB["email"]
    last = events[-1]
    assert (last.resource, last.action, last.subject) == ("DataSubject", "erase", str(ann_id))
    assert last.metadata_ == {"reason": "GDPR request 7"} and last.operator == "ops"


def test_erased_subject_refuses_new_personal_values_and_second_erase(db: Engine) -> None:
    ann_id, _ = write(db)
    erase(db, ann_id)
    person, privacy, models = mod("actions.person"), mod("privacy"), mod("models")
    with Session(db) as session, session.begin():
        ann = session.get(models.Person, ann_id)
        with pytest.raises(privacy.SubjectErased, match="was erased"):
            person.update(session, ann, given_name="Back", actor=operator())
        person.update(session, ann, city="Leiden", actor=operator())  # not personal: fine
    with Session(db) as session, session.begin(), pytest.raises(privacy.SubjectErased):
        privacy.erase_subject(session, ann_id, reason="again")


def test_unknown_subject_is_a_clear_error_and_changes_nothing(db: Engine) -> None:
    write(db)
    before = state(db)
    privacy, models = mod("privacy"), mod("models")
    with Session(db) as session, session.begin():
        count = session.scalar(select(func.count()).select_from(models.Event))
        with pytest.raises(privacy.UnknownSubject, match="is not a data subject of Event"):
            privacy.erase_subject(session, uuid.uuid4(), reason="typo")
        assert session.scalar(select(func.count()).select_from(models.Event)) == count
    assert state(db) == before


def test_a_failed_action_leaves_no_subject_key(db: Engine) -> None:
    person, models = mod("actions.person"), mod("models")
    with Session(db) as session, session.begin():
        with pytest.raises(RuntimeError):  # the hook runs after the event
            p = person.create(session, **ANN, actor=operator())
            person.failing(session, p, given_name="x", actor=operator())
        keys = session.scalars(select(models.EventSubjectKey.subject)).all()
        assert keys == [str(p.id)]  # the create's key, kept; the failed update added nothing
    with Session(db) as session, session.begin():
        savepoint = session.begin_nested()
        person.create(session, **BOB, actor=operator())
        savepoint.rollback()
        assert len(session.scalars(select(models.EventSubjectKey)).all()) == 1


def test_personal_value_without_subject_is_refused(db: Engine) -> None:
    note, models = mod("actions.note"), mod("models")
    errors = mod("errors")
    with Session(db) as session, session.begin():
        with pytest.raises(errors.ValidationError, match="person_id: is required"):
            note.create(session, title="t", body="whose?", actor=operator())
        assert session.scalars(select(models.Note)).all() == []


def test_rotate_keys_after_erase_rewraps_subject_keys(
    db: Engine, database_url: str, app: tuple[ModuleType, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ann_id, _ = write(db)
    erase(db, ann_id)
    monkeypatch.setenv(KEY_ENV, f"{KEY_2},{KEY}")
    config = str(app[1] / "eventspec.yaml")
    result = CliRunner().invoke(
        main, ["rotate-keys", "--config", config, "--database-url", database_url, "--yes"]
    )
    assert result.exit_code == 0, result.output
    assert "rewrapped 1 data subject key(s)" in result.stdout
    monkeypatch.setenv(KEY_ENV, KEY_2)  # the old key gone: everything still reads
    models, privacy = mod("models"), mod("privacy")
    with Session(db) as session:
        events = session.scalars(select(models.Event).order_by(models.Event.id)).all()
        revealed = privacy.reveal(session, events)
    assert revealed[1]["data"]["email"] == BOB["email"]
    assert revealed[0]["data"]["email"] is privacy.ERASED
    with Session(db) as session, session.begin():
        mod("replay").replay(session)


def test_erase_and_events_commands(
    db: Engine, database_url: str, app: tuple[ModuleType, Path]
) -> None:
    ann_id, _ = write(db)
    config = str(app[1] / "eventspec.yaml")
    base = ["--config", config, "--database-url", database_url]
    runner = CliRunner()
    result = runner.invoke(main, ["erase", *base, "--subject", "nobody", "--reason", "r"])
    assert result.exit_code == 1
    assert "'nobody' is not a data subject of Event" in result.output
    result = runner.invoke(
        main, ["erase", *base, "--subject", str(ann_id), "--reason", "asked", "--by", "dpo"]
    )
    assert result.exit_code == 0, result.output
    assert f"erased subject {ann_id} (1 Note, 1 Person cleared)" in result.stdout
    result = runner.invoke(main, ["events", *base, "--all", "--json"])
    assert result.exit_code == 0, result.output
    assert '"email": "<erased>"' in result.stdout
    assert BOB["email"] in result.stdout
    assert ANN["email"] not in result.stdout


def test_specs_with_personal_fields_in_plain_logs_are_refused(tmp_path: Path) -> None:
    specs = {"log.yaml": "kind: event_log\nname: Event\n", "person.yaml": PERSON, "note.yaml": NOTE}
    (tmp_path / "specs").mkdir()
    for name, body in specs.items():
        (tmp_path / "specs" / name).write_text(body)
    (tmp_path / "eventspec.yaml").write_text("package: x.data\noutput: src/x/data\n")
    result = CliRunner().invoke(main, ["validate", "--config", str(tmp_path / "eventspec.yaml")])
    assert result.exit_code == 2
    assert result.output.count("ES320") == 5


def test_erase_rewrites_no_event(db: Engine) -> None:
    """Many events of one subject: erase changes the key row and the records, adds one event,
    and leaves every stored event as it was."""
    person, models = mod("actions.person"), mod("models")
    with Session(db) as session, session.begin():
        ann = person.create(session, **ANN, actor=operator())
        for number in range(50):
            person.update(session, ann, given_name=f"n{number}", actor=operator())
        ann_id = ann.id
    stored = select(models.Event.id, models.Event.data).order_by(models.Event.id)
    with Session(db) as session:
        before = session.execute(stored).all()
    done = erase(db, ann_id)
    assert done.records == {"Note": 0, "Person": 1}
    with Session(db) as session:
        assert session.execute(stored).all()[:-1] == before
    assert os.environ[KEY_ENV] == KEY

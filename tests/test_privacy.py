"""Crypto-shredding (docs/privacy.md): personal values sealed with a key per data subject, erased
for good by destroying the key; replay, readers and key rotation carry on."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import importlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from eventspec.cli import main
from privacyapp.actors import Operator
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.conftest import PRIVACY
from tests.engines import create_engine

KEY_ENV = "PRIVACY_EVENT_KEYS"
KEY = base64.urlsafe_b64encode(b"k" * 32).decode()
KEY_2 = base64.urlsafe_b64encode(b"n" * 32).decode()
CONFIG = str(PRIVACY / "eventspec.yaml")
ANN = {"email": "ann.q.zyx@example.org", "given_name": "Annabelqz", "phone": "+31699912345"}
ANN_NOTE = "Ann's diary entry qwzx"
BOB = {"email": "bob.k.vw@example.org", "given_name": "Bobbykv", "phone": "+31688854321"}


@pytest.fixture
def db(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv(KEY_ENV, KEY)
    mod("models").Base.metadata.create_all(engine)
    return engine


def mod(name: str) -> Any:
    return importlib.import_module(f"privacyapp.data.{name}")


def operator(name: str = "ops") -> Operator:
    return Operator(name)


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
    db: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann_id, _ = write(db)
    erase(db, ann_id)
    monkeypatch.setenv(KEY_ENV, f"{KEY_2},{KEY}")
    result = CliRunner().invoke(
        main, ["rotate-keys", "--config", CONFIG, "--database-url", database_url, "--yes"]
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


def test_erase_and_events_commands(db: Engine, database_url: str) -> None:
    ann_id, _ = write(db)
    base = ["--config", CONFIG, "--database-url", database_url]
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
    shutil.copytree(PRIVACY / "specs", tmp_path / "specs")
    (tmp_path / "specs" / "log.yaml").write_text("kind: event_log\nname: Event\n")
    (tmp_path / "eventspec.yaml").write_text("package: x.data\noutput: src/x/data\n")
    result = CliRunner().invoke(main, ["validate", "--config", str(tmp_path / "eventspec.yaml")])
    assert result.exit_code == 2
    assert result.output.count("ES320") == 23  # every personal field, each at its place
    assert "ES324" in result.output  # and the actor subject of a log without actors


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
    assert done.records == {"Person": 1}
    with Session(db) as session:
        assert session.execute(stored).all()[:-1] == before
    assert os.environ[KEY_ENV] == KEY


PROFILE = {
    "nickname": "Zed-qq",
    "bio": "likes\nnewlines and ünïcode",
    "age": 41,
    "savings": 2**40 + 3,
    "height": 1.8125,
    "balance": decimal.Decimal("1234.5600"),
    "verified": True,
    "passport": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "born_on": dt.date(1985, 2, 28),
    "wakes_at": dt.time(6, 45, 30, 120),
    "seen_at": dt.datetime(2024, 5, 1, 12, 0, 1, tzinfo=dt.UTC),
    "seen_at_usec": dt.datetime(2024, 5, 1, 12, 0, 1, 999999, tzinfo=dt.UTC),
    "local_time": dt.datetime(2024, 5, 1, 14, 0, 1, 5),
    "extra": {"nested": [1, "two", None]},
    "photo": bytes(range(256)),
    "mood": "busy",
    "tags": ["a", "b"],
}


def test_every_type_round_trips_sealed_and_erases_with_the_actor(db: Engine) -> None:
    profile, models = mod("actions.profile"), mod("models")
    with Session(db) as session, session.begin():
        mine = profile.create_many(session, [{**PROFILE, "plan": "gold"}], actor=operator("zed"))
        profile.create(session, nickname="other", plan="free", actor=operator("amy"))
        profile.update(session, mine[0], nickname="Zed-2", actor=operator("zed"))
        zed_id = mine[0].id
    with Session(db) as session:
        zed = session.get(models.Profile, zed_id)
        assert {name: getattr(zed, name) for name in PROFILE} == {**PROFILE, "nickname": "Zed-2"}
        subjects = session.scalars(select(models.Event.subject).order_by(models.Event.id)).all()
    assert subjects == ["zed", "amy", "zed"]
    before = state_of(db, models.Profile)
    with Session(db) as session, session.begin():
        mod("replay").replay(session)
    assert state_of(db, models.Profile) == before  # every type: written == replayed
    done = erase(db, "zed")
    assert done.records == {"Profile": 1}
    after = state_of(db, models.Profile)
    with Session(db) as session, session.begin():
        mod("replay").replay(session)
    assert state_of(db, models.Profile) == after
    with Session(db) as session:
        zed = session.get(models.Profile, zed_id)
        assert [getattr(zed, name) for name in PROFILE] == [None] * len(PROFILE)
        assert zed.plan == "gold"
        assert session.scalars(select(models.Profile.nickname)).all().count("other") == 1


def test_actor_subject_needs_an_actor(db: Engine) -> None:
    profile = mod("actions.profile")
    errors = mod("errors")
    with Session(db) as session, session.begin():
        with pytest.raises(errors.ConfigurationError, match="no actor with a key was given"):
            profile.create(session, nickname="anon")
        profile.create(session, plan="free")  # nothing personal: no subject needed


def state_of(engine: Engine, model: Any) -> list[tuple[Any, ...]]:
    columns = [getattr(model, c.key) for c in inspect(model).columns]
    with Session(engine) as session:
        return sorted((tuple(r) for r in session.execute(select(*columns))), key=repr)


def test_log_readers_open_personal_values_and_show_erased(db: Engine) -> None:
    ann_id, _ = write(db)
    erase(db, ann_id)
    log, privacy = mod("log"), mod("privacy")
    with Session(db) as session:
        rows = log.read_rows_after(session, None)
        handled: list[Any] = []
        assert log.consume(session, "outbox", lambda _s, batch: handled.extend(batch)) == 7
    assert rows[0].data["email"] is privacy.ERASED and rows[0].data["city"] == "Utrecht"
    assert rows[1].data["email"] == BOB["email"]
    assert handled == rows
    assert json.loads(json.dumps(rows[0].data))["email"] == "<erased>"  # still JSON


def test_verify_after_erase_finds_the_replay_identical(db: Engine) -> None:
    """`replay --verify`: the scratch replay reads the subject keys from the live database."""
    ann_id, _ = write(db)
    erase(db, ann_id)
    result = mod("replay").verify(db)
    assert result.identical, str(result)


def test_erase_waits_for_a_transaction_writing_the_subject(db: Engine, database_url: str) -> None:
    """A transaction that wrote a personal value holds the subject's key (PostgreSQL: FOR KEY
    SHARE; SQLite: the write lock) until it ends: an erase meanwhile cannot proceed."""
    person, privacy, models = mod("actions.person"), mod("privacy"), mod("models")
    ann_id, _ = write(db)
    sqlite = db.dialect.name == "sqlite"
    other = create_engine(database_url, connect_args={"timeout": 0.2} if sqlite else {})
    try:
        with Session(db) as writer, writer.begin():
            ann = writer.get(models.Person, ann_id)
            person.update(writer, ann, given_name="Annie-again", actor=operator())
            with Session(other) as eraser, pytest.raises(OperationalError), eraser.begin():
                if not sqlite:
                    eraser.execute(text("SET LOCAL lock_timeout = '200ms'"))
                privacy.erase_subject(eraser, ann_id, reason="too early")
        erase(db, ann_id)  # once the writer committed
    finally:
        other.dispose()
    with Session(db) as session:
        assert session.get(models.Person, ann_id).given_name is None


def test_assert_event_compares_opened_personal_values(db: Engine) -> None:
    testing, person = mod("testing"), mod("actions.person")
    with Session(db) as session, session.begin():
        with testing.capture_events(session) as events:
            ann = person.create(session, **ANN, city="Utrecht", actor=operator())
        testing.assert_event(events, action="create", data={"email": ANN["email"]})
        ann_id = ann.id
    erase(db, ann_id)
    models, privacy = mod("models"), mod("privacy")
    with Session(db) as session:
        stored = session.scalars(select(models.Event).where(models.Event.action == "create"))
        testing.assert_event(stored, data={"email": privacy.ERASED, "city": "Utrecht"})

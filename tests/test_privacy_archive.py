"""Personal data and archiving together, and ``on_erase: drop`` (docs/privacy.md): snapshot rows
keep personal values sealed with the subject's key, an erase reaches records whose events were
archived, and the archive file holds nothing an erase leaves readable."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from eventspec.cli import main
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.test_privacy import ANN, ANN_NOTE, BOB, CONFIG, db, erase, mod, operator, scan, state

__all__ = ["db"]  # the fixture, shared with test_privacy

ANN_STREET = "Annastraatqz 12"
BOB_LATE = "Bobbylatekv"
OLGA_NICK = "Olgasnickxq"
DAVE = {"email": "dave.w.qq@example.org", "given_name": "Davewqq", "phone": "+31677700011"}
CARL = {"email": "carl.p.jj@example.org", "given_name": "Carlpjj", "phone": "+31666600022"}


def full_state(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every tracked table's rows (``state`` reads Person and Note; this adds the others)."""
    models = mod("models")
    out = state(engine)
    with Session(engine) as session:
        for model in (models.Address, models.Delivery, models.Profile):
            rows = session.execute(select(*model.__table__.columns))
            out[model.__name__] = sorted((tuple(r) for r in rows), key=repr)
    return out


def replayed(engine: Engine, **kw: Any) -> dict[str, list[tuple[Any, ...]]]:
    """The tracked tables after an in-place replay, which is then rolled back."""
    with Session(engine) as session:
        session.begin()
        mod("replay").replay(session, **kw)
        session.flush()
        models = mod("models")
        out = {}
        for model in (models.Person, models.Note, models.Address, models.Delivery, models.Profile):
            rows = session.execute(select(*model.__table__.columns))
            out[model.__name__] = sorted((tuple(r) for r in rows), key=repr)
        session.rollback()
    return out


def last_event_id(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.max(mod("models").Event.id))) or 0


def without(rows: dict[str, list[tuple[Any, ...]]], *ids: Any) -> dict[str, list[Any]]:
    """The rows that hold none of ``ids`` (the records of other subjects)."""
    return {k: [r for r in v if not any(i in r for i in ids)] for k, v in rows.items()}


def test_archive_then_erase_reaches_snapshot_rows_and_files(
    db: Engine, database_url: str, tmp_path: Path
) -> None:
    person, note, address = mod("actions.person"), mod("actions.note"), mod("actions.address")
    profile = mod("actions.profile")
    with Session(db, expire_on_commit=False) as session, session.begin():
        ann = person.create(session, **ANN, city="Utrecht", actor=operator())
        note.create(session, person_id=ann.id, title="t1", body=ANN_NOTE, actor=operator())
        home = address.create(session, person_id=ann.id, street=ANN_STREET, country="NL")
        bob = person.create(session, **BOB, city="Delft", actor=operator())
        profile.create(session, nickname=OLGA_NICK, plan="basic", actor=operator("olga"))
        dave = person.create(session, **DAVE, city="Breda", actor=operator())
        carl = person.create(session, **CARL, city="Ede", actor=operator())
    erase(db, dave.id)  # before the archive: its erase event goes into the file
    cut = last_event_id(db) + 1
    with Session(db, expire_on_commit=False) as session, session.begin():
        record = session.get(mod("models").Person, bob.id)
        person.update(session, record, given_name=BOB_LATE, actor=operator())  # straddles
        note.create(session, person_id=carl.id, title="t3", body="Carl's note", actor=operator())
    archive_file = tmp_path / "events.jsonl.gz"
    mod("replay").archive(db, before=cut, to=archive_file)

    models = mod("models")
    with Session(db) as session:
        rows = session.execute(select(models.EventSnapshotRow)).scalars().all()
        by_subject = {row.subject: row for row in rows if row.table_name == "people"}
        assert set(by_subject[str(ann.id)].row["email"]) == {"$erasable"}  # sealed
        assert by_subject[str(ann.id)].row["city"] == "Utrecht"  # not personal: as is
        assert by_subject[str(dave.id)].row["email"] is None  # erased before: null
        profiles = [row for row in rows if row.table_name == "profiles"]
        assert [row.subject for row in profiles] == ["olga"]  # the actor of its latest event
    before = full_state(db)
    assert replayed(db) == before  # snapshot rows open with their keys

    done = {subject: erase(db, subject) for subject in (ann.id, bob.id, "olga")}
    # Ann's events were all archived: her records are found through the snapshot rows.
    assert done[ann.id].records == {"Note": 1, "Person": 1}
    assert done[ann.id].dropped == {"Address": (home.id,)}
    assert done[bob.id].records == {"Person": 1}
    assert done["olga"].records == {"Profile": 1}

    secrets = [*ANN.values(), ANN_NOTE, ANN_STREET, *BOB.values(), BOB_LATE, OLGA_NICK]
    assert scan(db, database_url, secrets) == []
    unpacked = gzip.decompress(archive_file.read_bytes()).decode()
    assert [value for value in secrets + list(DAVE.values()) if value in unpacked] == []

    snapshots, stored = mod("replay").EVENT_SNAPSHOTS, mod("_snapshots")
    with db.connect() as connection:
        boundary = stored.boundary(connection, snapshots)
    stored.check(db, snapshots, boundary)  # the sealed bytes did not change: the sum holds
    after = full_state(db)
    assert after["Address"] == []
    ann_row = next(r for r in after["Person"] if r[0] == ann.id)
    assert ann_row[1:4] == (None, None, None) and ann_row[4] == "Utrecht"
    bob_row = next(r for r in after["Person"] if r[0] == bob.id)
    assert bob_row[1:4] == (None, None, None) and bob_row[4] == "Delft"
    assert after["Profile"][0][1] is None  # nickname
    others = (ann.id, bob.id, home.id, after["Profile"][0][0])  # olga's profile too
    assert without(after, *others) == without(before, *others)
    assert any(carl.id in row for row in after["Person"])
    # Replay from the snapshot, and from the archive file, rebuild exactly the erased state.
    assert replayed(db) == after
    assert replayed(db, archives=[archive_file]) == after

    # A second archive starts from the first snapshot: the erase events after it drop and clear
    # again, and a row whose events are all in the first file keeps its subject.
    with Session(db) as session, session.begin():
        person.update(session, session.get(models.Person, carl.id), city="Epe", actor=operator())
    second = tmp_path / "events-2.jsonl.gz"
    mod("replay").archive(db, before=last_event_id(db) + 1, to=second)
    with Session(db) as session:
        latest = session.scalar(select(func.max(models.EventSnapshot.id)))
        rows = session.scalars(
            select(models.EventSnapshotRow).where(models.EventSnapshotRow.snapshot_id == latest)
        ).all()
        assert [row.subject for row in rows if row.table_name == "profiles"] == ["olga"]
        assert not [row for row in rows if row.table_name == "addresses"]
    final = full_state(db)
    assert replayed(db) == final
    assert replayed(db, archives=[archive_file, second]) == final


def write_addresses(engine: Engine) -> tuple[Any, Any, Any]:
    person, address, delivery = (
        mod("actions.person"),
        mod("actions.address"),
        mod("actions.delivery"),
    )
    with Session(engine, expire_on_commit=False) as session, session.begin():
        ann = person.create(session, **ANN, city="Utrecht", actor=operator())
        bob = person.create(session, **BOB, city="Delft", actor=operator())
        home = address.create(session, person_id=ann.id, street=ANN_STREET, country="NL")
        work = address.create(session, person_id=ann.id, street="Werkweg 1", country="NL")
        address.update(session, work, street="Werkweg 2")  # in the session that made it
        bobs = address.create(session, person_id=bob.id, street="Bobweg 9", country="BE")
        delivery.create(session, address_id=bobs.id, label="parcel")
        return ann, bob, (home.id, work.id, bobs.id)


def test_on_erase_drop_deletes_the_records_and_replay_agrees(db: Engine, database_url: str) -> None:
    ann, _, (home, work, bobs) = write_addresses(db)
    base = ["--config", CONFIG, "--database-url", database_url]
    result = CliRunner().invoke(main, ["erase", *base, "--subject", str(ann.id), "--reason", "r"])
    assert result.exit_code == 0, result.output
    assert f"erased subject {ann.id} (1 Person cleared; 2 Address deleted)" in result.stdout
    after = full_state(db)
    assert [row[0] for row in after["Address"]] == [bobs]
    assert scan(db, database_url, [ANN_STREET, "Werkweg 2"]) == []
    models = mod("models")
    with Session(db) as session:
        event = session.scalars(
            select(models.Event).where(models.Event.resource == "DataSubject")
        ).one()
        assert event.data["dropped"] == {"Address": sorted((str(home), str(work)))}
    assert replayed(db) == after  # replay deletes them again at the erase event


def test_erase_finds_records_that_never_held_a_personal_value(db: Engine) -> None:
    """An address with no street records no personal value, so none of its events names a
    subject: the erase finds it by its person_id (data_subject: {attribute: person_id})."""
    ann, _, (home, work, bobs) = write_addresses(db)
    with Session(db, expire_on_commit=False) as session, session.begin():
        bare = mod("actions.address").create(session, person_id=ann.id, country="NL")
    erased = erase(db, ann.id)
    assert sorted(erased.dropped["Address"]) == sorted([home, work, bare.id])
    after = full_state(db)
    assert [row[0] for row in after["Address"]] == [bobs]
    assert replayed(db) == after


def test_on_erase_drop_refused_while_a_record_references_it(db: Engine) -> None:
    _, bob, _ = write_addresses(db)
    before = full_state(db)
    events = last_event_id(db)
    with pytest.raises(
        mod("errors").ValidationError, match=r"records of Delivery \(deliveries.address_id\)"
    ):
        erase(db, bob.id)
    assert full_state(db) == before  # nothing changed: records, key, log
    assert last_event_id(db) == events
    with Session(db) as session:
        key = session.get(mod("models").EventSubjectKey, str(bob.id))
        assert key is not None and key.wrapped_key is not None

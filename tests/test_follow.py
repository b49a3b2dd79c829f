"""Following the log: ``<pkg>.log.read_after`` and ``consume``, on SQLite and PostgreSQL.

The project generated here has two integer-keyed logs: ``Event`` (a tenant-scoped resource, so
PostgreSQL writers of different tenants hold different advisory keys and run at once) and an
encrypted ``Audit``. The accounts example (one log) covers the unsuffixed names.
"""

from __future__ import annotations

import importlib
import os
import random
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from accounts.data import log as accounts_log
from accounts.data.actions import org as orgs
from accounts.data.models import Event, EventspecCheckpoint
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.conftest import EXAMPLE, ROOT
from tests.engines import create_engine
from tests.projects import generated_package

AUDIT_KEY = "q0GJ2p3Wg1Dq3s2H2sQ6c7S8b0kX3f7ZbqR2d1m4n5o="
SPECS = {
    "logs.yaml": """\
kind: event_log
name: Event
---
kind: event_log
name: Audit
table: audit_events
encryption: {key_env: FOLLOW_AUDIT_KEYS}
""",
    "note.yaml": """\
kind: resource
name: Note
multitenancy: {strategy: attribute, attribute: org_id}
attributes:
  id: {type: uuid, primary_key: true, default: uuid4}
  org_id: {type: big_integer, allow_nil: false}
  body: string
actions:
  create: {type: create, accept: [body]}
events:
  event_log: Event
""",
    "log.yaml": """\
kind: resource
name: Log
attributes:
  id: {type: uuid, primary_key: true, default: uuid4}
  line: string
actions:
  create: {type: create, accept: [line]}
events:
  event_log: Event
""",
    "secret.yaml": """\
kind: resource
name: Secret
attributes:
  id: {type: uuid, primary_key: true, default: uuid4}
  value: string
actions:
  create: {type: create, accept: [value]}
events:
  event_log: Audit
""",
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    top = f"follow_{uuid.uuid4().hex[:8]}"
    with generated_package(tmp_path_factory.mktemp("follow"), top, SPECS):
        yield f"{top}.data"


@pytest.fixture
def pkg(generated: str, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("FOLLOW_AUDIT_KEYS", AUDIT_KEY)
    models = importlib.import_module(f"{generated}.models")
    models.Base.metadata.create_all(engine)

    class Modules:
        pass

    modules: Any = Modules()
    modules.models = models
    modules.log = importlib.import_module(f"{generated}.log")
    modules.notes = importlib.import_module(f"{generated}.actions.note")
    modules.secrets = importlib.import_module(f"{generated}.actions.secret")
    return modules


def make_orgs(engine: Engine, count: int) -> list[int]:
    """``count`` orgs created; the ids of their events."""
    with Session(engine) as session, session.begin():
        for i in range(count):
            orgs.create(session, name=f"org {i}")
    with Session(engine) as session:
        return list(session.scalars(select(Event.id).order_by(Event.id)))[-count:]


# The tests that need concurrent writers of different advisory keys: PostgreSQL only.
on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


# --- read_after ---------------------------------------------------------------------------------


def test_read_after_returns_the_events_after_a_checkpoint_in_batches(accounts: Engine) -> None:
    with Session(accounts) as session:
        assert accounts_log.read_after(session, None) == []
    ids = make_orgs(accounts, 5)
    assert len(ids) == 5 and ids == sorted(ids)
    with Session(accounts) as session:
        first = accounts_log.read_after(session, None, 2)
        assert [e.id for e in first] == ids[:2]
        assert all(isinstance(e, Event) and e.resource == "Org" for e in first)
        rest = accounts_log.read_after(session, first[-1].id, 10)
        assert [e.id for e in rest] == ids[2:]
        assert accounts_log.read_after(session, ids[-1]) == []
        assert [e.id for e in accounts_log.read_after(session, 0)] == ids
        with pytest.raises(ValueError, match="limit must be at least 1"):
            accounts_log.read_after(session, None, 0)


def test_read_rows_after_is_the_same_batch_as_read_only_values(accounts: Engine) -> None:
    make_orgs(accounts, 3)
    with Session(accounts) as session:
        events = accounts_log.read_after(session, None, 2)
        rows = accounts_log.read_rows_after(session, None, 2)
    assert [type(r) for r in rows] == [accounts_log.EventRow] * 2
    fields = accounts_log.EventRow._fields
    assert [r._asdict() for r in rows] == [{f: getattr(e, f) for f in fields} for e in events]
    assert set(fields) == set(Event.__mapper__.columns.keys())  # every attribute, metadata_ too
    with pytest.raises(AttributeError):
        rows[0].data = {}  # type: ignore[misc]  # an event is not changed by its reader


def test_each_log_is_read_on_its_own_and_an_encrypted_one_decrypted(
    pkg: Any, engine: Engine
) -> None:
    with Session(engine) as session, session.begin():
        pkg.notes.create(session, body="hello", tenant=1)
        pkg.secrets.create(session, value="hush", metadata={"why": "test"})
        pkg.notes.create(session, body="again", tenant=2)
    with Session(engine) as session:
        notes = pkg.log.read_after_event(session, None)
        audits = pkg.log.read_after_audit(session, None)
        rows = pkg.log.read_rows_after_audit(session, None)
        stored = session.execute(text("SELECT data FROM audit_events")).scalar_one()
    assert [e.data["body"] for e in notes] == ["hello", "again"]
    assert [(e.data, e.metadata_) for e in audits] == [({"value": "hush"}, {"why": "test"})]
    assert [(r.data, r.metadata_) for r in rows] == [({"value": "hush"}, {"why": "test"})]
    assert b"hush" not in bytes(stored)  # as the `events` command reads it: decrypted, not stored


def test_a_resource_named_log_lives_next_to_the_log_module(pkg: Any, engine: Engine) -> None:
    # Resource modules are under actions/: ``actions/log.py`` and ``log.py`` never meet.
    logs = importlib.import_module(f"{pkg.models.__name__.rsplit('.', 1)[0]}.actions.log")
    with Session(engine) as session, session.begin():
        logs.create(session, line="started")
        assert [e.resource for e in pkg.log.read_after_event(session, None)] == ["Log"]


def test_a_log_named_like_a_name_the_log_module_binds(tmp_path: Path, engine: Engine) -> None:
    specs = {
        "log.yaml": "kind: event_log\nname: Session\ntable: events\n",
        "note.yaml": SPECS["secret.yaml"].replace("Audit", "Session"),
    }
    with generated_package(tmp_path, "clash_follow", specs):
        models = importlib.import_module("clash_follow.data.models")
        log = importlib.import_module("clash_follow.data.log")
        secrets = importlib.import_module("clash_follow.data.actions.secret")
        models.Base.metadata.create_all(engine)
        with Session(engine) as session, session.begin():
            secrets.create(session, value="v")
            assert [e.data for e in log.read_after(session, None)] == [{"value": "v"}]


@on_postgresql
def test_a_lock_key_equal_to_the_horizon_key_is_refused(pkg: Any, engine: Engine) -> None:
    top = pkg.models.__name__.rsplit(".", 1)[0]
    refused = importlib.import_module(f"{top}.errors").ConfigurationError
    key = importlib.import_module(f"{top}._locks").HORIZON_KEY
    with Session(engine) as session, session.begin(), pytest.raises(refused, match="readers"):
        pkg.notes.create(session, body="x", tenant=key)


def test_an_event_written_in_the_reading_transaction_is_read(pkg: Any, engine: Engine) -> None:
    # The reader's own transaction holds the horizon lock shared: its barrier does not wait on it.
    with Session(engine) as session, session.begin():
        pkg.notes.create(session, body="mine", tenant=3)
        assert [e.data["body"] for e in pkg.log.read_after_event(session, None)] == ["mine"]


# --- consume ------------------------------------------------------------------------------------


def test_consume_moves_the_checkpoint_with_the_callers_transaction(accounts: Engine) -> None:
    ids = make_orgs(accounts, 5)
    batches: list[list[int]] = []

    def handler(session: Session, events: list[accounts_log.EventRow]) -> None:
        batches.append([e.id for e in events])

    with Session(accounts) as session, session.begin():
        assert accounts_log.consume(session, "mail", handler, limit=2) == 2
        session.rollback()  # the handler's work and the checkpoint go together
    with Session(accounts) as session, session.begin():
        assert accounts_log.consume(session, "mail", handler, limit=2) == 2
    with Session(accounts) as session, session.begin():
        assert accounts_log.consume(session, "mail", handler, limit=10) == 3
        assert accounts_log.consume(session, "mail", handler) == 0
        assert accounts_log.consume(session, "other", handler, limit=1) == 1
    assert batches == [ids[:2], ids[:2], ids[2:], ids[:1]]
    with Session(accounts) as session:
        rows = session.scalars(select(EventspecCheckpoint).order_by(EventspecCheckpoint.name))
        assert [(r.name, r.position) for r in rows] == [("mail", ids[-1]), ("other", ids[0])]


def test_a_second_consumer_of_the_same_name_waits_for_the_first(accounts: Engine) -> None:
    make_orgs(accounts, 2)
    with Session(accounts) as first, first.begin():
        assert accounts_log.consume(first, "mail", lambda s, e: None, limit=1) == 1
        other = create_engine(
            accounts.url.render_as_string(hide_password=False),
            **({"connect_args": {"timeout": 0}} if accounts.dialect.name == "sqlite" else {}),
        )
        try:
            with Session(other) as second, second.begin():
                if other.dialect.name == "postgresql":
                    second.execute(text("SET LOCAL lock_timeout = '50ms'"))
                with pytest.raises(OperationalError, match="lock"):
                    accounts_log.consume(second, "mail", lambda s, e: None)
        finally:
            other.dispose()


# --- PostgreSQL: concurrent writers of different advisory keys ----------------------------------


@on_postgresql
def test_followers_see_every_committed_event_once_in_id_order(pkg: Any, engine: Engine) -> None:
    """8 writers across 4 tenants (4 advisory keys) commit out of id order, some roll back;
    2 followers poll all the while. Each sees every committed event once, in id order, and
    skips none. One key serialises a tenant's writers, so a tenant's ids follow its commits:
    the id order is each tenant's commit order too. A reader without the horizon skips events
    here as a rule (the writers sleep between their insert and their commit), but not in every
    run: the next test shows the skip deterministically."""
    Event_ = pkg.models.Event
    committed: list[set[int]] = [set() for _ in range(8)]
    done = threading.Event()
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        rng = random.Random(index)
        tenant = index % 4 + 1
        try:
            for n in range(25):
                with Session(engine) as session:
                    session.begin()
                    note = pkg.notes.create(session, body=f"{index}/{n}", tenant=tenant)
                    session.flush()
                    event_id = session.scalars(
                        select(Event_.id).where(Event_.record_id == note.id)
                    ).one()
                    session.execute(text("SELECT pg_sleep(:s)"), {"s": rng.random() / 200})
                    if rng.random() < 0.2:
                        session.rollback()
                    else:
                        session.commit()
                        committed[index].add(event_id)
        except BaseException as error:
            errors.append(error)

    def follower(seen: list[int]) -> None:
        try:
            checkpoint: int | None = None
            while True:
                finished = done.is_set()  # read before the batch: a last pass after the writers
                with Session(engine) as session, session.begin():
                    batch = [e.id for e in pkg.log.read_after_event(session, checkpoint, 7)]
                seen.extend(batch)
                if batch:
                    checkpoint = batch[-1]
                elif finished:
                    return
        except BaseException as error:
            errors.append(error)

    seen_by: list[list[int]] = [[], []]
    followers = [threading.Thread(target=follower, args=(seen,)) for seen in seen_by]
    writers = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in [*followers, *writers]:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in followers:
        thread.join()
    assert not errors, errors
    everything = sorted(set().union(*committed))
    assert len(everything) > 100
    for seen in seen_by:
        assert seen == everything  # each once, in id order, none skipped, no rolled-back id


def naive_read_after(session: Session, model: Any, checkpoint: int) -> list[Any]:
    """What a reader without the horizon does: ``id > checkpoint ORDER BY id``."""
    query = select(model).where(model.id > checkpoint).order_by(model.id)
    return list(session.scalars(query))


@on_postgresql
def test_without_the_horizon_a_follower_skips_an_event_and_with_it_it_does_not(
    pkg: Any, engine: Engine
) -> None:
    """Tenant 1 allocates id n and has not committed; tenant 2 takes n+1 and commits. A reader
    without the barrier moves its checkpoint to n+1 and never sees n; read_after waits for
    tenant 1's transaction instead, then returns both."""
    Event_ = pkg.models.Event
    with Session(engine) as slow, Session(engine) as fast:
        slow.begin()
        pkg.notes.create(slow, body="slow", tenant=1)
        slow.flush()
        with fast.begin():
            pkg.notes.create(fast, body="fast", tenant=2)
        with Session(engine) as reader:
            naive = naive_read_after(reader, Event_, 0)
        assert [e.data["body"] for e in naive] == ["fast"]  # checkpoint moves past the slow id
        result: list[Any] = []
        thread = threading.Thread(
            target=lambda: result.extend(_read_all(engine, pkg.log.read_after_event))
        )
        thread.start()
        _wait_for_a_waiting_advisory_lock(engine)
        assert not result  # blocked on the horizon while the slow writer's id is in flight
        slow.commit()
        thread.join()
    with Session(engine) as reader:
        assert naive_read_after(reader, Event_, naive[-1].id) == []  # the naive reader: skipped
    assert [body for body in result] == ["slow", "fast"]


@on_postgresql
def test_a_writer_reads_the_log_while_another_waits_for_its_key(pkg: Any, engine: Engine) -> None:
    """Transaction A wrote an event of tenant 1; B waits for tenant 1's key. A reads the log:
    B holds no horizon while it waits for its key (the key is taken first), so A's barrier does
    not wait for B, which waits for A (a deadlock PostgreSQL would break by aborting one)."""
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            with Session(engine) as session, session.begin():
                pkg.notes.create(session, body="second", tenant=1)
        except BaseException as error:
            errors.append(error)

    with Session(engine) as first:
        first.begin()
        pkg.notes.create(first, body="first", tenant=1)
        thread = threading.Thread(target=second_writer)
        thread.start()
        _wait_for_a_waiting_advisory_lock(engine)
        assert [e.data["body"] for e in pkg.log.read_after_event(first, None)] == ["first"]
        first.commit()
    thread.join()
    assert not errors, errors
    assert _read_all(engine, pkg.log.read_after_event) == ["first", "second"]


def _read_all(engine: Engine, read: Any) -> list[str]:
    with Session(engine) as session, session.begin():
        return [e.data["body"] for e in read(session, None)]


def _wait_for_a_waiting_advisory_lock(engine: Engine) -> None:
    """Until another session waits for an advisory lock (the reader at its barrier)."""
    with engine.connect() as connection:
        while not connection.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        ).scalar_one():
            connection.execute(text("SELECT pg_sleep(0.01)"))
            connection.rollback()


# --- a consumer killed before it commits --------------------------------------------------------

CONSUMER = """\
import os
import sys

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from accounts.data.log import consume

url, crash = sys.argv[1], sys.argv[2] == "crash"


def project(session, events):
    for event in events:
        updated = session.execute(
            text("UPDATE projection SET n = n + 1 WHERE action = :a"), {"a": event.action}
        )
        if updated.rowcount == 0:
            session.execute(text("INSERT INTO projection VALUES (:a, 1)"), {"a": event.action})


engine = create_engine(url)
while True:
    with Session(engine) as session, session.begin():
        handled = consume(session, "projection", project, limit=3)
        if crash:
            session.flush()
            os._exit(3)  # the projection and the checkpoint are written, not committed
    if not handled:
        break
print("caught up")
"""


def test_a_consumer_killed_before_its_commit_reads_the_same_events_again(
    accounts: Engine, database_url: str, tmp_path: Path
) -> None:
    with Session(accounts) as session, session.begin():
        for i in range(4):
            org = orgs.create(session, name=f"org {i}")
            orgs.rename(session, org, name=f"org {i}!")
    with accounts.begin() as connection:
        connection.execute(text("CREATE TABLE projection (action VARCHAR PRIMARY KEY, n INTEGER)"))
    script = tmp_path / "consumer.py"
    script.write_text(CONSUMER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (EXAMPLE / "src", ROOT)))}

    def run(mode: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(script), database_url, mode]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)

    crashed = run("crash")
    assert crashed.returncode == 3, crashed.stderr
    with accounts.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM projection")).scalar_one() == 0
    finished = run("finish")
    assert (finished.returncode, finished.stdout) == (0, "caught up\n"), finished.stderr
    with accounts.connect() as connection:
        counts = dict(connection.execute(text("SELECT action, n FROM projection")).all())
        position = connection.execute(select(EventspecCheckpoint.position)).scalar_one()
    assert counts == {"create": 4, "rename": 4}  # each event counted once, none twice
    assert position == _last_id(accounts)


def _last_id(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalars(select(Event.id).order_by(Event.id.desc())).first() or 0)

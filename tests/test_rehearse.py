"""Rehearsal: replay from a snapshot of the live database into another one (SQLite file, second
PostgreSQL database), through the generated `rehearse_<log>` functions and `replay --into`.

Every rehearsal is checked against an in-place replay of the same live database, and the live
database must come out of it byte for byte as it went in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from eventspec.cli import main
from features.data import _rehearse
from features.data.actions import account as accounts
from features.data.actions import article as articles
from features.data.actions import document as documents
from features.data.actions import member as members
from features.data.errors import ConfigurationError, ReplayError
from features.data.models import Account, Article, Base, Document, Event, Member
from features.data.replay import rehearse_event, rehearse_ledger, replay_event, replay_ledger
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tests.conftest import FEATURES, LEDGER_KEY, POSTGRES_URL
from tests.engines import create_engine
from tests.test_replay import snapshot

EVENT_TRACKED = (Article, Document, Member)
EVERY_RESOURCE = (Account, Article, Document, Member)
T0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


@pytest.fixture
def scratch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The folder temporary files go to, to see that none is left behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def into_sqlite(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'rehearsal.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def into_postgres() -> Iterator[Engine]:
    """A second PostgreSQL database of its own, dropped at the end."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"eventspec_rehearse_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(
        make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    )
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def history(engine: Engine) -> dict[str, Any]:
    """Both logs written to: FKs between tracked tables, a version route, an encrypted log."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        author = members.create(
            session,
            handle="ty",
            tags=["x", "y"],
            profile={"a": [1, 2]},
            joined_on=dt.date(2024, 2, 29),
        )
        members.bump(session, author, by=2)
        workspace = uuid.uuid4()
        doc = documents.create(session, title="T", body="B", tenant=workspace, actor=author)
        documents.edit(session, doc, title="T2", tenant=workspace)
        article = articles.create(session, title="A", price=Decimal("9.99"), slug="a")
        articles.publish(session, article)
        account = accounts.open(session, owner="Quentin", pin="8642-secret")
        accounts.deposit(session, account, amount=120)
        late = articles.create(session, title="Late", price=Decimal("1.5"), slug="late")
    return {"author": author, "article": article, "account": account, "late": late}


def checksums(engine: Engine) -> dict[str, str]:
    """A digest of every table of the project, as the driver returns its rows (no type decoding)."""
    out = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = connection.exec_driver_sql(f'SELECT * FROM "{table.name}" ORDER BY 1').all()
            out[table.name] = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
    return out


def rows(engine: Engine, models: tuple[Any, ...] = EVERY_RESOURCE) -> dict[str, list[Any]]:
    with Session(engine) as session:
        return snapshot(session, models)


def replayed_in_place(live: Engine, replay: Callable[..., Any], **cutoff: Any) -> dict[str, Any]:
    """What an in-place replay makes of ``live`` (run last: it rewrites the live tables)."""
    with Session(live) as session, session.begin():
        replay(session, **cutoff)
    return rows(live)


def event_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Event)) or 0


@pytest.mark.parametrize("log", ["event", "ledger"])
def test_rehearsal_into_a_sqlite_file_matches_an_in_place_replay(
    features: Engine, into_sqlite: Engine, scratch: Path, log: str
) -> None:
    history(features)
    before = checksums(features)
    functions: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
        "event": (rehearse_event, replay_event),
        "ledger": (rehearse_ledger, replay_ledger),
    }
    rehearse, replay = functions[log]
    result = rehearse(features, into_sqlite)
    assert result.applied == (7 if log == "event" else 2), str(result)
    assert checksums(features) == before  # the live tables and event logs are only read
    assert list(scratch.iterdir()) == []  # the SQLite snapshot's copy is gone
    assert event_count(into_sqlite) == 0  # the events stay on the live database
    assert rows(into_sqlite) == replayed_in_place(features, replay)


def test_rehearsal_into_a_second_postgresql_database(
    features: Engine, into_postgres: Engine
) -> None:
    made = history(features)
    before = checksums(features)
    assert rehearse_event(features, into_postgres).applied == 7
    # Accounts were copied with their integer keys, and the target's sequence moved past them.
    with Session(into_postgres) as session, session.begin() as transaction:
        assert accounts.open(session, owner="Next").id > made["account"].id
        transaction.rollback()
    assert rehearse_ledger(features, into_postgres).applied == 2  # twice: rows are replaced
    assert checksums(features) == before
    rebuilt = rows(into_postgres)
    assert (
        rebuilt
        == replayed_in_place(features, replay_event)
        == replayed_in_place(features, replay_ledger)
    )


def test_last_event_id_and_point_in_time_cut_the_rehearsal_as_in_place(
    features: Engine, into_sqlite: Engine
) -> None:
    history(features)
    with Session(features) as session, session.begin():
        ids = session.scalars(select(Event.id).order_by(Event.id)).all()
        for index, event_id in enumerate(ids):
            at = T0 + dt.timedelta(hours=index)
            session.execute(update(Event).where(Event.id == event_id).values(occurred_at=at))
    by_id = rehearse_event(features, into_sqlite, last_event_id=ids[2])
    assert by_id.applied == 3 and by_id.last_event_id == ids[2]
    cut_by_id = rows(into_sqlite, EVENT_TRACKED)
    by_time = rehearse_event(features, into_sqlite, point_in_time=T0 + dt.timedelta(hours=4))
    assert by_time.applied == 5
    cut_by_time = rows(into_sqlite, EVENT_TRACKED)
    with Session(features) as session, session.begin():
        replay_event(session, last_event_id=ids[2])
    assert cut_by_id == rows(features, EVENT_TRACKED)
    with Session(features) as session, session.begin():
        replay_event(session, point_in_time=T0 + dt.timedelta(hours=4))
    assert cut_by_time == rows(features, EVENT_TRACKED)


def test_a_writer_on_the_live_database_is_not_blocked_by_a_rehearsal(
    features: Engine, into_sqlite: Engine
) -> None:
    history(features)
    written: list[uuid.UUID] = []

    def write_meanwhile(done: int, total: int) -> None:
        if done != 1:
            return
        options = {"timeout": 2} if features.dialect.name == "sqlite" else {}
        writer = create_engine(
            str(features.url.render_as_string(hide_password=False)), connect_args=options
        )
        try:
            with Session(writer) as session, session.begin():
                if writer.dialect.name == "postgresql":
                    session.execute(text("SET LOCAL lock_timeout = '2s'"))
                    session.execute(text("SET LOCAL statement_timeout = '5s'"))
                written.append(members.create(session, handle="meanwhile").id)
        finally:
            writer.dispose()

    result = rehearse_event(features, into_sqlite, on_progress=write_meanwhile)
    assert len(written) == 1
    with Session(features) as session:  # committed on the live database...
        assert session.get(Member, written[0]) is not None
    assert result.applied == 7  # ...after the snapshot, which the rehearsal kept reading
    with Session(into_sqlite) as session:
        assert session.get(Member, written[0]) is None


def test_no_temporary_file_is_left_after_a_failure_or_an_interrupt(
    features: Engine, into_sqlite: Engine, scratch: Path
) -> None:
    history(features)
    seen: list[int] = []

    def interrupt(done: int, total: int) -> None:
        seen.append(len(list(scratch.iterdir())))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rehearse_event(features, into_sqlite, on_progress=interrupt)
    # On SQLite the rehearsal read a copy in the temporary folder; PostgreSQL needs none.
    assert seen == [1 if features.dialect.name == "sqlite" else 0]
    assert list(scratch.iterdir()) == []
    assert rows(into_sqlite) == {model.__name__: [] for model in EVERY_RESOURCE}  # rolled back
    with Session(features) as session, session.begin():
        session.execute(update(Event).where(Event.resource == "Article").values(action="gone"))
    with pytest.raises(ReplayError, match="no such action"):
        rehearse_event(features, into_sqlite)
    assert list(scratch.iterdir()) == []


def test_the_live_database_itself_is_refused(features: Engine, scratch: Path) -> None:
    history(features)
    before = checksums(features)
    same = create_engine(features.url.render_as_string(hide_password=False))
    try:
        for target in (features, same):
            with pytest.raises(ConfigurationError, match="into the live database itself"):
                rehearse_event(features, target)
    finally:
        same.dispose()
    assert checksums(features) == before
    assert list(scratch.iterdir()) == []


@pytest.fixture
def live_postgres(postgres_database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The features tables on PostgreSQL (the values below exist only there)."""
    schema = f"r_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("FEATURES_LEDGER_KEYS", LEDGER_KEY)
    admin = create_engine(postgres_database, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(postgres_database).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = create_engine(url.render_as_string(hide_password=False))
    Base.metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.mark.parametrize(
    ("statement", "column", "why"),
    [
        ("UPDATE articles SET price = 1.23456789012345678", "articles.price", "15 significant"),
        ("UPDATE members SET tags = '{{a,b},{c,d}}'", "members.tags", "multi-dimensional"),
        ("UPDATE members SET handle = 'longer than twenty bytes'", "members.handle", "limit"),
    ],
)
def test_a_postgresql_value_sqlite_cannot_hold_is_refused_by_name(
    live_postgres: Engine,
    into_sqlite: Engine,
    scratch: Path,
    monkeypatch: pytest.MonkeyPatch,
    statement: str,
    column: str,
    why: str,
) -> None:
    # SQLite's limit on one value (1e9 bytes) is lowered, rather than this test writing 1 GB.
    monkeypatch.setattr(_rehearse, "_SQLITE_MAX_LENGTH", 20 if why == "limit" else 10**9)
    history(live_postgres)
    with live_postgres.begin() as connection:
        connection.execute(text(statement))
    # Ledger's rehearsal copies articles and members as they are: they cannot cross.
    with pytest.raises(ConfigurationError, match=f"cannot copy {column} into SQLite: .*{why}"):
        rehearse_ledger(live_postgres, into_sqlite)
    assert list(scratch.iterdir()) == []
    assert rows(into_sqlite) == {model.__name__: [] for model in EVERY_RESOURCE}


def test_an_in_memory_sqlite_database_can_be_rehearsed(
    into_sqlite: Engine, monkeypatch: pytest.MonkeyPatch, scratch: Path
) -> None:
    monkeypatch.setenv("FEATURES_LEDGER_KEYS", LEDGER_KEY)
    live = create_engine("sqlite://")  # one connection per thread: the same database
    try:
        Base.metadata.create_all(live)
        history(live)
        assert rehearse_event(live, into_sqlite).applied == 7
        with pytest.raises(ConfigurationError, match="into the live database itself"):
            rehearse_event(live, live)
        assert list(scratch.iterdir()) == []
        assert rows(into_sqlite) == replayed_in_place(live, replay_event)
    finally:
        live.dispose()


def cli(*args: str) -> Any:
    config = ["--config", str(FEATURES / "eventspec.yaml"), "--event-log", "Event"]
    return CliRunner().invoke(main, ["replay", *config, *args], catch_exceptions=False)


def test_replay_into_on_the_command_line(
    features: Engine, database_url: str, tmp_path: Path
) -> None:
    history(features)
    before = checksums(features)
    into = f"sqlite:///{tmp_path / 'cli.db'}"
    args = ["--database-url", database_url, "--into", into]
    first = cli(*args)  # an empty target: nothing to confirm
    assert first.exit_code == 0, first.output
    assert "replayed 7 events" in first.output
    again = cli(*args)  # now it holds rows that would be replaced
    assert again.exit_code == 2 and "--yes" in again.output
    assert cli(*args, "--yes").exit_code == 0
    itself = cli("--database-url", database_url, "--into", database_url, "--yes")
    assert itself.exit_code == 1 and "into the live database itself" in itself.output
    unusable = cli("--database-url", database_url, "--into", "not a URL")
    assert unusable.exit_code == 2 and "--into" in unusable.output
    assert checksums(features) == before
    target = create_engine(into)
    try:
        assert rows(target) == replayed_in_place(features, replay_event)
    finally:
        target.dispose()


def test_upcasters_and_an_encrypted_log_rehearse_as_they_replay(
    engine: Engine, into_sqlite: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from upcasting.data import models as up
    from upcasting.data.actions import org as orgs
    from upcasting.data.actions import secret as secrets
    from upcasting.data.replay import rehearse_event as rehearse_orgs
    from upcasting.data.replay import rehearse_vault, replay_vault
    from upcasting.data.replay import replay_event as replay_orgs

    from tests.test_upcasting import KEY, stored

    monkeypatch.setenv("UPCASTING_VAULT_KEYS", KEY)
    up.Base.metadata.create_all(engine)
    old, renamed, vaulted = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with Session(engine) as session, session.begin():
        session.add_all(
            [
                stored(up.Event, "Org", "create", 1, old, data={"name": "Old", "plan": "premium"},
                       changed={"id": str(old)}),
                stored(up.Event, "Team", "register", 1, renamed, data={"label": "Legacy"},
                       changed={"id": str(renamed)}),
                stored(up.Vault, "Secret", "create", 1, vaulted, data={"text": "key:abc"}),
            ]
        )  # fmt: skip
        orgs.create(session, title="Now", plan="team", seats=3)
        secrets.create(session, body="plain", kind="key")
    # Each rehearsal replaces the whole target: the other log's tables are copied from live.
    assert rehearse_orgs(engine, into_sqlite).applied == 3
    rehearsed = rows(into_sqlite, (up.Org, up.Team))
    assert ("Old", "pro") in [(row[1], row[2]) for row in rehearsed["Org"]]  # upcast: v1 -> v3
    assert rehearse_vault(engine, into_sqlite).applied == 2
    rehearsed.update(rows(into_sqlite, (up.Secret,)))
    for replay in (replay_orgs, replay_vault):
        with Session(engine) as session, session.begin():
            replay(session)
    assert rehearsed == rows(engine, (up.Org, up.Team, up.Secret))


def test_a_sqlite_value_postgresql_refuses_is_refused_by_table(
    into_postgres: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEATURES_LEDGER_KEYS", LEDGER_KEY)
    live = create_engine(f"sqlite:///{tmp_path / 'live.db'}")
    try:
        Base.metadata.create_all(live)
        history(live)
        with live.begin() as connection:  # SQLite does not enforce VARCHAR(40); PostgreSQL does
            connection.execute(text("UPDATE members SET handle = 'h' || printf('%.50c', 'x')"))
        with pytest.raises(ConfigurationError, match=r"cannot copy members into postgresql: .*40"):
            rehearse_ledger(live, into_postgres)
        assert rows(into_postgres) == {model.__name__: [] for model in EVERY_RESOURCE}
    finally:
        live.dispose()

"""What a failing replay says, on one event or while clearing the tables; in code and on the CLI."""

from __future__ import annotations

import datetime as dt
import importlib
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner, Result
from eventspec.cli import main
from sqlalchemy import Column, Engine, ForeignKey, Integer, MetaData, Table, Uuid, insert, select
from sqlalchemy.orm import Session

from tests.projects import generated_package

SPECS = {
    "event_log.yaml": "kind: event_log\nname: Event\n",
    "user.yaml": """\
kind: resource
name: User
attributes:
  id: {type: uuid, primary_key: true, default: uuid4, writable: false}
  email: {type: string, allow_nil: false}
actions:
  create: {type: create, accept: [email]}
events:
  event_log: Event
  current_action_versions: {create: 2}
  upcasters:
    create:
      - {from_version: 1, steps: [{call: PACKAGE.upcasters:broken}]}
""",
    # Not tracked: a foreign key into a tracked table (accepted, so that it generates).
    "token.yaml": """\
kind: resource
name: Token
attributes:
  id: {type: integer, primary_key: true}
relationships:
  user: {type: belongs_to, destination: User, allow_replay_clear: true}
actions:
  create: {type: create, accept: [id, user_id]}
""",
    "badge.yaml": """\
kind: resource
name: Badge
attributes:
  id: {type: integer, primary_key: true}
relationships:
  user: {type: belongs_to, destination: User, on_delete: cascade, allow_replay_clear: true}
actions:
  create: {type: create, accept: [id, user_id]}
""",
}


UPCASTERS = """\
from typing import Any


def broken(event: dict[str, Any]) -> dict[str, Any]:
    event["data"] = None
    return event
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    name = f"errs_{uuid.uuid4().hex[:8]}"
    root = tmp_path_factory.mktemp("errs")
    specs = {file: text.replace("PACKAGE", name) for file, text in SPECS.items()}
    with generated_package(root, name, specs) as source:
        (source / "upcasters.py").write_text(UPCASTERS, encoding="utf-8")
        modules = {
            part: importlib.import_module(f"{name}.data.{part}")
            for part in ("models", "replay", "errors")
        }
        yield SimpleNamespace(
            root=root,
            models=modules["models"],
            replay=modules["replay"].replay,
            ReplayError=modules["errors"].ReplayError,
            users=importlib.import_module(f"{name}.data.actions.user"),
        )


@pytest.fixture
def app(package: SimpleNamespace, engine: Engine) -> SimpleNamespace:
    package.models.Base.metadata.create_all(engine)
    return SimpleNamespace(**vars(package), engine=engine)


def rows(session: Session, app: SimpleNamespace) -> dict[str, list[Any]]:
    models = (app.models.User, app.models.Token, app.models.Badge)
    return {
        model.__tablename__: sorted(session.execute(select(*model.__table__.columns)).all())
        for model in models
    }


def bad_event(session: Session, app: SimpleNamespace, version: int = 2) -> int:
    """An event replay cannot apply: User.create without the required email (version 2), or one
    whose upcaster fails (version 1)."""
    row = {
        "record_id": uuid.uuid4(),
        "resource": "User",
        "action": "create",
        "action_type": "create",
        "version": version,
        "occurred_at": dt.datetime(2020, 1, 2, tzinfo=dt.UTC),
        "data": {"email": None},
        "metadata": {},
        "changed_attributes": {},
    }
    event = app.models.Event
    return int(session.execute(insert(event).returning(event.id), [row]).scalar_one())


def test_an_event_failure_names_event_version_target_and_cause(app: SimpleNamespace) -> None:
    with Session(app.engine) as session, session.begin():
        bad = bad_event(session, app)
    with (
        Session(app.engine) as session,
        session.begin(),
        pytest.raises(app.ReplayError) as caught,
    ):
        app.replay(session)
    error = caught.value
    assert (error.event_id, error.event, error.version, error.target) == (
        bad,
        "User.create",
        2,
        "User.create",
    )
    assert str(error) == f"replay failed at event {bad} (User.create v2): email: is required"
    assert error.table is None and error.referencing_table is None


def test_a_failing_upcaster_names_its_event(app: SimpleNamespace) -> None:
    with Session(app.engine) as session, session.begin():
        bad = bad_event(session, app, version=1)
    with (
        Session(app.engine) as session,
        session.begin(),
        pytest.raises(app.ReplayError) as caught,
    ):
        app.replay(session)
    assert str(caught.value) == (
        f"replay failed at event {bad} (User.create v1 -> upcaster): "
        "TypeError: upcaster broken returned no data dict"
    )


def test_a_foreign_key_from_an_untracked_table_blocks_the_clear(app: SimpleNamespace) -> None:
    with Session(app.engine) as session, session.begin():
        user = app.users.create(session, email="ann@example.com")
        session.add(app.models.Token(id=1, user_id=user.id))
    with Session(app.engine) as session:
        before = rows(session, app)
    with Session(app.engine) as session, session.begin():
        with pytest.raises(app.ReplayError) as caught:
            app.replay(session)
        error = caught.value
        assert error.event_id is None and error.target == "clear_records"
        assert (error.table, error.referencing_table) == ("users", "tokens")
        assert error.constraint == "fk_tokens_user_id_users"
        first, second = str(error).splitlines()
        assert first == (
            "replay failed before its first event, in clear_records: table tokens, which Event "
            "does not track, references users (foreign key fk_tokens_user_id_users)"
        )
        assert "clear_records_for_replay" in second
        assert rows(session, app) == before  # the SAVEPOINT was rolled back, clear included
        app.users.create(session, email="bob@example.com")  # the transaction is still usable
    with Session(app.engine) as session:
        assert len(rows(session, app)["users"]) == 2


def test_a_table_outside_the_specs_is_found_too(app: SimpleNamespace) -> None:
    """A hand-written table with an unnamed foreign key: SQLite names neither it nor the table."""
    metadata = MetaData()
    Table("users", metadata, Column("id", Uuid, primary_key=True))
    notes = Table(
        "notes",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("user_id", Uuid, ForeignKey("users.id")),
    )
    notes.create(app.engine)
    with Session(app.engine) as session, session.begin():
        user = app.users.create(session, email="ann@example.com")
        session.execute(insert(notes), [{"id": 1, "user_id": user.id}])
    with (
        Session(app.engine) as session,
        session.begin(),
        pytest.raises(app.ReplayError) as caught,
    ):
        app.replay(session)
    assert (caught.value.table, caught.value.referencing_table) == ("users", "notes")
    assert "table notes, which Event does not track, references users" in str(caught.value)


def test_cascade_deletes_the_untracked_rows_it_accepted(app: SimpleNamespace) -> None:
    """What ``allow_replay_clear`` accepts (ES315): ON DELETE CASCADE empties the other table."""
    with Session(app.engine) as session, session.begin():
        user = app.users.create(session, email="ann@example.com")
        session.add(app.models.Badge(id=1, user_id=user.id))
    with Session(app.engine) as session, session.begin():
        app.replay(session)
    with Session(app.engine) as session:
        after = rows(session, app)
    assert after["badges"] == [] and [row.email for row in after["users"]] == ["ann@example.com"]


# --- the command line ---------------------------------------------------------------------------


def replay_cli(app: SimpleNamespace, url: str, *args: str) -> Result:
    config = str(app.root / "eventspec.yaml")
    command = ["replay", "--config", config, "--database-url", url, "--yes", *args]
    return CliRunner().invoke(main, command)


def test_a_failing_replay_is_one_line_and_exit_1(app: SimpleNamespace, database_url: str) -> None:
    with Session(app.engine) as session, session.begin():
        bad = bad_event(session, app)
    result = replay_cli(app, database_url)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stderr.splitlines()[-1] == (
        f"error: replay failed at event {bad} (User.create v2): email: is required"
    )


def test_traceback_shows_the_whole_error(app: SimpleNamespace, database_url: str) -> None:
    with Session(app.engine) as session, session.begin():
        bad_event(session, app)
    result = replay_cli(app, database_url, "--traceback")
    assert result.exit_code == 1
    assert isinstance(result.exception, app.ReplayError)
    assert isinstance(result.exception.cause, Exception)


def test_missing_tables_are_one_line(package: SimpleNamespace, database_url: str) -> None:
    result = replay_cli(package, database_url)  # an empty database: no migrations were run
    assert result.exit_code == 1
    assert result.stderr.startswith("error: database: ") and "events" in result.stderr
    assert result.stderr.rstrip().endswith("(are the tables created? `alembic upgrade head`)")
    assert len(result.stderr.splitlines()) == 1


def test_an_unreachable_database_is_one_line(package: SimpleNamespace) -> None:
    result = replay_cli(package, "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: database: ") and "Traceback" not in result.output
    assert len(result.stderr.splitlines()) == 1


def test_events_upcast_reports_a_failing_upcaster_in_one_line(
    app: SimpleNamespace, database_url: str
) -> None:
    with Session(app.engine) as session, session.begin():
        bad = bad_event(session, app, version=1)
    config = str(app.root / "eventspec.yaml")
    command = ["events", "--config", config, "--database-url", database_url, "--upcast", "--all"]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert result.stderr == (
        f"error: replay failed at event {bad} (User.create v1 -> upcaster): "
        "TypeError: upcaster broken returned no data dict\n"
    )

"""replay --verify: rebuild into a scratch database and compare row by row, on both databases."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from accounts.actors import SystemActor
from accounts.data import _scratch
from accounts.data._compare import compare_tables, same_value
from accounts.data._support import JSONMap, UTCDateTime
from accounts.data.actions import org as orgs
from accounts.data.errors import ConfigurationError
from accounts.data.models import Event, Org, User, UserRole
from accounts.data.replay import verify
from click.testing import CliRunner, Result
from eventspec.cli import main
from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tests.conftest import EXAMPLE, FEATURES, POSTGRES_URL
from tests.test_replay import build_history

CONFIG = str(EXAMPLE / "eventspec.yaml")

# --- the comparison itself, on a probe table of every kind of value ------------------------------

probe_metadata = MetaData()
PROBE = Table(
    "probe",
    probe_metadata,
    Column("key", String(), primary_key=True),
    Column("at", UTCDateTime()),
    Column("amount", Numeric(10, 2)),
    Column("doc", JSONMap),
    Column("note", String()),
    Column("ratio", Float()),
)
PROBE_EVENTS = Table(
    "probe_events",
    probe_metadata,
    Column("id", Integer(), primary_key=True),
    Column("resource", String()),
    Column("record_id", String()),
)
AT = dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)


def probe_row(key: str, **values: Any) -> dict[str, Any]:
    row = {"key": key, "at": AT, "amount": decimal.Decimal("1.50"), "doc": {"a": 1}}
    return row | {"note": "x", "ratio": 0.1} | values


def scratch_files() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob(f"eventspec_scratch_{os.getpid()}_*")}


def scratch_databases(pid: int | None = None) -> list[str]:
    """This process's scratch databases (or ``pid``'s): other test workers make their own."""
    admin = create_engine(POSTGRES_URL)
    pattern = f"eventspec_scratch_{os.getpid() if pid is None else pid}_%"
    try:
        with admin.connect() as connection:
            query = text("SELECT datname FROM pg_database WHERE datname LIKE :pattern")
            return list(connection.scalars(query, {"pattern": pattern}))
    finally:
        admin.dispose()


def test_values_compare_exactly_by_kind() -> None:
    assert same_value(float("nan"), float("nan"))
    assert same_value(decimal.Decimal("NaN"), decimal.Decimal("NaN"))
    assert not same_value(True, 1)
    assert not same_value(None, "")
    assert not same_value({"a": None}, {})
    assert same_value({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]})
    assert not same_value(AT, AT.replace(tzinfo=None))
    assert not same_value(AT, AT + dt.timedelta(microseconds=1))
    assert same_value(AT, AT.astimezone(dt.timezone(dt.timedelta(hours=2))))
    assert not same_value("1", 1)


def test_compare_reports_every_kind_of_difference(engine: Engine) -> None:
    """Rows differ per type exactly as the live and the replayed values do; keys order by code
    point on both databases (PostgreSQL's default collation would put "a" before "B")."""
    live_rows = [
        probe_row("B"),
        probe_row("Z", at=AT + dt.timedelta(microseconds=1)),
        probe_row("a", amount=decimal.Decimal("1.5")),
        probe_row("b", doc={"a": 1, "b": None}),
        probe_row("c", note=None),
        probe_row("d", amount=decimal.Decimal("1.51")),
        probe_row("only-live"),
        probe_row("é", doc={"b": [1, 2], "a": 1}),
    ]
    replayed_rows = [
        probe_row("B"),
        probe_row("Z"),
        probe_row("a"),
        probe_row("b"),
        probe_row("c", note=""),
        probe_row("d"),
        probe_row("only-replayed"),
        probe_row("é", doc={"a": 1, "b": [1, 2]}),
    ]
    probe_metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(PROBE), live_rows)
        connection.execute(
            insert(PROBE_EVENTS),
            [{"id": i, "resource": "Probe", "record_id": "Z"} for i in (3, 7)],
        )
    with _scratch.scratch_database(engine) as scratch:
        probe_metadata.create_all(scratch)
        with scratch.begin() as connection:
            connection.execute(insert(PROBE), replayed_rows)
        with engine.connect() as live, scratch.connect() as replayed:
            [report] = compare_tables(
                live, replayed, {"Probe": PROBE}, PROBE_EVENTS, max_rows=10, batch_size=2
            )
    assert (report.same, report.only_live, report.only_replayed, report.different) == (3, 1, 1, 4)
    rows = {row.key: row for row in report.rows}
    assert rows["Z"].columns == {"at": (AT + dt.timedelta(microseconds=1), AT)}
    assert rows["Z"].last_event_id == 7
    assert rows["b"].columns == {"doc": ({"a": 1, "b": None}, {"a": 1})}
    assert rows["c"].columns == {"note": (None, "")}
    assert rows["d"].columns == {"amount": (decimal.Decimal("1.51"), decimal.Decimal("1.50"))}
    assert (rows["only-live"].kind, rows["only-replayed"].kind) == ("only_live", "only_replayed")
    assert rows["only-live"].last_event_id is None
    assert [row.key for row in report.rows] == ["Z", "b", "c", "d", "only-live", "only-replayed"]


def test_compare_reports_at_most_max_rows(engine: Engine) -> None:
    probe_metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(PROBE), [probe_row(f"k{i:03}") for i in range(50)])
    with _scratch.scratch_database(engine) as scratch:
        probe_metadata.create_all(scratch)
        with engine.connect() as live, scratch.connect() as replayed:
            [report] = compare_tables(live, replayed, {"Probe": PROBE}, PROBE_EVENTS, max_rows=3)
    assert (report.only_live, len(report.rows)) == (50, 3)


def test_scratch_database_is_removed_after_an_error(engine: Engine) -> None:
    before = scratch_files() if engine.dialect.name == "sqlite" else set(scratch_databases())
    with pytest.raises(KeyboardInterrupt), _scratch.scratch_database(engine) as scratch:
        probe_metadata.create_all(scratch)
        assert scratch.url.database and "eventspec_scratch_" in scratch.url.database
        raise KeyboardInterrupt
    after = scratch_files() if engine.dialect.name == "sqlite" else set(scratch_databases())
    assert after == before


def test_report_json_renders_every_value_as_a_string() -> None:
    from accounts.data._compare import RowDiff, TableReport
    from accounts.data._replay import ReplayResult
    from accounts.data._verify import VerifyResult

    row = RowDiff("k", "different", {"amount": (decimal.Decimal("1.5"), None)}, 4)
    result = VerifyResult(ReplayResult(), True, [TableReport("probe", "Probe", 1, 0, 0, 1, [row])])
    data = json.loads(json.dumps(result.to_dict()))
    assert data["identical"] is False
    assert data["tables"][0]["rows"][0] == {
        "key": "k",
        "kind": "different",
        "columns": {"amount": {"live": "1.5", "replayed": None}},
        "last_event_id": 4,
    }
    assert "amount: live 1.5 != replayed NULL" in str(result)


# --- verify() and `eventspec replay --verify` on the accounts example ----------------------------


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder of this test's own, so that leftovers of other tests do not count."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def leftovers(engine: Engine, folder: Path, pid: int | None = None) -> list[str]:
    """Scratch databases of this process (or ``pid``) on the server, or temporary files in
    ``folder``."""
    if engine.dialect.name == "postgresql":
        return scratch_databases(pid)
    return sorted(path.name for path in folder.iterdir())


def verify_cli(database_url: str, *args: str) -> Result:
    command = ["replay", "--verify", "--config", CONFIG, "--database-url", database_url, *args]
    return CliRunner().invoke(main, command)


def last_event_of(engine: Engine, resource: str, record_id: Any) -> int:
    with engine.connect() as connection:
        query = select(func.max(Event.id)).where(
            Event.resource == resource, Event.record_id == record_id
        )
        found = connection.scalar(query)
    assert isinstance(found, int)
    return found


def test_an_untouched_history_is_identical(
    accounts: Engine, database_url: str, private_tmp: Path
) -> None:
    build_history(accounts)
    result = verify(accounts)
    assert result.identical and result.compared
    counts = {t.table: (t.same, t.only_live, t.only_replayed, t.different) for t in result.tables}
    assert counts == {"orgs": (1, 0, 0, 0), "user_roles": (1, 0, 0, 0), "users": (2, 0, 0, 0)}
    shown = verify_cli(database_url)
    assert shown.exit_code == 0, shown.output
    assert "users (User): identical: 2 same, 0 only live" in shown.stdout
    assert "replay rebuilds the live state exactly" in shown.stdout
    assert leftovers(accounts, private_tmp) == []


def test_a_raw_update_names_table_key_column_values_and_last_event(
    accounts: Engine, database_url: str, private_tmp: Path
) -> None:
    ann = build_history(accounts)["ann"]
    with accounts.begin() as connection:  # a write that bypasses the actions: no event
        connection.execute(text("UPDATE users SET given_name = 'Mallory' WHERE given_name = 'Ann'"))
    last = last_event_of(accounts, "User", ann.id)
    shown = verify_cli(database_url)
    assert shown.exit_code == 1, shown.output
    assert "users (User): DIFFERENT: 1 same, 0 only live, 0 only replayed, 1 different" in (
        shown.stdout
    )
    assert f"  different {ann.id} (last event {last})" in shown.stdout
    assert "    given_name: live 'Mallory' != replayed 'Ann'" in shown.stdout
    as_json = verify_cli(database_url, "--json")
    assert as_json.exit_code == 1, as_json.output
    report = json.loads(as_json.stdout)
    assert report["identical"] is False
    [users] = [t for t in report["tables"] if t["table"] == "users"]
    assert users["rows"] == [
        {
            "key": str(ann.id),
            "kind": "different",
            "columns": {"given_name": {"live": "Mallory", "replayed": "Ann"}},
            "last_event_id": last,
        }
    ]
    assert all(t["different"] == 0 for t in report["tables"] if t["table"] != "users")
    assert leftovers(accounts, private_tmp) == []


def test_raw_inserts_and_deletes_are_only_live_and_only_replayed(
    accounts: Engine, private_tmp: Path
) -> None:
    build_history(accounts)
    extra = uuid.uuid4()
    with accounts.begin() as connection:
        connection.execute(insert(Org.__table__).values(id=extra, name="Shadow", slug="shadow"))
        role = connection.execute(select(UserRole.id)).scalar_one()
        connection.execute(delete(UserRole.__table__).where(UserRole.id == role))
    result = verify(accounts)
    assert not result.identical
    tables = {t.table: t for t in result.tables}
    assert (tables["orgs"].only_live, tables["orgs"].same) == (1, 1)
    assert [(row.key, row.kind, row.last_event_id) for row in tables["orgs"].rows] == [
        (extra, "only_live", None)
    ]
    assert tables["user_roles"].only_replayed == 1
    assert [(row.key, row.kind) for row in tables["user_roles"].rows] == [(role, "only_replayed")]
    assert tables["user_roles"].rows[0].last_event_id == last_event_of(accounts, "UserRole", role)
    assert tables["users"].identical
    assert leftovers(accounts, private_tmp) == []


def test_a_partial_replay_is_reported_not_compared(
    accounts: Engine, database_url: str, private_tmp: Path
) -> None:
    build_history(accounts)
    result = verify(accounts, last_event_id=1)  # the org's creation
    assert (result.compared, result.identical, result.replay.applied) == (False, False, 1)
    assert result.rebuilt == {"orgs": 1, "user_roles": 0, "users": 0}
    shown = verify_cli(database_url, "--last-event-id", "1")
    assert shown.exit_code == 0, shown.output
    assert "partial replay: not compared with the live tables" in shown.stdout
    assert "  orgs: 1" in shown.stdout
    assert leftovers(accounts, private_tmp) == []


def test_verify_into_a_given_database_keeps_it(accounts: Engine, tmp_path: Path) -> None:
    build_history(accounts)
    target = create_engine(f"sqlite:///{tmp_path / 'into.db'}")
    try:
        assert verify(accounts, into=target).identical
        with target.connect() as connection:
            assert connection.scalar(select(func.count()).select_from(User.__table__)) == 2
    finally:
        target.dispose()


def test_an_interrupted_verify_leaves_nothing_behind(accounts: Engine, private_tmp: Path) -> None:
    build_history(accounts)

    def interrupt(done: int, _total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        verify(accounts, on_progress=interrupt)
    assert leftovers(accounts, private_tmp) == []


def test_errors_exit_2(accounts: Engine, database_url: str, tmp_path: Path) -> None:
    missing = verify_cli(database_url, "--config", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 2
    unreachable = verify_cli("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert unreachable.exit_code == 2
    assert unreachable.stderr.startswith("error: database: connection failed")
    assert CliRunner().invoke(main, ["replay", "--json", "--config", CONFIG]).exit_code == 2


def test_sigint_mid_run_exits_2_and_leaves_nothing_behind(
    accounts: Engine, database_url: str, tmp_path: Path
) -> None:
    """A real Ctrl-C: the CLI in a subprocess, signalled once its scratch database exists."""
    build_history(accounts)
    with Session(accounts) as session, session.begin():
        for i in range(300):
            orgs.create(session, name=f"Org {i}", actor=SystemActor("load"))
    folder = tmp_path / "tmp"
    folder.mkdir()
    command = [str(Path(sys.executable).parent / "eventspec"), "replay", "--verify"]
    command += ["--config", CONFIG, "--database-url", database_url]
    process = subprocess.Popen(
        command,
        env=os.environ | {"TMPDIR": str(folder)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    # Wait for a file of ours: Python's first use of TMPDIR probes it with a file of its own.
    while process.poll() is None and not [
        name for name in leftovers(accounts, folder, process.pid) if name.startswith("eventspec")
    ]:
        assert time.monotonic() < deadline, "the scratch database never appeared"
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2, stderr
    assert "interrupted" in stderr
    assert leftovers(accounts, folder, process.pid) == []


def test_verify_of_one_log_among_several_with_integer_keys(
    features: Engine, database_url: str, private_tmp: Path
) -> None:
    """The features project: two logs (verify_<log>), an encrypted log, integer keys."""
    from features.data.replay import verify_ledger

    from tests.test_audit_cli import history

    ann, _ = history(features)
    assert verify_ledger(features).identical
    with features.begin() as connection:
        connection.execute(text("UPDATE ledger_accounts SET balance = 1000 WHERE owner = 'ann'"))
    command = ["replay", "--verify", "--config", str(FEATURES / "eventspec.yaml")]
    command += ["--database-url", database_url, "--event-log", "Ledger", "--json"]
    shown = CliRunner().invoke(main, command)
    assert shown.exit_code == 1, shown.output
    [accounts] = [t for t in json.loads(shown.stdout)["tables"] if t["table"] == "ledger_accounts"]
    [row] = accounts["rows"]
    assert (row["key"], row["columns"]) == (ann.id, {"balance": {"live": 1000, "replayed": 57}})
    assert leftovers(features, private_tmp) == []


def test_no_createdb_privilege_names_the_way_out(postgres_database: str) -> None:
    """A role that may not create databases gets a clear error naming --into URL."""
    role = f"eventspec_nocreatedb_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_database, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE ROLE "{role}" LOGIN NOCREATEDB'))
        limited = create_engine(make_url(postgres_database).set(username=role))
        try:
            with (
                pytest.raises(ConfigurationError, match="--into URL"),
                _scratch.scratch_database(limited),
            ):
                pass  # pragma: no cover
        finally:
            limited.dispose()
        assert scratch_databases() == []
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def test_a_failing_replay_exits_2_in_one_line_and_leaves_nothing_behind(
    accounts: Engine, database_url: str, private_tmp: Path
) -> None:
    from tests.test_replay import insert_event

    build_history(accounts)
    with Session(accounts) as session, session.begin():
        event_id = insert_event(session, resource="Org", action="merge")  # no such action
    shown = verify_cli(database_url)
    assert shown.exit_code == 2, shown.output
    assert f"error: replay failed at event {event_id} (Org.merge v1" in shown.stderr
    assert "Traceback" not in shown.output
    assert leftovers(accounts, private_tmp) == []

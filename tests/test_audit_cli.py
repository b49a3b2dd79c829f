"""`eventspec events`: a record's history, filters, public fields and encrypted logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from eventspec import ir
from eventspec.cli import main
from eventspec.render import environment
from eventspec.render_models import render_models
from eventspec.textwidth import width
from features.actors import Service
from features.data.actions import account as accounts
from features.data.actions import member as members
from features.data.models import Account, Event, Ledger
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.conftest import FEATURES, LEDGER_KEY_2
from tests.test_models import origin

CONFIG = str(FEATURES / "eventspec.yaml")
LEDGER_PUBLIC = ["id", "occurred_at", "resource", "record_id", "action"]


def events(database_url: str, *args: str) -> Result:
    """``eventspec events`` on the features project; the Ledger log unless --event-log is given."""
    log = [] if "--event-log" in args else ["--event-log", "Ledger"]
    command = ["events", "--config", CONFIG, "--database-url", database_url, *log, *args]
    return CliRunner().invoke(main, command)


def json_lines(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def history(engine: Engine) -> tuple[Account, Account]:
    """Two accounts, their events interleaved: ann opens, deposits twice; bob opens, closes."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        ann = accounts.open(session, owner="ann", pin="s3cret-ann", metadata={"ip": "198.51.100.7"})
        accounts.deposit(session, ann, amount=50, metadata={"ip": "198.51.100.8"})
        bob = accounts.open(session, owner="bob", pin="9999")
        accounts.deposit(session, ann, amount=7)
        accounts.close(session, bob)
    return ann, bob


def test_a_record_history_matches_the_actions_in_order(features: Engine, database_url: str) -> None:
    ann, _ = history(features)
    lines = json_lines(
        events(
            database_url,
            *("--resource", "Account", "--record-id", str(ann.id)),
            *("--all", "--json", "--show-sensitive"),
        )
    )
    assert [line["action"] for line in lines] == ["open", "deposit", "deposit"]
    assert [line["data"] for line in lines] == [
        {"owner": "ann", "pin": "s3cret-ann"},
        {"amount": 50},
        {"amount": 7},
    ]
    assert [line["metadata"] for line in lines] == [
        {"ip": "198.51.100.7"},
        {"ip": "198.51.100.8"},
        {},
    ]
    assert [line["changed_attributes"].get("balance") for line in lines] == [0, 50, 57]
    assert {line["record_id"] for line in lines} == {ann.id}
    with Session(features) as session:
        stored = session.scalars(
            select(Ledger.id).where(Ledger.record_id == ann.id).order_by(Ledger.id)
        ).all()
    assert [line["id"] for line in lines] == [str(event_id) for event_id in stored]
    assert list(lines[0]) == [
        "id",
        "occurred_at",
        "resource",
        "record_id",
        "action",
        "action_type",
        "version",
        "metadata",
        "data",
        "changed_attributes",
    ]


def test_filters_narrow_the_log(features: Engine, database_url: str) -> None:
    ann, bob = history(features)
    every = json_lines(events(database_url, "--json"))
    assert [(e["record_id"], e["action"]) for e in every] == [
        (ann.id, "open"),
        (ann.id, "deposit"),
        (bob.id, "open"),
        (ann.id, "deposit"),
        (bob.id, "close"),
    ]
    deposits = json_lines(events(database_url, "--action", "deposit", "--json"))
    assert [e["id"] for e in deposits] == [every[1]["id"], every[3]["id"]]
    latest = json_lines(events(database_url, "--limit", "2", "--json"))
    assert latest == every[-2:]
    since = every[2]["occurred_at"]
    assert json_lines(events(database_url, "--since", since, "--json")) == every[2:]
    assert json_lines(events(database_url, "--until", since, "--json")) == every[:3]
    assert json_lines(events(database_url, "--since", "1h", "--json")) == every
    assert json_lines(events(database_url, "--until", "2000-01-01", "--json")) == []
    bob_only = events(database_url, "--record-id", str(bob.id), "--action", "close", "--json")
    assert json_lines(bob_only) == every[4:]
    assert json_lines(events(database_url, "--resource", "Member", "--json")) == []


def test_only_public_fields_unless_all(features: Engine, database_url: str) -> None:
    history(features)
    lines = json_lines(events(database_url, "--json"))
    assert all(list(line) == LEDGER_PUBLIC for line in lines)
    table = events(database_url)
    assert table.exit_code == 0, table.output
    header, rule, *rows, count = table.stdout.splitlines()
    assert header.split() == LEDGER_PUBLIC
    assert set(rule.replace(" ", "")) == {"-"}
    assert [row.split()[-1] for row in rows] == ["open", "deposit", "open", "deposit", "close"]
    assert count == "(5 events)"
    assert "s3cret-ann" not in table.stdout  # data is not a public field of the Ledger
    wide = events(database_url, "--all")
    assert wide.stdout.splitlines()[0].split()[-3:] == ["metadata", "data", "changed_attributes"]
    assert '{"owner": "ann", "pin": "[sensitive]"}' in wide.stdout
    assert "s3cret-ann" not in wide.stdout


def test_the_public_fields_of_the_generated_models() -> None:
    assert Ledger.PUBLIC_FIELDS == ("id", "record_id", "occurred_at", "resource", "action")
    assert (*ir.EVENT_FIELDS, "member_id", "service") == Event.PUBLIC_FIELDS
    event = Event(record_id=1, resource="Member", action="create", metadata_={"ip": "x"})
    public = event.to_public_dict()
    assert list(public) == list(Event.PUBLIC_FIELDS)
    assert public["metadata"] == {"ip": "x"} and public["resource"] == "Member"
    ledger = Ledger(record_id=7, resource="Account", action="open", data={"pin": "1234"})
    assert ledger.to_public_dict() == {
        "id": None,
        "record_id": 7,
        "occurred_at": None,
        "resource": "Account",
        "action": "open",
    }


def test_no_public_fields_renders_an_empty_public_dict(tmp_path: Path) -> None:
    log = ir.EventLog("Audit", "audits", origin("specs/audit.yaml"))
    project = ir.Project(
        package="empty.data",
        root=tmp_path,
        output=Path("src/empty/data"),
        specs=Path("specs"),
        migrations=Path("migrations"),
        origin=origin("eventspec.yaml"),
        event_logs=(log,),
    )
    source = render_models(project, environment())
    assert "    PUBLIC_FIELDS: ClassVar[tuple[str, ...]] = ()\n" in source
    assert "        return {}\n" in source


def test_the_long_history_of_a_table_is_clipped_unless_wide(
    features: Engine, database_url: str
) -> None:
    with Session(features) as session, session.begin():
        accounts.open(session, owner="x" * 80)
    clipped = events(database_url, "--all")
    assert "x" * 80 not in clipped.stdout and "…" in clipped.stdout
    assert "long cells clipped" in clipped.stdout
    assert "x" * 80 in events(database_url, "--all", "--wide").stdout


def test_actor_filter_and_control_characters(features: Engine, database_url: str) -> None:
    with Session(features, expire_on_commit=False) as session, session.begin():
        member = members.create(session, handle="zoë", actor=Service("cron\x1b[2J"))
        members.bump(session, member, by=2, actor=member)
        members.create(session, handle="max")
    log = ("--event-log", "Event")
    by_service = json_lines(events(database_url, *log, "--actor", "service=cron\x1b[2J", "--json"))
    assert [(e["action"], e["data"]) for e in by_service] == [("create", {"handle": "zoë"})]
    by_member = json_lines(
        events(database_url, *log, "--actor", f"member_id={member.id}", "--json")
    )
    assert [(e["action"], e["member_id"]) for e in by_member] == [("bump", str(member.id))]
    table = events(database_url, *log)
    header, _, *rows, _ = table.stdout.splitlines()
    # One `actor` column for every actor column; stored text cannot drive the terminal.
    assert header.split()[7:9] == ["actor", "metadata"]
    assert "service=cron\\x1b[2J" in rows[0] and "\x1b" not in table.stdout
    assert f"member_id={member.id}" in rows[1]
    assert "zoë" in rows[0]


def test_encrypted_fields_without_the_key(
    features: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    history(features)
    monkeypatch.delenv("FEATURES_LEDGER_KEYS")
    result = events(database_url, "--all", "--json")
    assert result.exit_code == 0
    assert "FEATURES_LEDGER_KEYS is not set" in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 5 and all("data" not in line and "version" in line for line in lines)


def test_a_wrong_key_is_a_clear_error(
    features: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    history(features)
    monkeypatch.setenv("FEATURES_LEDGER_KEYS", LEDGER_KEY_2)
    result = events(database_url, "--all")
    assert result.exit_code == 1
    assert "not in FEATURES_LEDGER_KEYS" in result.stderr
    assert result.stdout == ""
    monkeypatch.setenv("FEATURES_LEDGER_KEYS", "short")
    result = events(database_url, "--all")
    assert result.exit_code == 1 and "is not 32 bytes" in result.stderr
    assert events(database_url).exit_code == 0  # the public fields need no key


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--record-id", "abc"], "'abc' is not a record id of Ledger"),
        (["--actor", "user_id=1"], "Ledger records no actors"),
        (["--event-log", "Event", "--actor", "nobody=1"], "use member_id=VALUE, service=VALUE"),
        (["--event-log", "Event", "--actor", "member_id=7"], "not a uuid key"),
        (["--since", "yesterday"], "neither an ISO 8601 date"),
        (["--until", "99999999999d"], "neither an ISO 8601 date"),
        (["--limit", "0"], "--limit"),
        (["--event-log", "Nope"], "no event log named 'Nope'"),
    ],
)
def test_mistakes_are_usage_errors(
    features: Engine, database_url: str, args: list[str], message: str
) -> None:
    result = events(database_url, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert isinstance(result.exception, SystemExit)


def test_several_logs_need_a_choice(database_url: str) -> None:
    command = ["events", "--config", CONFIG, "--database-url", database_url]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2
    assert "several event logs (Event, Ledger): pass --event-log NAME" in result.stderr


def test_missing_tables_are_explained(database_url: str) -> None:
    result = events(database_url)  # an empty database: no migrations were run
    assert result.exit_code == 1
    assert "ledger_events" in result.stderr and "alembic upgrade head" in result.stderr
    assert isinstance(result.exception, SystemExit)


def test_notes_for_filters_that_match_nothing(features: Engine, database_url: str) -> None:
    history(features)
    result = events(database_url, "--resource", "Acount")
    assert result.exit_code == 0
    assert result.stdout == "no events match\n"
    assert "no resource named Acount writes to Ledger (Account)" in result.stderr
    result = events(database_url, "--resource", "Account", "--action", "withdraw")
    assert "Account has no action named withdraw" in result.stderr


def test_sensitive_values_are_hidden_unless_asked_for(features: Engine, database_url: str) -> None:
    ann, _ = history(features)
    with Session(features) as session, session.begin():  # as if a change had set the pin
        session.add(
            Ledger(
                record_id=ann.id,
                resource="Account",
                action="reset_pin",  # no longer declared: every action's arguments count
                action_type="update",
                changed_attributes={"pin": "changed-pin", "balance": 1},
            )
        )
    for args in (["--all", "--json"], ["--all", "--wide"], ["--all", "--json", "--record-id", "1"]):
        shown = events(database_url, *args)
        assert shown.exit_code == 0, shown.output
        for secret in ("s3cret-ann", "9999", "changed-pin"):
            assert secret not in shown.stdout
    hidden = events(database_url, "--all", "--json")
    assert "note: values of sensitive fields (pin) are shown as [sensitive]" in hidden.stderr
    assert "--show-sensitive" in hidden.stderr
    opened = json_lines(hidden)[0]
    assert opened["data"] == {"owner": "ann", "pin": "[sensitive]"}
    # Only data and changed_attributes are asked for: resource and action are read all the same.
    public = events(database_url, "--json")
    assert "note: values" not in public.stderr  # nothing sensitive is among the public fields
    shown = events(database_url, "--all", "--json", "--show-sensitive")
    assert json_lines(shown)[0]["data"] == {"owner": "ann", "pin": "s3cret-ann"}
    assert "changed-pin" in shown.stdout and "note: values" not in shown.stderr


def terminal_columns(line: str) -> list[str]:
    """``line`` as a terminal lays it out: one entry per column, a wide character's second half
    an empty string."""
    out: list[str] = []
    for char in line:
        out += [char, ""][: width(char)]
    return out


def test_wide_characters_keep_the_table_aligned(features: Engine, database_url: str) -> None:
    with Session(features) as session, session.begin():
        accounts.open(session, owner="山田太郎")  # CJK: two terminal columns a character
        accounts.open(session, owner="ann 👍")
        accounts.open(session, owner="zoe\u0301")  # a combining accent: no column of its own
    header, rule, *rows, _ = events(database_url, "--all").stdout.splitlines()
    starts = [i for i, char in enumerate(rule) if char == "-" and (i == 0 or rule[i - 1] == " ")]
    assert len(starts) >= 8 and len(rows) == 3
    for line in (header, *rows):  # every cell starts where its column does, after two spaces
        shown = terminal_columns(line)
        assert all(shown[start - 2 : start] == [" ", " "] for start in starts[1:]), line
        assert len(shown) <= len(rule)
    assert "山田太郎" in rows[0] and "ann 👍" in rows[1] and "zoe\u0301" in rows[2]
    with Session(features) as session, session.begin():
        accounts.open(session, owner="長" * 40)  # 80 columns: clipped, though only 40 characters
    *_, last, notes = events(database_url, "--all").stdout.splitlines()
    assert "長" * 40 not in last and "長…" in last and "long cells clipped" in notes
    clipped = last[last.index('{"owner"') : last.index("…") + 1]
    assert 46 <= width(clipped) <= 48  # eventspec.audit.CLIP columns; a wide character not halved
    assert "長" * 40 in events(database_url, "--all", "--wide").stdout

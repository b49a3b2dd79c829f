"""`eventspec rotate-keys`: every event re-encrypted with the new key, in resumable batches."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from click.testing import CliRunner, Result
from eventspec.cli import main
from features.data._support import Keyring
from features.data.actions import account as accounts
from features.data.models import Account, Ledger
from features.data.replay import replay_ledger
from sqlalchemy import Engine, LargeBinary, select, type_coerce, update
from sqlalchemy.orm import Session

from tests.conftest import FEATURES, LEDGER_KEY, LEDGER_KEY_2

KEY_ENV = "FEATURES_LEDGER_KEYS"
CONFIG = str(FEATURES / "eventspec.yaml")
TABLE = Ledger.__table__
MAPS = ("data", "metadata", "changed_attributes")


def rotate(database_url: str, *args: str) -> Result:
    command = ["rotate-keys", "--config", CONFIG, "--database-url", database_url, *args]
    return CliRunner().invoke(main, command)


def write_events(engine: Engine, accounts_count: int = 3) -> list[dict[str, Any]]:
    """Two events per account (open, deposit); returns every event's maps, in id order."""
    with Session(engine) as session, session.begin():
        for number in range(accounts_count):
            account = accounts.open(session, owner=f"owner-{number}", pin=f"pin-{number}")
            accounts.deposit(session, account, amount=number + 1, metadata={"n": number})
    return readable(engine)


def readable(engine: Engine) -> list[dict[str, Any]]:
    with Session(engine) as session:
        return [
            {"data": e.data, "metadata": e.metadata_, "changed": e.changed_attributes}
            for e in session.scalars(select(Ledger).order_by(Ledger.id))
        ]


def raw(engine: Engine) -> list[tuple[Any, ...]]:
    columns = [type_coerce(TABLE.c[name], LargeBinary()) for name in MAPS]
    with engine.connect() as connection:
        rows = connection.execute(select(TABLE.c.id, *columns).order_by(TABLE.c.id))
        return [(row[0], *(bytes(blob) for blob in row[1:])) for row in rows]


def current(engine: Engine, key: str, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Per event: are all three maps encrypted with ``key``?"""
    monkeypatch.setenv("ROTATE_TEST_KEY", key)
    keyring = Keyring("ROTATE_TEST_KEY")
    return [all(keyring.is_current(blob) for blob in row[1:]) for row in raw(engine)]


def test_two_keys_then_the_new_key_alone_reads_everything(
    features: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = write_events(features, 4)  # 8 events
    old_blobs = raw(features)
    monkeypatch.setenv(KEY_ENV, f"{LEDGER_KEY_2},{LEDGER_KEY}")
    result = rotate(database_url, "--yes", "--batch-size", "3")
    assert result.exit_code == 0, result.output
    new_id = Keyring(KEY_ENV).current_key_id
    assert result.stdout.splitlines() == [
        f"Ledger: re-encrypted 8 events, 0 already under key {new_id}, in 3 batches of up to 3",
        "every event now decrypts with the first key alone: the other key can be removed from "
        "FEATURES_LEDGER_KEYS",
    ]
    assert "re-encrypting" in result.stderr  # the progress bar
    new_blobs = raw(features)
    assert [row[0] for row in new_blobs] == [row[0] for row in old_blobs]
    for new, old in zip(new_blobs, old_blobs, strict=True):
        assert all(a != b for a, b in zip(new[1:], old[1:], strict=True))
    monkeypatch.setenv(KEY_ENV, LEDGER_KEY_2)
    assert readable(features) == before
    with Session(features, expire_on_commit=False) as session, session.begin():
        replay_ledger(session)
        assert sorted(a.pin for a in session.scalars(select(Account))) == [
            "pin-0",
            "pin-1",
            "pin-2",
            "pin-3",
        ]
    monkeypatch.setenv(KEY_ENV, LEDGER_KEY)
    with Session(features) as session, pytest.raises(Exception, match="not in FEATURES"):
        session.scalars(select(Ledger)).all()


def test_an_interrupted_rotation_is_finished_by_running_it_again(
    features: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = write_events(features, 3)  # 6 events
    blobs = raw(features)
    # Event 4 holds a value under a key nobody has any more: the run stops there.
    monkeypatch.setenv("LOST_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode())
    lost = Keyring("LOST_KEY").encrypt(b"{}")
    set_raw(features, blobs[3][0], "metadata", lost)
    monkeypatch.setenv(KEY_ENV, f"{LEDGER_KEY_2},{LEDGER_KEY}")
    result = rotate(database_url, "--yes", "--batch-size", "2")
    assert result.exit_code == 1
    assert f"event {blobs[3][0]}, metadata: an event value was encrypted with key" in result.stderr
    assert "run again" in result.stderr
    # The first batch is committed; the failing batch (events 3 and 4) was rolled back whole.
    assert current(features, LEDGER_KEY_2, monkeypatch) == [True, True] + [False] * 4
    set_raw(features, blobs[3][0], "metadata", blobs[3][2])  # the key "is found again"
    result = rotate(database_url, "--yes", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "re-encrypted 4 events, 2 already under key" in result.stdout
    assert current(features, LEDGER_KEY_2, monkeypatch) == [True] * 6
    monkeypatch.setenv(KEY_ENV, LEDGER_KEY_2)
    assert readable(features) == before


def set_raw(engine: Engine, event_id: Any, column: str, blob: bytes) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(TABLE)
            .where(TABLE.c.id == event_id)
            .values({TABLE.c[column]: type_coerce(blob, LargeBinary())})
        )


def test_dry_run_counts_and_changes_nothing(
    features: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_events(features, 2)
    blobs = raw(features)
    monkeypatch.setenv(KEY_ENV, f"{LEDGER_KEY_2},{LEDGER_KEY}")
    result = rotate(database_url, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Ledger: would re-encrypt 4 events, 0 already under key" in result.stdout
    assert raw(features) == blobs


def test_nothing_to_do_when_every_event_is_current(features: Engine, database_url: str) -> None:
    write_events(features, 1)
    result = rotate(database_url, "--yes")
    assert result.exit_code == 0, result.output
    assert "re-encrypted 0 events, 2 already under key" in result.stdout
    assert "can be removed" not in result.stdout  # there is only one key


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        ([], f"{LEDGER_KEY_2},{LEDGER_KEY}", 2, "pass --yes to confirm"),
        (["--yes"], None, 1, "FEATURES_LEDGER_KEYS is not set"),
        (["--yes"], "abc", 1, "key 1 of 1 in FEATURES_LEDGER_KEYS is not 32 bytes"),
        (["--yes", "--event-log", "Event"], LEDGER_KEY, 2, "Event is not encrypted"),
        (["--yes", "--batch-size", "0"], LEDGER_KEY, 2, "--batch-size"),
    ],
)
def test_mistakes_change_nothing(
    features: Engine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: str | None,
    code: int,
    message: str,
) -> None:
    write_events(features, 1)
    blobs = raw(features)
    if env is None:
        monkeypatch.delenv(KEY_ENV)
    else:
        monkeypatch.setenv(KEY_ENV, env)
    result = rotate(database_url, *args)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert isinstance(result.exception, SystemExit)
    assert raw(features) == blobs

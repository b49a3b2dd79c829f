"""Encrypted event logs: nothing readable at rest, everything readable through the model."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from features.data._support import EncryptedJSON, Keyring
from features.data.actions import account as accounts
from features.data.errors import ConfigurationError
from features.data.models import Account, Ledger
from features.data.replay import replay_ledger
from sqlalchemy import Engine, LargeBinary, func, select, text, type_coerce, update
from sqlalchemy.orm import Session

from tests.conftest import LEDGER_KEY, LEDGER_KEY_2

KEY_ENV = "FEATURES_LEDGER_KEYS"
SECRETS = ("Quentin", "8642-secret", "203.0.113.77", "teller-window", "123457", "9000001")
NAMES = ("owner", "pin", "amount", "balance", "opened_at", "ip", "source")


def session_of(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)


def perform(engine: Engine) -> Account:
    """An account opened with a sensitive pin, then two deposits, one with metadata."""
    with session_of(engine) as session, session.begin():
        account = accounts.open(session, owner="Quentin", pin="8642-secret")
        accounts.deposit(
            session,
            account,
            amount=123457,
            metadata={"ip": "203.0.113.77", "source": "teller-window"},
        )
        accounts.deposit(session, account, amount=9000001 - 123457)
    return account


def raw_rows(engine: Engine) -> list[tuple[bytes, bytes, bytes]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT data, metadata, changed_attributes FROM ledger_events ORDER BY id")
        )
        return [tuple(bytes(value) for value in row) for row in rows]  # type: ignore[misc]


def test_raw_rows_hold_no_plaintext(features: Engine) -> None:
    perform(features)
    rows = raw_rows(features)
    assert len(rows) == 3
    for row in rows:
        for blob in row:
            assert blob[:1] == b"\x01"  # eventspec's format, version 1
            # Keys as plaintext JSON holds them, quoted: a bare two-letter name like "ip" turns
            # up in random ciphertext about once in a few hundred runs.
            for secret in (*SECRETS, *(f'"{name}"' for name in NAMES)):
                assert secret.encode() not in blob
    # The same empty map encrypts differently every time: no value can be told by its bytes.
    empty_metadata = [row[1] for row in rows if row is not rows[1]]
    assert len(set(empty_metadata)) == 2


def test_the_model_reads_every_map_back_decrypted(features: Engine) -> None:
    account = perform(features)
    with session_of(features) as session:
        events = session.scalars(select(Ledger).order_by(Ledger.id)).all()
    assert [e.action for e in events] == ["open", "deposit", "deposit"]
    # With encryption the sensitive pin is kept (encrypted), not nulled.
    assert events[0].data == {"owner": "Quentin", "pin": "8642-secret"}
    assert events[0].changed_attributes == {
        "id": account.id,
        "balance": 0,
        "opened_at": account.opened_at.isoformat(),
    }
    assert events[1].metadata_ == {"ip": "203.0.113.77", "source": "teller-window"}
    assert events[1].data == {"amount": 123457}
    assert events[2].changed_attributes == {"balance": 9000001}


def test_replay_restores_the_sensitive_input(features: Engine) -> None:
    account = perform(features)
    with session_of(features) as session, session.begin():
        result = replay_ledger(session)
    assert result.applied == 3
    with session_of(features) as session:
        rebuilt = session.get(Account, account.id)
        assert rebuilt is not None
        assert (rebuilt.owner, rebuilt.pin, rebuilt.balance) == ("Quentin", "8642-secret", 9000001)
        assert session.scalar(select(func.count()).select_from(Ledger)) == 3


def test_missing_key_fails_before_anything_is_written(
    features: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    with session_of(features) as session, session.begin():
        with pytest.raises(ConfigurationError, match=f"{KEY_ENV} is not set") as caught:
            accounts.open(session, owner="Quentin", pin="8642-secret")
        assert "8642-secret" not in str(caught.value)
        assert session.scalar(select(func.count()).select_from(Account)) == 0
        assert session.scalar(select(func.count()).select_from(Ledger)) == 0


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("not a key", "key 1 of 1"),
        (base64.urlsafe_b64encode(bytes(range(16))).decode(), "key 1 of 1 .* not 32 bytes"),
        (f"{LEDGER_KEY},{LEDGER_KEY[:-8]}", "key 2 of 2"),
        (f"{LEDGER_KEY[:10]}*{LEDGER_KEY[11:]}", "key 1 of 1"),
    ],
)
def test_malformed_keys_are_a_configuration_error(
    features: Engine, monkeypatch: pytest.MonkeyPatch, keys: str, message: str
) -> None:
    monkeypatch.setenv(KEY_ENV, keys)
    with session_of(features) as session, session.begin():
        with pytest.raises(ConfigurationError, match=message) as caught:
            accounts.open(session, owner="Quentin", pin="8642-secret")
        assert keys not in str(caught.value)  # never echo key material
        assert session.scalar(select(func.count()).select_from(Ledger)) == 0


def test_a_wrong_key_fails_loudly(features: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    account = perform(features)
    monkeypatch.setenv(KEY_ENV, LEDGER_KEY_2)
    wrong_key = pytest.raises(ConfigurationError, match=f"not in {KEY_ENV}")
    with session_of(features) as session, wrong_key:
        session.scalars(select(Ledger)).all()
    with session_of(features) as session, session.begin(), wrong_key:
        replay_ledger(session)
    with session_of(features) as session:  # the failed replay changed nothing
        assert session.get(Account, account.id) is not None


def test_an_altered_value_fails_authentication(features: Engine) -> None:
    perform(features)
    table = Ledger.__table__
    with features.begin() as connection:
        event_id, blob = connection.execute(
            select(table.c.id, type_coerce(table.c.data, LargeBinary())).order_by(table.c.id)
        ).first()  # type: ignore[misc]
        flipped = bytes(blob[:-1]) + bytes([blob[-1] ^ 1])
        connection.execute(
            update(table)
            .where(table.c.id == event_id)
            .values({table.c.data: type_coerce(flipped, LargeBinary())})
        )
    with session_of(features) as session, pytest.raises(ConfigurationError, match="altered"):
        session.scalars(select(Ledger)).all()


def test_none_is_stored_as_an_encrypted_json_null(features: Engine) -> None:
    with session_of(features) as session, session.begin():
        session.add(
            Ledger(
                record_id=1, resource="Account", action="open", action_type="create", metadata_=None
            )
        )
    with session_of(features) as session:
        event = session.scalars(select(Ledger)).one()
        assert (event.metadata_, event.data) == (None, {})
    ((_, metadata, _),) = raw_rows(features)
    assert metadata[:1] == b"\x01"


def test_keyring_rotation_primitives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROTATION_TEST_KEYS", LEDGER_KEY)
    keyring = Keyring("ROTATION_TEST_KEYS")
    old = keyring.encrypt(b'{"a":1}')
    assert keyring.is_current(old) and keyring.reencrypt(old) is None
    monkeypatch.setenv("ROTATION_TEST_KEYS", f"{LEDGER_KEY_2},{LEDGER_KEY}")
    assert not keyring.is_current(old)
    assert keyring.decrypt(old) == b'{"a":1}'  # every key decrypts
    new = keyring.reencrypt(old)
    assert new is not None and keyring.is_current(new)
    assert keyring.encrypt(b"x")[1:5] == new[1:5]  # the first key encrypts
    monkeypatch.setenv("ROTATION_TEST_KEYS", LEDGER_KEY_2)
    assert keyring.decrypt(new) == b'{"a":1}'
    needed, held = old[1:5].hex(), keyring.current_key_id
    with pytest.raises(ConfigurationError, match=f"key {needed}, which is not in .*{held}"):
        keyring.decrypt(old)
    with pytest.raises(ConfigurationError, match="encrypted format"):
        keyring.decrypt(b'{"a":1}')  # plaintext JSON written before encryption was turned on


def test_encrypted_json_type_round_trips_any_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROTATION_TEST_KEYS", LEDGER_KEY)
    column = EncryptedJSON("ROTATION_TEST_KEYS")
    dialect: Any = None
    for value in ({"nested": {"list": [1, "two", None]}}, [], None, "zoë"):
        blob = column.process_bind_param(value, dialect)
        assert column.process_result_value(blob, dialect) == value
    assert column.process_result_value(None, dialect) is None


def test_the_envelope_header_is_authenticated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Version and key id are AES-GCM associated data: a changed header never decrypts."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    monkeypatch.setenv("ROTATION_TEST_KEYS", f"{LEDGER_KEY},{LEDGER_KEY_2}")
    keyring = Keyring("ROTATION_TEST_KEYS")
    blob = keyring.encrypt(b'{"pin":"1234"}')
    header, nonce, token = blob[:5], blob[5:17], blob[17:]
    cipher = AESGCM(base64.urlsafe_b64decode(LEDGER_KEY))
    assert cipher.decrypt(nonce, token, header) == b'{"pin":"1234"}'
    for tampered in (None, b"", bytes([2]) + header[1:], header[:1] + bytes(4)):
        with pytest.raises(InvalidTag):
            cipher.decrypt(nonce, token, tampered)
    # Through the keyring, each tampering is a clear error, never a wrong plaintext.
    other_key = keyring.keys()[1].id
    with pytest.raises(ConfigurationError, match="altered after it was written"):
        keyring.decrypt(header[:1] + other_key + blob[5:])
    with pytest.raises(ConfigurationError, match="encrypted format version 2, which this"):
        keyring.decrypt(bytes([2]) + blob[1:])
    with pytest.raises(ConfigurationError, match="which is not in ROTATION_TEST_KEYS"):
        keyring.decrypt(header[:1] + bytes(4) + blob[5:])
    assert keyring.decrypt(blob) == b'{"pin":"1234"}'


def test_a_tampered_header_in_the_database_fails_to_read(features: Engine) -> None:
    perform(features)
    table = Ledger.__table__
    with features.begin() as connection:
        event_id, blob = connection.execute(
            select(table.c.id, type_coerce(table.c.data, LargeBinary())).order_by(table.c.id)
        ).first()  # type: ignore[misc]
        flipped = bytes(blob[:1]) + bytes([blob[1] ^ 1]) + bytes(blob[2:])  # the key id
        connection.execute(
            update(table)
            .where(table.c.id == event_id)
            .values({table.c.data: type_coerce(flipped, LargeBinary())})
        )
    with session_of(features) as session, pytest.raises(ConfigurationError, match="is not in"):
        session.scalars(select(Ledger)).all()

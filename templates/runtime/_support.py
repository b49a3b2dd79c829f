"""Column types and value helpers shared by the generated models and the action engine."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import hashlib
import json
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import JSON, LargeBinary, Table
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator, TypeEngine

from .errors import ConfigurationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

JSONMap: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC, with microseconds."""
    return dt.datetime.now(dt.UTC)


_uuidv7_lock = threading.Lock()
_uuidv7_last = 0


def utcnow_seconds() -> dt.datetime:
    """``now`` for second-precision timestamps, so stored and recorded values are equal."""
    return utcnow().replace(microsecond=0)


def uuidv7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): 48-bit milliseconds, then 74 random bits.

    Monotonic within the process (RFC 9562 §6.2, method 2): an id made in the same millisecond as
    the previous one is that one plus one, so event ids sort in the order they were made.
    """
    global _uuidv7_last
    millis = time.time_ns() // 1_000_000 & ((1 << 48) - 1)
    with _uuidv7_lock:
        payload = max(millis << 74 | secrets.randbits(74), _uuidv7_last + 1)
        _uuidv7_last = payload
    rand_a, rand_b = payload >> 62 & 0xFFF, payload & ((1 << 62) - 1)
    return uuid.UUID(int=(payload >> 74) << 80 | 0x7 << 76 | rand_a << 64 | 0x2 << 62 | rand_b)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A UTC timestamp that reads back timezone-aware on SQLite and PostgreSQL alike.

    ``precision="second"`` truncates microseconds (the spec's ``utc_datetime``).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def __init__(self, precision: Literal["usec", "second"] = "usec") -> None:
        super().__init__()
        self.precision = precision

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column; attach a timezone")
        value = value.astimezone(dt.UTC)
        if self.precision == "second":
            value = value.replace(microsecond=0)
        # SQLite stores text; keep it naive there so values sort and compare lexically.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def to_json(value: Any) -> Any:
    """Encode a Python value as JSON-native data, the way events store inputs and attributes."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    # The type only: the value may be a secret, and messages end up in logs.
    raise TypeError(f"cannot store a {type(value).__name__} in an event")


def json_decoder(kind: str) -> Callable[[Any], Any] | None:
    """The function decoding a non-null JSON value of type ``kind``; ``None`` when it is as is."""
    return _DECODERS.get(kind)


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def _utc_datetime(value: Any) -> dt.datetime:
    parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _naive_datetime(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _time(value: Any) -> dt.time:
    return value if isinstance(value, dt.time) else dt.time.fromisoformat(value)


def _decimal(value: Any) -> decimal.Decimal:
    return decimal.Decimal(str(value))


def _binary(value: Any) -> bytes:
    return value if isinstance(value, bytes) else base64.b64decode(value)


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "uuid": _uuid,
    "uuidv7": _uuid,
    "utc_datetime": _utc_datetime,
    "utc_datetime_usec": _utc_datetime,
    "naive_datetime": _naive_datetime,
    "date": _date,
    "time": _time,
    "decimal": _decimal,
    "binary": _binary,
}


# --- encryption -------------------------------------------------------------------------------
#
# A stored value is  VERSION (1 byte) | KEY ID (4) | NONCE (12) | AES-256-GCM CIPHERTEXT + TAG (16).
# The first five bytes are authenticated as associated data. The key id (the first bytes of the
# key's SHA-256) picks the key without trial decryption, tells rotation which values are current,
# and names the missing key in errors; it reveals nothing about the key itself.

FORMAT_VERSION = 1
_HEADER = 5
_NONCE = 12
_TAG = 16
_KEY_HELP = (
    "comma-separated, the first one encrypting, each 32 random bytes in urlsafe base64; make one "
    'with: python -c "import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())"'
)


@dataclass(frozen=True, slots=True)
class _Key:
    id: bytes
    cipher: AESGCM


class Keyring:
    """Event encryption keys from an environment variable, read when first needed.

    The variable holds comma-separated base64url 32-byte keys. The first key encrypts; a value is
    decrypted with the key it was written with, which may be any of them, so keys can be rotated:
    put the new key first, run ``eventspec rotate-keys``, then drop the old one.
    """

    def __init__(self, key_env: str) -> None:
        self.key_env = key_env
        self._loaded: tuple[str, tuple[_Key, ...]] | None = None

    def keys(self) -> tuple[_Key, ...]:
        """The parsed keys, first the current one; ConfigurationError when unset or malformed."""
        raw = os.environ.get(self.key_env, "")
        if self._loaded is not None and self._loaded[0] == raw:
            return self._loaded[1]
        try:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ConfigurationError(
                "event encryption needs the 'cryptography' package: pip install cryptography"
            ) from exc
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        if not parts:
            raise ConfigurationError(
                f"environment variable {self.key_env} is not set; it must hold the event "
                f"encryption keys: {_KEY_HELP}"
            )
        keys = []
        for position, part in enumerate(parts, 1):
            try:
                material = base64.b64decode(part + "=" * (-len(part) % 4), b"-_", validate=True)
            except ValueError:
                material = b""
            if len(material) != 32:
                raise ConfigurationError(
                    f"key {position} of {len(parts)} in {self.key_env} is not 32 bytes of base64 "
                    f"({_KEY_HELP})"
                )
            keys.append(_Key(hashlib.sha256(material).digest()[:4], AESGCM(material)))
        loaded = tuple(keys)
        self._loaded = (raw, loaded)
        return loaded

    @property
    def current_key_id(self) -> str:
        """The id of the key that encrypts, in hex (it appears in error messages)."""
        return self.keys()[0].id.hex()

    def encrypt(self, plaintext: bytes) -> bytes:
        key = self.keys()[0]
        header = bytes([FORMAT_VERSION]) + key.id
        nonce = secrets.token_bytes(_NONCE)
        return header + nonce + key.cipher.encrypt(nonce, plaintext, header)

    def decrypt(self, blob: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag

        header, nonce, token = self._split(blob)
        keys = self.keys()
        candidates = [key for key in keys if key.id == header[1:]]
        if not candidates:
            known = ", ".join(key.id.hex() for key in keys)
            raise ConfigurationError(
                f"an event value was encrypted with key {header[1:].hex()}, which is not in "
                f"{self.key_env} (it holds {known}): the key is wrong or was removed too early"
            )
        for key in candidates:
            try:
                return key.cipher.decrypt(nonce, token, header)
            except InvalidTag:
                continue
        raise ConfigurationError(
            f"an event value does not authenticate with key {header[1:].hex()} of "
            f"{self.key_env}: it was altered after it was written"
        )

    def is_current(self, blob: bytes) -> bool:
        """True when ``blob`` is encrypted with the first (current) key."""
        return self._split(blob)[0][1:] == self.keys()[0].id

    def reencrypt(self, blob: bytes) -> bytes | None:
        """``blob`` encrypted with the current key instead; None when it already is."""
        return None if self.is_current(blob) else self.encrypt(self.decrypt(blob))

    def _split(self, blob: bytes) -> tuple[bytes, bytes, bytes]:
        long_enough = len(blob) >= _HEADER + _NONCE + _TAG
        if long_enough and blob[0] != FORMAT_VERSION and blob[0] < 0x20:  # not JSON text either
            raise ConfigurationError(
                f"a value in a column encrypted with {self.key_env} says it is in encrypted "
                f"format version {blob[0]}, which this package does not read (it reads version "
                f"{FORMAT_VERSION}): it was written by another eventspec, or altered"
            )
        if not long_enough or blob[0] != FORMAT_VERSION:
            raise ConfigurationError(
                f"a value in a column encrypted with {self.key_env} is not in eventspec's "
                f"encrypted format (version {FORMAT_VERSION}); was it written before encryption "
                "was turned on?"
            )
        return blob[:_HEADER], blob[_HEADER : _HEADER + _NONCE], blob[_HEADER + _NONCE :]


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON value stored encrypted (AES-256-GCM) and read back decrypted.

    Python ``None`` is stored as an encrypted JSON ``null``, as the plain JSON type does.
    """

    impl = LargeBinary
    cache_ok = True
    should_evaluate_none = True

    def __init__(self, key_env: str) -> None:
        super().__init__()
        self.key_env = key_env
        self.keyring = Keyring(key_env)

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes:
        plaintext = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
        return self.keyring.encrypt(plaintext)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(self.keyring.decrypt(bytes(value)))


def check_keys(table: Table) -> None:
    """Raise ConfigurationError unless every encrypted column of ``table`` has usable keys.

    Actions call it before they write anything, so a missing key is reported as itself rather
    than from inside a failed INSERT (whose message would echo the plaintext parameters).
    """
    for column in table.columns:
        if isinstance(column.type, EncryptedJSON):
            column.type.keyring.keys()

"""Column types and value helpers shared by the generated models and the action engine."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import json
import os
import secrets
import time
import uuid
from typing import Any, Literal

from sqlalchemy import JSON, LargeBinary
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator, TypeEngine

from .errors import ConfigurationError

JSONMap: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC, with microseconds."""
    return dt.datetime.now(dt.UTC)


def uuidv7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): 48-bit milliseconds, then 74 random bits."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80 | secrets.randbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)


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
            raise ValueError(f"naive datetime {value!r} given for a UTC column; attach a timezone")
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
    raise TypeError(f"cannot store a {type(value).__name__} in an event: {value!r}")


def from_json(kind: str, value: Any) -> Any:
    """Decode a JSON-native value back to the Python type of an attribute of type ``kind``."""
    if value is None:
        return None
    if kind in ("uuid", "uuidv7"):
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    if kind in ("utc_datetime", "utc_datetime_usec"):
        parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    if kind == "naive_datetime":
        return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    if kind == "date":
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)
    if kind == "time":
        return value if isinstance(value, dt.time) else dt.time.fromisoformat(value)
    if kind == "decimal":
        return decimal.Decimal(str(value))
    if kind == "binary":
        return value if isinstance(value, bytes) else base64.b64decode(value)
    return value


# --- encryption -------------------------------------------------------------------------------


class Keyring:
    """Keys from an environment variable: comma-separated, base64url 32-byte keys.

    The first key encrypts; every key is tried to decrypt, so keys can be rotated.
    """

    def __init__(self, key_env: str) -> None:
        self.key_env = key_env
        self._loaded: tuple[str, list[Any]] | None = None

    def ciphers(self) -> list[Any]:
        raw = os.environ.get(self.key_env, "")
        if self._loaded is not None and self._loaded[0] == raw:
            return self._loaded[1]
        try:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ConfigurationError(
                "event encryption needs the 'cryptography' package: pip install cryptography"
            ) from exc
        keys = [part.strip() for part in raw.split(",") if part.strip()]
        if not keys:
            raise ConfigurationError(
                f"environment variable {self.key_env} is not set: it must hold the event "
                "encryption key(s), comma-separated, each 32 bytes in urlsafe base64"
            )
        ciphers = []
        for position, key in enumerate(keys, 1):
            try:
                material = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
            except ValueError as exc:
                raise ConfigurationError(
                    f"key {position} in {self.key_env} is not valid base64"
                ) from exc
            if len(material) != 32:
                raise ConfigurationError(
                    f"key {position} in {self.key_env} is {len(material)} bytes; 32 are needed"
                )
            ciphers.append(AESGCM(material))
        self._loaded = (raw, ciphers)
        return ciphers

    def encrypt(self, plaintext: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        token: bytes = self.ciphers()[0].encrypt(nonce, plaintext, None)
        return b"\x01" + nonce + token

    def decrypt(self, blob: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag

        if not blob or blob[:1] != b"\x01":
            raise ConfigurationError("event payload is not in eventspec's encrypted format")
        nonce, token = blob[1:13], blob[13:]
        for cipher in self.ciphers():
            try:
                plaintext: bytes = cipher.decrypt(nonce, token, None)
                return plaintext
            except InvalidTag:
                continue
        raise ConfigurationError(
            f"no key in {self.key_env} decrypts this event: the key is wrong or was rotated out"
        )

    def is_current(self, blob: bytes) -> bool:
        """True when ``blob`` was encrypted with the first (current) key."""
        from cryptography.exceptions import InvalidTag

        try:
            self.ciphers()[0].decrypt(blob[1:13], blob[13:], None)
        except InvalidTag:
            return False
        return True


class EncryptedJSON(TypeDecorator[dict[str, Any]]):
    """A JSON map stored encrypted (AES-256-GCM) and read back decrypted."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, key_env: str) -> None:
        super().__init__()
        self.key_env = key_env
        self.keyring = Keyring(key_env)

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        plaintext = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
        return self.keyring.encrypt(plaintext)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> dict[str, Any] | None:
        if value is None:
            return None
        decoded: dict[str, Any] = json.loads(self.keyring.decrypt(bytes(value)))
        return decoded

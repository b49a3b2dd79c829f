"""PostgreSQL advisory locks: taken before each event insert so event ids follow commit order."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, NestedTransaction, Transaction, text
from sqlalchemy.orm import Session

from .errors import ConfigurationError

if TYPE_CHECKING:
    from ._engine import ActionDef, EventLogDef, ResourceDef
    from .changeset import Changeset

LockKey = int | tuple[int, int]
# A lock statement (SQLAlchemy ``text()`` style), its parameters and the keys it takes.
Wanted = tuple[str, dict[str, int], tuple[tuple[int, ...], ...]]
INT32 = range(-(2**31), 2**31)
# The visibility horizon: every event writer holds this advisory lock *shared* until it commits,
# taken in the same statement as its key lock, before any event id is allocated. A log reader
# (``_follow.py``) takes it exclusively for an instant: once it has, every id allocated before
# is committed or rolled back. One bigint key, outside int32, so no spec's lock key (int32, or a
# pair of int32, which PostgreSQL keeps in another key space) can be the same lock.
HORIZON_KEY = 0x6576_7370_6563_4852  # b"evspecHR"
_HORIZON = (HORIZON_KEY,)
_LOCKS = "eventspec.locks"  # session.info: advisory keys held, per Core transaction


def _held(session: Session, connection: Connection) -> dict[Transaction, set[tuple[int, ...]]]:
    """Advisory keys taken, per Core (nested) transaction of the connection's transaction."""
    root = connection.get_transaction()
    memo = session.info.get(_LOCKS)
    if memo is None or memo[0] is not root:
        memo = (root, {})
        session.info[_LOCKS] = memo
    keys: dict[Transaction, set[tuple[int, ...]]] = memo[1]
    return keys


def _is_held(session: Session, connection: Connection, key: tuple[int, ...]) -> bool:
    """True when ``key`` was taken in a transaction or SAVEPOINT that is still open.

    The memo follows the connection's own transaction objects, so every kind of savepoint
    counts, the caller's Core ``begin_nested()`` too: PostgreSQL releases a lock taken inside a
    savepoint that rolls back, and a savepoint no longer open (rolled back, or released without
    :func:`released` being told) does not vouch for its keys: the lock is taken again.
    """
    return any(key in keys and t.is_active for t, keys in _held(session, connection).items())


def released(session: Session, connection: Connection, savepoint: NestedTransaction) -> None:
    """``savepoint`` was released: its keys are now held by the transaction around it."""
    held = _held(session, connection)
    keys = held.pop(savepoint, None)
    if keys:
        parent = connection.get_nested_transaction() or connection.get_transaction()
        if parent is not None:
            held.setdefault(parent, set()).update(keys)


def take(cs: Changeset, action: ActionDef) -> None:
    """Take the transaction-scoped advisory lock that keeps event ids in commit order."""
    connection = cs.session.connection()
    lock = wanted(cs, action, connection)
    if lock is not None:
        sql, params, keys = lock
        connection.execute(text(sql), params)
        held(cs.session, connection, keys)


def wanted(cs: Changeset, action: ActionDef, connection: Connection) -> Wanted | None:
    """The statement taking the action's locks (SQLAlchemy ``text()`` style), its parameters and
    the keys it takes; ``None`` when none is needed (not PostgreSQL, no event log) or the
    transaction holds them already."""
    log = action.resource.log
    if log is None or connection.dialect.name != "postgresql":
        return None
    default = _default_lock_key(cs, action.resource, log)
    key = log.lock_generator(cs, default) if log.lock_generator else default
    if isinstance(key, int) and not isinstance(key, bool):
        parts: tuple[int, ...] = (key,)
    elif isinstance(key, tuple | list) and len(key) == 2 and all(k in INT32 for k in key):
        parts = (key[0], key[1])
    else:
        raise ConfigurationError(
            f"advisory lock key {key!r} is not an integer or a pair of int32 integers"
        )
    if parts == _HORIZON:
        raise ConfigurationError(f"advisory lock key {key!r} is reserved for the log's readers")
    if _is_held(cs.session, connection, parts):
        return None  # re-entrant and held until commit: taking it again costs a round trip
    # Both locks in one statement: the horizon costs no round trip of its own. The key first
    # (the target list is evaluated in order): a writer waiting for another's key then holds no
    # horizon, so a reader in that other transaction does not wait for it (no deadlock).
    horizon = not _is_held(cs.session, connection, _HORIZON)
    shared = ", pg_advisory_xact_lock_shared(:h)" if horizon else ""
    if len(parts) == 1:
        sql, params = f"SELECT pg_advisory_xact_lock(:k){shared}", {"k": parts[0]}
    else:
        sql, params = (
            f"SELECT pg_advisory_xact_lock(:a, :b){shared}",
            {"a": parts[0], "b": parts[1]},
        )
    if not horizon:
        return sql, params, (parts,)
    params["h"] = HORIZON_KEY
    return sql, params, (parts, _HORIZON)


def driver_sql(sql: str) -> str:
    """A statement of :func:`wanted` as the driver spells parameters (``%(k)s``), for _wire.py."""
    return re.sub(r":([a-z])\b", r"%(\1)s", sql)


def held(session: Session, connection: Connection, keys: tuple[tuple[int, ...], ...]) -> None:
    """Note ``keys`` as taken in the connection's current (nested) transaction."""
    current = connection.get_nested_transaction() or connection.get_transaction()
    if current is not None:
        _held(session, connection).setdefault(current, set()).update(keys)


def _default_lock_key(cs: Changeset, resource: ResourceDef, log: EventLogDef) -> LockKey:
    if resource.tenant_attribute is None:
        return log.lock_default
    return tenant_lock_key(cs.tenant)


def tenant_lock_key(tenant: Any) -> LockKey:
    """AshEvents' per-tenant key: an integer as is, a UUID as two int32 (bytes 0-3 and 8-11)."""
    if isinstance(tenant, int) and not isinstance(tenant, bool):
        return tenant
    try:
        value = tenant if isinstance(tenant, uuid.UUID) else uuid.UUID(str(tenant))
    except ValueError:
        value = None
    if value is None or tenant is None:
        raise ConfigurationError(
            f"unsupported tenant {tenant!r} for the advisory lock key: use an integer or UUID "
            "tenant, or set advisory_lock_key_generator on the event log"
        )
    raw = value.bytes
    return (
        int.from_bytes(raw[0:4], "big", signed=True),
        int.from_bytes(raw[8:12], "big", signed=True),
    )

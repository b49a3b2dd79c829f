"""PostgreSQL advisory locks: taken before each event insert so event ids follow commit order."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from .errors import ConfigurationError

if TYPE_CHECKING:
    from ._engine import ActionDef, EventLogDef, ResourceDef
    from .changeset import Changeset

LockKey = int | tuple[int, int]
INT32 = range(-(2**31), 2**31)
_LOCKS = "eventspec.locks"  # session.info: advisory keys held, per transaction


def held(session: Session) -> dict[Any, set[tuple[int, ...]]]:
    """Advisory keys taken, per (sub)transaction of the session's current transaction."""
    root = session.get_transaction()
    memo = session.info.get(_LOCKS)
    if memo is None or memo[0] is not root:
        memo = (root, {})
        session.info[_LOCKS] = memo
    keys: dict[Any, set[tuple[int, ...]]] = memo[1]
    return keys


def _is_held(session: Session, key: tuple[int, ...]) -> bool:
    """True when this transaction, or a savepoint still open around us, took ``key``.

    A lock taken inside a savepoint that was rolled back is released by PostgreSQL; such a
    savepoint is no longer an ancestor of the current one, so it is not consulted.
    """
    keys = held(session)
    transaction = session.get_nested_transaction() or session.get_transaction()
    while transaction is not None:
        if key in keys.get(transaction, ()):
            return True
        transaction = transaction.parent
    return False


def take(cs: Changeset, action: ActionDef) -> None:
    """Take the transaction-scoped advisory lock that keeps event ids in commit order."""
    log = action.resource.log
    connection = cs.session.connection()
    if log is None or connection.dialect.name != "postgresql":
        return
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
    session = cs.session
    if _is_held(session, parts):
        return  # the lock is re-entrant and held until commit: taking it again costs a round trip
    if len(parts) == 1:
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": parts[0]})
    else:
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": parts[0], "b": parts[1]}
        )
    current = session.get_nested_transaction() or session.get_transaction()
    held(session).setdefault(current, set()).add(parts)


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

"""See what the actions write: a logger per package, and callbacks on every written event.

Each event an action writes (single, ``*_many``, upsert, update, destroy) is logged at DEBUG on
the logger ``<package>.actions`` (its id, log, ``resource.action``, version and actor; never its
data, metadata or input) and passed to every callback registered with :func:`on_event`. Replay
writes no event, so it logs nothing here and calls no callback; it logs on ``<package>.replay``.

Callbacks run inside the caller's transaction, just after the event row is written: the action
may still fail or be rolled back, so they suit metrics and tests, not effects outside the
database (read the committed log for those, with a follower or an outbox). When no callback is
registered and DEBUG is off, writing an event costs one tuple check and one level check.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from sqlalchemy.orm import Session

__all__ = ["EventCallback", "Subscription", "WrittenEvent", "logger", "on_event"]

_PACKAGE = __name__.rpartition(".")[0]
logger = logging.getLogger(f"{_PACKAGE}.actions")


@dataclass(frozen=True, slots=True)
class WrittenEvent:
    """One event as an action wrote it. ``data``, ``metadata`` and ``changed_attributes`` are
    the maps as stored (JSON values; in a plain log, sensitive values are null); ``actor`` maps
    the log's actor column that was filled, if any, to its value."""

    log: str  # the event log's name, e.g. "Event"
    id: Any
    record_id: Any
    resource: str
    action: str
    action_type: str
    version: int
    occurred_at: dt.datetime
    actor: Mapping[str, Any]
    data: Mapping[str, Any] = field(repr=False)
    metadata: Mapping[str, Any] = field(repr=False)
    changed_attributes: Mapping[str, Any] = field(repr=False)
    session: Session = field(repr=False, compare=False)


EventCallback = Callable[[WrittenEvent], None]

_callbacks: tuple[EventCallback, ...] = ()
_lock = threading.Lock()


class Subscription:
    """A registered callback: :meth:`remove` it, or use it as a context manager."""

    def __init__(self, callback: EventCallback) -> None:
        self.callback = callback

    def remove(self) -> None:
        """Stop calling the callback (no error when it was removed already)."""
        global _callbacks
        with _lock:
            _callbacks = tuple(c for c in _callbacks if c is not self.callback)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.remove()


def on_event(callback: EventCallback) -> Subscription:
    """Call ``callback`` once for every event written from now on, by any session of any thread.

    It runs inside the action, after the event row is written: an exception it raises fails the
    action, which then leaves nothing behind.
    """
    global _callbacks
    with _lock:
        _callbacks = (*_callbacks, callback)
    return Subscription(callback)


def watching() -> bool:
    """Whether a written event must be reported: a callback is registered or DEBUG is on."""
    return bool(_callbacks) or logger.isEnabledFor(logging.DEBUG)


def written(
    session: Session, log: str, event_id: Any, row: Mapping[str, Any], actors: tuple[str, ...]
) -> None:
    """Report one written event (``row`` as inserted) to the logger and every callback."""
    actor = {name: row[name] for name in actors if row.get(name) is not None}
    event = WrittenEvent(
        log=log,
        id=event_id,
        record_id=row["record_id"],
        resource=row["resource"],
        action=row["action"],
        action_type=row["action_type"],
        version=row["version"],
        occurred_at=row["occurred_at"],
        actor=actor,
        data=row["data"],
        metadata=row["metadata"],
        changed_attributes=row["changed_attributes"],
        session=session,
    )
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "event %s in %s: %s.%s v%s, actor %s",
            event_id,
            log,
            event.resource,
            event.action,
            event.version,
            " ".join(f"{name}={value}" for name, value in actor.items()) or "none",
        )
    for callback in _callbacks:
        callback(event)

"""Errors raised by the generated actions and replay."""

from __future__ import annotations

from typing import Any


class EventspecError(Exception):
    """Base class of every error the generated package raises."""


class ValidationError(EventspecError):
    """An action's input or the record it would write is invalid. Nothing was written."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


class ActorError(ValidationError):
    """The action's event would not record its actor: the actor matches none of the log's
    declared actor types (an id instead of the object, a dict, an undeclared class), or the
    action requires an actor and got none. Raised before anything is written; ``.field`` is None,
    and the message names the actor's type, never its value."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)


class ReplayError(EventspecError):
    """Replay failed, on one event or while clearing the tracked tables before the first.

    Replay runs in a SAVEPOINT of the caller's transaction, which is rolled back: nothing changed.
    ``event_id`` is None when no event was at fault (clearing the tables failed).
    """

    def __init__(
        self,
        event_id: object,
        target: str,
        cause: BaseException,
        *,
        event: str | None = None,
        version: int | None = None,
        detail: str | None = None,
    ) -> None:
        self.event_id = event_id
        self.target = target  # the action replayed into, "Resource.action"; or the step that failed
        self.cause = cause
        self.event = event or target  # what the event recorded, "Resource.action"
        self.version = version
        # A clear blocked by a foreign key: the table being cleared, the table whose rows still
        # point into it, and the constraint (None when the database does not name them).
        self.table: str | None = None
        self.referencing_table: str | None = None
        self.constraint: str | None = None
        super().__init__(self._describe(detail))

    @classmethod
    def of_event(cls, event: Any, target: str, cause: BaseException) -> ReplayError:
        """The error of ``event`` (a row of the log, as replay read it) replayed into ``target``."""
        recorded = f"{event.resource}.{event.action}"
        return cls(event.id, target, cause, event=recorded, version=event.version)

    def _describe(self, detail: str | None) -> str:
        cause = detail or _summary(self.cause)
        if self.event_id is None:
            return f"replay failed before its first event, in {self.target}: {cause}"
        label = self.event if self.version is None else f"{self.event} v{self.version}"
        if self.target != self.event:
            label += f" -> {self.target}"
        return f"replay failed at event {self.event_id} ({label}): {cause}"


def _summary(error: BaseException) -> str:
    """``error`` in one line: its first line, behind its class unless it is one of ours.

    A database error gives the driver's first line only: not the SQL statement or its parameters,
    which may hold the values of sensitive attributes.
    """
    orig = getattr(error, "orig", None)
    text = str(orig if isinstance(orig, BaseException) else error).strip()
    first = text.splitlines()[0].strip() if text else ""
    if isinstance(error, EventspecError) and first:
        return first
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


class ConfigurationError(EventspecError):
    """The generated package is misconfigured at run time (a key, a lock generator, ...)."""


class ArchiveError(EventspecError):
    """Archiving an event log, or reading an archive file, failed. An archive run that raises
    deleted no event: the log is as it was (the message says so)."""


class MissingPartitionError(EventspecError):
    """An action's event is past the last partition of its partitioned log (PostgreSQL): no
    partition of the event table holds its ``occurred_at`` (or id). The action's SAVEPOINT was
    rolled back: neither the record nor the event was written, and the transaction goes on.

    ``log`` is the event log's name (the table's, when the table is not the action's log),
    ``table`` the event table, ``value`` the partition key of the refused row as PostgreSQL
    gives it (``"(occurred_at)=(2027-01-05 00:00:00+00)"``; None when it gives none)."""

    def __init__(self, log: str, table: str, value: str | None) -> None:
        self.log = log
        self.table = table
        self.value = value
        package = __name__.rpartition(".")[0] or "<package>"
        found = f" for {value}" if value else ""
        super().__init__(
            f"no partition of {table} (the {log} log) found{found}: nothing was written; create "
            f"partitions ahead: run eventspec partitions (or {package}.partitions."
            "ensure_partitions), with --through for an event dated further ahead"
        )

"""Errors raised by the generated actions and replay."""

from __future__ import annotations


class EventspecError(Exception):
    """Base class of every error the generated package raises."""


class ValidationError(EventspecError):
    """An action's input or the record it would write is invalid. Nothing was written."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


class ReplayError(EventspecError):
    """Replay failed on one event; the caller's transaction should be rolled back."""

    def __init__(self, event_id: object, target: str, cause: BaseException) -> None:
        super().__init__(f"replay failed at event {event_id} ({target}): {cause}")
        self.event_id = event_id
        self.target = target
        self.cause = cause


class ConfigurationError(EventspecError):
    """The generated package is misconfigured at run time (a key, a lock generator, ...)."""

"""The changeset handed to custom changes, validations and hooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from .errors import ValidationError


@dataclass(eq=False)
class Changeset:
    """One action call in progress.

    Custom changes mutate ``attributes`` (what will be written); validations read it and raise
    :class:`ValidationError`. ``replaying`` is true while the event log is being replayed: code
    with side effects outside the record should do nothing then.
    """

    session: Session
    resource: str
    action: str
    action_type: str
    record: Any | None
    params: dict[str, Any]
    arguments: dict[str, Any]
    attributes: dict[str, Any]
    actor: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tenant: Any = None
    replaying: bool = False

    def get(self, name: str) -> Any:
        """The value ``name`` will have: pending attribute, else argument, else the record's."""
        if name in self.attributes:
            return self.attributes[name]
        if name in self.arguments:
            return self.arguments[name]
        return self._record_value(name)

    def _record_value(self, name: str) -> Any:
        record = self.record
        return None if record is None else getattr(record, name, None)

    def set_attribute(self, name: str, value: Any) -> None:
        self.attributes[name] = value

    def error(self, field: str | None, message: str) -> ValidationError:
        """Build the error a validation raises: ``raise changeset.error("email", "is taken")``."""
        return ValidationError(field, message)

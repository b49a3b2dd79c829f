"""Actors that cannot go missing: an action that writes an event records its actor, or refuses
the call before it writes anything.

An event records its actor in the column of the first declared actor type (the log's
``persist_actor_primary_key``) the actor is an instance of. An actor of no declared type (an id
instead of the object, a dict, an object of an undeclared class), or one whose key is still None,
would be recorded as no actor at all, so it is an :class:`ActorError`; so is no actor where the
spec says ``require_actor: true``.
Actions that write no event (untracked, ignored) record no actor and are not checked; nor is
replay, which applies events that already hold theirs. Messages name the actor's type, never its
value: an actor is often a person.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from .errors import ActorError

if TYPE_CHECKING:
    from ._engine import ActionDef


def check_actor(action: ActionDef, actor: Any) -> None:
    """Raise :class:`ActorError` unless ``actor`` will be recorded in the action's event."""
    if actor is None:
        if action.require_actor:
            raise ActorError(f"{_label(action)} requires an actor{_expected(action)}")
        return
    keys = action.actor_keys
    if keys is None:
        return
    for cls, key in keys:
        if isinstance(actor, cls) and getattr(actor, key, None) is not None:
            return  # recorded in this actor type's column
    matched = [key for cls, key in keys if isinstance(actor, cls)]
    if not matched:
        raise ActorError(_unmatched(action, actor))
    # An object not flushed yet, say: its event would record no actor all the same.
    raise ActorError(
        f"{_label(action)}: the actor, of type {type_name(type(actor))}, has no key yet "
        f"({' or '.join(matched)} is None); flush it first, so that the event can record it"
    )


def _unmatched(action: ActionDef, actor: Any) -> str:
    log = action.resource.log
    assert log is not None  # actor_keys is None without one
    kind = type_name(type(actor))
    if not log.actors:
        return (
            f"{_label(action)}: the {log.name} log declares no actor types, so an actor of type "
            f"{kind} cannot be recorded; pass actor=None, or declare its class under "
            "persist_actor_primary_key"
        )
    declared = ", ".join(f"{a.column}: {type_name(a.actor_class)}" for a in log.actors)
    message = (
        f"{_label(action)}: an actor of type {kind} matches no actor type of the {log.name} log "
        f"({declared}); "
    )
    if isinstance(actor, str | int | uuid.UUID):
        mapped = [a.actor_class for a in log.actors if hasattr(a.actor_class, "__table__")]
        names = " or ".join(c.__qualname__ for c in (mapped or [a.actor_class for a in log.actors]))
        return message + f"pass the {names} object, not its id"
    if isinstance(actor, dict):
        return message + "pass the object, not a dict"
    return message + "declare its class under persist_actor_primary_key"


def _expected(action: ActionDef) -> str:
    log = action.resource.log
    if log is None or not log.actors:
        return ""
    return " (" + " or ".join(type_name(a.actor_class) for a in log.actors) + ")"


def _label(action: ActionDef) -> str:
    return f"{action.resource.name}.{action.name}"


def type_name(cls: type) -> str:
    """``int``, ``Member`` (a model), ``uuid.UUID``, ``accounts.actors.SystemActor``."""
    if cls.__module__ == "builtins" or hasattr(cls, "__table__"):
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"

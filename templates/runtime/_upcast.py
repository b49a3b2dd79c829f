"""Upcasting: stored events read as the current version of their action, before replay routes them.

Stored rows are never changed. For an event whose (resource, action) has upcasters, replay works
on a copy: first the renames derived from ``renamed_from`` (an old key becomes the attribute's
current name, whatever the event's version), then the upcaster of the event's version, which
makes it an event of the next version, then the next one's, and so on. Routing
(``replay_overrides``) then sees the version the chain reached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from sqlalchemy import Row

from .errors import ReplayError

EventDict = dict[str, Any]
Step = Callable[[EventDict], EventDict]
Where = Literal["data", "changed_attributes"]
_OTHER: dict[str, Where] = {"data": "changed_attributes", "changed_attributes": "data"}


def rename(key: str, to: str, in_: Where = "data") -> Step:
    """Rename ``key`` to ``to``, when the event has the first and not the second."""

    def step(event: EventDict) -> EventDict:
        values = event[in_]
        if key in values and to not in values:
            values[to] = values.pop(key)
        return event

    return step


def drop(key: str, in_: Where = "data") -> Step:
    def step(event: EventDict) -> EventDict:
        event[in_].pop(key, None)
        return event

    return step


def set_default(key: str, value: Any, in_: Where = "data") -> Step:
    """Set ``key`` when the event does not have it (a present null stays null)."""

    def step(event: EventDict) -> EventDict:
        event[in_].setdefault(key, value)
        return event

    return step


def move(key: str, to: Where) -> Step:
    """Move ``key`` from the other map into ``to`` (replacing a value there)."""
    source = _OTHER[to]

    def step(event: EventDict) -> EventDict:
        values = event[source]
        if key in values:
            event[to][key] = values.pop(key)
        return event

    return step


def map_values(key: str, values: Mapping[str, Any], in_: Where = "data") -> Step:
    """Replace the value of ``key`` by ``values[value]`` when it is listed there."""

    def step(event: EventDict) -> EventDict:
        current = event[in_].get(key)
        if isinstance(current, str) and current in values:
            event[in_][key] = values[current]
        return event

    return step


class _Call:
    """A ``call`` step: the only kind that sees the whole event, not just its two maps."""

    __slots__ = ("function",)

    def __init__(self, function: Callable[[EventDict], EventDict]) -> None:
        self.function = function

    def __call__(self, event: EventDict) -> EventDict:
        result = self.function(event)
        for name in ("data", "changed_attributes"):
            if not isinstance(result.get(name), dict):
                raise TypeError(f"upcaster {self.function.__qualname__} returned no {name} dict")
        return result


def call(function: Callable[[EventDict], EventDict]) -> Step:
    """User code: takes the event as a dict, returns it; its data and changed_attributes count."""
    return _Call(function)


@dataclass(slots=True)
class UpcastEvent:
    """An event as replay reads it after upcasting: the attributes of the stored row it uses."""

    id: Any
    resource: str
    action: str
    action_type: str
    version: int
    record_id: Any
    data: dict[str, Any]
    changed_attributes: dict[str, Any]
    erased: bool = False  # see _privacy.RevealedEvent
    subject: str | None = None  # an archived event's: whose key sealed its personal values


@dataclass(frozen=True, slots=True)
class Upcasters:
    """How the events of one (resource, action) are upcast."""

    renames: tuple[Step, ...] = ()  # derived from renamed_from; every version
    versions: Mapping[int, tuple[Step, ...]] = field(default_factory=dict)  # from_version: steps
    # Whether a ``call`` step needs the whole event; the others only read its two maps.
    whole: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        steps = [s for chain in self.versions.values() for s in chain]
        object.__setattr__(self, "whole", any(isinstance(s, _Call) for s in steps))

    def apply(self, event: Any) -> Any:
        version: int = event.version
        steps = self.versions.get(version)
        if steps is None and not self.renames:
            return event
        work: EventDict = {
            "data": dict(event.data or {}),
            "changed_attributes": dict(event.changed_attributes or {}),
        }
        if self.whole:
            work.update(
                id=event.id,
                resource=event.resource,
                action=event.action,
                action_type=event.action_type,
                version=version,
                record_id=event.record_id,
            )
        for step in self.renames:
            work = step(work)
        while steps is not None:
            for step in steps:
                work = step(work)
            version += 1
            steps = self.versions.get(version)
        return UpcastEvent(
            event.id,
            event.resource,
            event.action,
            event.action_type,
            version,
            event.record_id,
            work["data"],
            work["changed_attributes"],
            was_erased(event),
        )


def was_erased(event: Any) -> bool:
    """Whether a personal value of ``event`` was erased (``_privacy.RevealedEvent``). A database
    row has no such field: asked with ``getattr``, its miss costs as much as decoding the event."""
    return hasattr(type(event), "erased") and bool(event.erased)


def upcast(event: Any, upcasters: Mapping[tuple[str, str], Upcasters]) -> Any:
    """``event`` as replay reads it: itself, or an :class:`UpcastEvent`."""
    chain = upcasters.get((event.resource, event.action))
    if chain is None:
        return event
    try:
        return chain.apply(event)
    except Exception as error:
        raise ReplayError.of_event(event, "upcaster", error) from error


def upcast_page(
    page: Sequence[Row[Any]], upcasters: Mapping[tuple[str, str], Upcasters]
) -> Sequence[Row[Any]]:
    """A page of events as replay reads them (an upcast event has every attribute of the row
    that replay reads, so it stands in for it)."""
    if not upcasters:
        return page
    return cast(Sequence[Row[Any]], [upcast(event, upcasters) for event in page])

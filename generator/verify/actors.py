"""``require_actor``: only where an event records actors (ES316), only on actions that write one
(ES317). A required actor that no event could record would refuse every call for nothing."""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic, at
from ..ir import Project
from .common import Rule

_DECLARE = "declare the actor types under persist_actor_primary_key, or remove require_actor"


def required_where_no_actor_is_recorded(project: Project) -> Iterator[Diagnostic]:
    for log in project.event_logs:
        if log.require_actor and not log.actors:
            message = f"event log '{log.name}' requires an actor but declares no actor types to "
            message += "record it in"
            yield at(log.origin, "ES316", message, "require_actor", hint=_DECLARE)
    for resource in project.resources:
        tracked_by = project.event_log(resource.events.event_log) if resource.events else None
        if tracked_by is None or tracked_by.actors:
            continue
        for action in resource.tracked_actions():
            if action.require_actor:
                message = f"action '{resource.name}.{action.name}' requires an actor, but its "
                message += f"event log '{tracked_by.name}' declares no actor types to record it in"
                yield at(action.origin, "ES316", message, "require_actor", hint=_DECLARE)


def required_on_an_action_without_event(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        tracked = {a.name for a in resource.tracked_actions()}
        for action in resource.actions:
            if action.require_actor is None or action.name in tracked:
                continue
            if resource.events is None:
                why = f"'{resource.name}' is not tracked by an event log (no events section)"
            elif resource.events.only_actions is not None:
                why = "it is not in only_actions"
            else:
                why = "it is in ignore_actions"
            message = f"require_actor on action '{resource.name}.{action.name}', which writes no "
            message += f"event: {why}"
            hint = "remove require_actor: an action that writes no event records no actor"
            yield at(action.origin, "ES317", message, "require_actor", hint=hint, key=True)


RULES: tuple[Rule, ...] = (required_where_no_actor_is_recorded, required_on_an_action_without_event)

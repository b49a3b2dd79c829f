"""Event-log options (AshEvents' EventLog verifiers)."""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic, at
from ..ir import EVENT_FIELDS, EventLog, Project, ReplayOverride
from .common import Rule, article, names

INT32 = (-(2**31), 2**31 - 1)


def actor_keys(project: Project) -> Iterator[Diagnostic]:
    for log in project.event_logs:
        several = len(log.actors) > 1
        for actor in log.actors:
            if actor.name in EVENT_FIELDS:
                message = f"actor column '{actor.name}' has the name of an event field "
                message += f"({', '.join(EVENT_FIELDS)})"
                yield at(actor.origin, "ES247", message, key=True)
            if several and not actor.allow_nil:
                message = "when several persist_actor_primary_key entries are declared, all must "
                message += "have allow_nil: true"
                yield at(actor.origin, "ES240", message, "allow_nil")
            if not actor.is_resource:
                continue
            resource = project.resource(actor.actor)
            if resource is None:
                if actor.actor in project.left_out:
                    continue
                known = names(r.name for r in project.resources)
                message = f"actor '{actor.actor}' of '{actor.name}' is not a resource "
                message += f'(resources: {known}); use "pkg.module:Class" for other actors'
                yield at(actor.origin, "ES241", message, "actor")
            elif resource.primary_key is None:
                message = f"actor resource '{actor.actor}' must have exactly one primary key"
                yield at(actor.origin, "ES241", message, "actor")


def public_fields(project: Project) -> Iterator[Diagnostic]:
    for log in project.event_logs:
        if log.public_fields == "all":
            continue
        valid = [*EVENT_FIELDS, *(a.name for a in log.actors)]
        for i, name in enumerate(log.public_fields):
            if name not in valid:
                message = f"public_fields names unknown field '{name}' (fields: {names(valid)})"
                yield at(log.origin, "ES242", message, "public_fields", i)


def advisory_lock_key(project: Project) -> Iterator[Diagnostic]:
    for log in project.event_logs:
        key = log.advisory_lock_key_default
        option = "advisory_lock_key_default"
        if isinstance(key, int):
            if not INT32[0] <= key <= INT32[1]:
                message = f"{option} must be a 32-bit integer ({INT32[0]} to {INT32[1]}), got {key}"
                yield at(log.origin, "ES243", message, option)
            continue
        if len(key) != 2:
            message = f"{option} as a list must hold exactly two integers, got {len(key)}"
            yield at(log.origin, "ES243", message, option)
            continue
        for i, part in enumerate(key):
            if not INT32[0] <= part <= INT32[1]:
                message = f"{option} must hold 32-bit integers ({INT32[0]} to {INT32[1]}), "
                message += f"got {part}"
                yield at(log.origin, "ES243", message, option, i)


def replay_overrides(project: Project) -> Iterator[Diagnostic]:
    for log in project.event_logs:
        for override in log.replay_overrides:
            for i, version in enumerate(override.versions):
                if version < 1:
                    message = f"version {version} in replay override must be a positive integer"
                    yield at(override.origin, "ES233", message, "versions", i)
            yield from _route_targets(project, log, override)


def _route_targets(
    project: Project, log: EventLog, override: ReplayOverride
) -> Iterator[Diagnostic]:
    source = project.resource(override.resource)
    source_action = source.action(override.action) if source else None
    for target in override.route_to:
        resource = project.resource(target.resource)
        if resource is None:
            if target.resource in project.left_out:
                continue
            known = names(r.name for r in project.resources)
            message = f"route_to names unknown resource '{target.resource}' (resources: {known})"
            yield at(target.origin, "ES244", message, "resource")
            continue
        action = resource.action(target.action)
        if action is None:
            known = names(a.name for a in resource.actions)
            message = f"route_to names unknown action '{target.action}' of '{resource.name}' "
            message += f"(actions: {known})"
            yield at(target.origin, "ES245", message, "action")
        elif source_action is not None and action.type != source_action.type:
            message = (
                f"route_to action '{resource.name}.{action.name}' is {article(action.type)}, but "
            )
            message += f"'{override.resource}.{override.action}' is {article(source_action.type)}"
            yield at(target.origin, "ES246", message, "action")


RULES: tuple[Rule, ...] = (actor_keys, public_fields, advisory_lock_key, replay_overrides)

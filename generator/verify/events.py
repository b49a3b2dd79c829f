"""A resource's ``events:`` section (AshEvents' Events verifiers and WrapActions errors)."""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic, at
from ..ir import Events, Project, Resource
from .common import RECORD_ID_TYPES, Rule, names, node_at, tracked


def _sections(project: Project) -> Iterator[tuple[Resource, Events]]:
    for resource in tracked(project):
        assert resource.events is not None
        yield resource, resource.events


def event_log_exists(project: Project) -> Iterator[Diagnostic]:
    for resource, events in _sections(project):
        log = events.event_log
        if project.event_log(log) is None and log not in project.left_out:
            known = names(e.name for e in project.event_logs)
            message = f"events of '{resource.name}' name unknown event log '{events.event_log}' "
            message += f"(event logs: {known})"
            yield at(events.origin, "ES230", message, "event_log")


def exclusive_action_lists(project: Project) -> Iterator[Diagnostic]:
    for _resource, events in _sections(project):
        if events.only_actions is not None and node_at(events.origin, "ignore_actions"):
            message = "only_actions and ignore_actions are mutually exclusive; use one of them"
            yield at(events.origin, "ES231", message, "ignore_actions", key=True)


def action_names(project: Project) -> Iterator[Diagnostic]:
    for resource, events in _sections(project):
        known = {a.name for a in resource.actions}

        listed = [
            ("only_actions", events.only_actions or ()),
            ("ignore_actions", events.ignore_actions),
        ]
        for option, items in listed:
            for i, name in enumerate(items):
                if name not in known:
                    yield at(events.origin, "ES232", _unknown(resource, name, option), option, i)
        keyed = [
            ("current_action_versions", [n for n, _ in events.current_action_versions]),
            (
                "replay_non_input_attribute_changes",
                [n for n, _ in events.replay_non_input_attribute_changes],
            ),
            ("allowed_change_modules", [n for n, _ in events.allowed_change_modules]),
        ]
        for option, keys in keyed:
            for name in keys:
                if name not in known:
                    message = _unknown(resource, name, option)
                    yield at(events.origin, "ES232", message, option, name, key=True)


def _unknown(resource: Resource, name: str, option: str) -> str:
    known = names(a.name for a in resource.actions)
    return f"{option} names unknown action '{name}' of '{resource.name}' (actions: {known})"


def versions(project: Project) -> Iterator[Diagnostic]:
    for _resource, events in _sections(project):
        ignored = set(events.ignore_actions)
        for name, version in events.current_action_versions:
            if version < 1:
                message = f"version {version} of action '{name}' must be a positive integer"
                yield at(events.origin, "ES233", message, "current_action_versions", name)
            if name in ignored:
                message = f"action '{name}' is in ignore_actions but also has a version; "
                message += "ignored actions write no events"
                yield at(events.origin, "ES234", message, "current_action_versions", name, key=True)
            if events.only_actions is not None and name not in events.only_actions:
                message = f"action '{name}' has a version but is not in only_actions"
                yield at(events.origin, "ES235", message, "current_action_versions", name, key=True)


def timestamps(project: Project) -> Iterator[Diagnostic]:
    for resource, events in _sections(project):
        for option, name in (
            ("create_timestamp", events.create_timestamp),
            ("update_timestamp", events.update_timestamp),
        ):
            if name is None:
                continue
            attribute = resource.attribute(name)
            if attribute is None:
                known = names(a.name for a in resource.attributes)
                message = f"{option} names unknown attribute '{name}' of '{resource.name}' "
                message += f"(attributes: {known})"
                yield at(events.origin, "ES236", message, option)
            elif not attribute.type.is_timestamp:
                message = f"{option} attribute '{name}' must be a timestamp type (utc_datetime, "
                message += f"utc_datetime_usec, naive_datetime), not {attribute.type.name}"
                yield at(events.origin, "ES237", message, option)


def record_ids(project: Project) -> Iterator[Diagnostic]:
    for resource, events in _sections(project):
        log = project.event_log(events.event_log)
        keys = [a for a in resource.attributes if a.primary_key]
        if len(keys) > 1:
            message = f"tracked resource '{resource.name}' must have exactly one primary key "
            message += f"attribute, not {len(keys)} ({', '.join(a.name for a in keys)})"
            yield at(keys[1].origin, "ES212", message, key=True)
        if log is None or len(keys) != 1:
            continue
        key = keys[0]
        allowed = RECORD_ID_TYPES[log.record_id_type]
        if key.type.name not in allowed:
            message = f"primary key '{key.name}' of '{resource.name}' is {key.type.name}, but "
            message += f"event log '{log.name}' has record_id_type {log.record_id_type} "
            message += f"(matching key types: {', '.join(sorted(allowed))})"
            yield at(key.origin, "ES238", message, key=True)


RULES: tuple[Rule, ...] = (
    event_log_exists,
    exclusive_action_lists,
    action_names,
    versions,
    timestamps,
    record_ids,
)

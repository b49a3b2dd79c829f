"""Breaking-change detection: compare the specs with the event-schema lock (ES300-ES309).

Every version in the lock has events that replay must still be able to apply. For each one, the
current specs decide what happens to its events (the same order replay uses): derived renames
(``renamed_from``) and upcasters run first, then a ``replay_override`` matching the upcast version
routes them; otherwise they replay into the current action of the same name, whose contract must
then accept what the locked version recorded.

* ES301 an input of the locked contract is gone (removed, or renamed without ``renamed_from``)
* ES302 an input's type changed to one that does not accept every recorded value
* ES303 an input became required (``allow_nil: false``, or required with no default)
* ES304 a required input without a default was added
* ES305 a tracked action with recorded versions is gone and no route covers them
* ES306 a tracked resource with recorded versions is gone (or no longer in this log) and no route
  covers them
* ES307 an action's current version is below a version already recorded
* ES308 a recorded version now has another action type (a version number reused for a different
  contract)

``generate --accept-breaking CODE`` accepts the breaks of a code: they become warnings, and the
lock entries they concern are dropped (the current contract replaces the current version's).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import ir
from ..diagnostics import Diagnostic, Origin, at
from .lock import Key, Lock, contract_of, entries, route_of

CODES = ("ES301", "ES302", "ES303", "ES304", "ES305", "ES306", "ES307", "ES308")
_WAYS_OUT = (
    "bump the action's version in current_action_versions and add an upcaster "
    "(events.upcasters) or a replay_override to a legacy action for the old version; or, if the "
    "recorded events are being discarded, run `eventspec generate --accept-breaking {code}`"
)
# Type changes every recorded value survives (JSON decodes into the new type).
_WIDENINGS = {
    ("integer", "big_integer"),
    ("integer", "float"),
    ("integer", "decimal"),
    ("big_integer", "decimal"),
    ("float", "decimal"),
    ("string", "text"),
    ("uuid", "uuidv7"),
    ("uuidv7", "uuid"),
    ("uuid", "string"),
    ("uuidv7", "string"),
    ("uuid", "text"),
    ("uuidv7", "text"),
    ("utc_datetime", "utc_datetime_usec"),
}


@dataclass(frozen=True)
class Break:
    """One breaking change: its diagnostic, and the lock entries accepting it drops."""

    diagnostic: Diagnostic
    keys: tuple[Key, ...]

    @property
    def code(self) -> str:
        return self.diagnostic.code


def find_breaks(project: ir.Project, lock: Lock) -> list[Break]:
    out: list[Break] = []
    gone_resources: dict[tuple[str, str], list[Key]] = {}
    gone_actions: dict[tuple[str, str, str], list[Key]] = {}
    locked = dict(entries(lock))
    for key, contract in locked.items():
        log_name, resource_name, action_name, version = key
        log = project.event_log(log_name)
        if log is None:
            continue  # the whole log is gone, and its table with it: nothing left to replay
        resource = project.resource(resource_name)
        events = resource.events if resource else None
        stored = int(version)
        reached = events.upcast_version(action_name, stored) if events else stored
        if route_of(log, resource_name, action_name, reached) is not None:
            continue
        if resource is None or events is None or events.event_log != log_name:
            gone_resources.setdefault((log_name, resource_name), []).append(key)
            continue
        action = resource.action(action_name)
        if action is None:
            gone_actions.setdefault((log_name, resource_name, action_name), []).append(key)
            continue
        current = events.version_of(action_name)
        if reached > current:
            continue  # ES307, reported once per action below
        if reached != stored:
            base = locked.get((log_name, resource_name, action_name, str(reached)))
            if reached == current or base is None:
                continue  # the upcasters' author vouches for the result
        else:
            base = contract
        out += _compare(resource, action, stored, current, base, key)
    out += _gone_resources(project, gone_resources)
    out += _gone_actions(project, gone_actions)
    out += _lowered(project, locked)
    return out


def _compare(
    resource: ir.Resource,
    action: ir.Action,
    stored: int,
    current: int,
    locked: Mapping[str, Any],
    key: Key,
) -> list[Break]:
    name = f"{resource.name}.{action.name}"
    if stored == current:
        context = f"without a version bump: events of {name} v{stored} already recorded"
    else:
        context = (
            f"events of {name} v{stored} replay into the current v{current} (no upcaster or "
            "replay_override covers them), and they"
        )
    out: list[Break] = []

    def add(code: str, message: str, *steps: str | int, where: Origin = action.origin) -> None:
        hint = _WAYS_OUT.format(code=code)
        out.append(Break(at(where, code, message, *steps, hint=hint, key=True), (key,)))

    if locked["action_type"] != action.type:
        add(
            "ES308",
            f"{name} v{stored} was recorded as {locked['action_type']} events and is now "
            f"{'an' if action.type == 'update' else 'a'} {action.type} action: a version number "
            "cannot be reused for a different contract",
            "type",
        )
        return out
    now = contract_of(resource, action)["inputs"]
    renames = {a.renamed_from: a.name for a in resource.attributes if a.renamed_from}
    seen: set[str] = set()
    for old_name, old in sorted(locked["inputs"].items()):
        new_name = old_name
        if old_name not in now and old["kind"] == "attribute":
            new_name = renames.get(old_name, old_name)
        new = now.get(new_name)
        if new is None:
            out.append(_gone_input(action, name, old_name, context, key))
            continue
        seen.add(new_name)
        steps = _input_steps(action, new_name)
        attribute = resource.attribute(new_name) if new["kind"] == "attribute" else None
        renamed_from = attribute.renamed_from if attribute else None
        for alias in old.get("recorded_as", []):
            if alias != renamed_from:
                add(
                    "ES301",
                    f"input '{new_name}' of {name} was recorded as '{alias}' before a rename, "
                    f"and nothing renames '{alias}' any more ({context} carry '{alias}')",
                    *steps,
                )
        if not _accepts(old["type"], new["type"]):
            add(
                "ES302",
                f"input '{new_name}' of {name} changed type from {_show(old['type'])} to "
                f"{_show(new['type'])}, which does not accept every recorded value ({context} "
                "carry the old type)",
                *steps,
            )
        if (old["allow_nil"] and not new["allow_nil"]) or (new["required"] and not old["required"]):
            add(
                "ES303",
                f"input '{new_name}' of {name} became required ({context} may lack it or "
                "hold null)",
                *steps,
            )
    for new_name, new in sorted(now.items()):
        if new_name not in seen and new["required"]:
            add(
                "ES304",
                f"input '{new_name}' of {name} is required and has no default ({context} lack it)",
                *_input_steps(action, new_name),
            )
    return out


def _gone_input(action: ir.Action, name: str, old_name: str, context: str, key: Key) -> Break:
    hint = (
        f"if it was renamed, declare `renamed_from: {old_name}` on the new attribute (its own "
        "upcaster is derived); otherwise " + _WAYS_OUT.format(code="ES301")
    )
    steps = ("accept",) if action.accept else ()
    message = f"input '{old_name}' of {name} is gone ({context} carry it)"
    return Break(at(action.origin, "ES301", message, *steps, hint=hint, key=True), (key,))


def _input_steps(action: ir.Action, name: str) -> tuple[str | int, ...]:
    if name in action.accept:
        return ("accept", action.accept.index(name))
    return ("arguments", name)


def _accepts(old: Any, new: Any) -> bool:
    if old == new:
        return True
    if isinstance(old, dict) and isinstance(new, dict):
        if "enum" in old and "enum" in new:
            return set(old["enum"]) <= set(new["enum"])
        if "array" in old and "array" in new:
            return _accepts(old["array"], new["array"])
        if "embedded" in old and "embedded" in new:
            return _fields_accept(old["fields"], new["fields"])
        return False
    if isinstance(old, dict):
        return "enum" in old and new in ("string", "text")
    if isinstance(new, dict):
        return False
    return (old, new) in _WIDENINGS


def _fields_accept(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether embedded values recorded with ``old`` fields pass the ``new`` ones: each recorded
    field is still there, of a type accepting it, as nullable; a new field has a default or is
    nullable (recorded values lack it). A renamed spec with the same fields accepts them."""
    for name, field in old.items():
        now = new.get(name)
        if now is None or not _accepts(field["type"], now["type"]):
            return False
        if field["allow_nil"] and not now["allow_nil"]:
            return False
    return all(f["allow_nil"] or f["default"] for n, f in new.items() if n not in old)


def _show(type_: Any) -> str:
    if isinstance(type_, dict):
        if "enum" in type_:
            return f"enum [{', '.join(type_['enum'])}]"
        if "embedded" in type_:
            return f"embedded {type_['embedded']} ({', '.join(type_['fields'])})"
        return f"array of {_show(type_['array'])}"
    return str(type_)


def _versions(keys: Iterable[Key]) -> str:
    return ", ".join(f"{action} v{version}" for _, _, action, version in keys)


def _gone_resources(
    project: ir.Project, gone: Mapping[tuple[str, str], list[Key]]
) -> Iterable[Break]:
    for (log_name, resource_name), keys in sorted(gone.items()):
        log = project.event_log(log_name)
        assert log is not None
        resource = project.resource(resource_name)
        where = resource.origin if resource else log.origin
        message = (
            f"resource {resource_name} has recorded events in {log_name} ({_versions(keys)}), "
            f"but {'it is no longer tracked by ' + log_name if resource else 'it is gone'} "
            "(removed or renamed?) and no replay_override routes them"
        )
        hint = (
            f"add replay_overrides to {log_name} routing {resource_name}'s recorded actions and "
            "versions to existing actions, restore the resource, or, if those events are being "
            "discarded, run `eventspec generate --accept-breaking ES306`"
        )
        yield Break(at(where, "ES306", message, "name", hint=hint), tuple(keys))


def _gone_actions(
    project: ir.Project, gone: Mapping[tuple[str, str, str], list[Key]]
) -> Iterable[Break]:
    for (log_name, resource_name, action_name), keys in sorted(gone.items()):
        resource = project.resource(resource_name)
        assert resource is not None
        versions = sorted(int(k[3]) for k in keys)
        message = (
            f"action {resource_name}.{action_name} has recorded events "
            f"(version{'s' if len(versions) > 1 else ''} {', '.join(map(str, versions))}) but is "
            "gone (removed or renamed?) and no replay_override routes them"
        )
        hint = (
            f"add a replay_override to {log_name} (resource: {resource_name}, action: "
            f"{action_name}, versions: {versions}) routing them to an existing action, keep the "
            f"action (it may be ignored), or, if those events are being discarded, run "
            "`eventspec generate --accept-breaking ES305`"
        )
        steps: tuple[str, ...] = ("actions",) if resource.actions else ("name",)
        yield Break(at(resource.origin, "ES305", message, *steps, hint=hint, key=True), tuple(keys))


def _lowered(project: ir.Project, locked: Mapping[Key, Any]) -> Iterable[Break]:
    highest: dict[tuple[str, str, str], int] = {}
    for log_name, resource_name, action_name, version in locked:
        at_key = (log_name, resource_name, action_name)
        highest[at_key] = max(highest.get(at_key, 0), int(version))
    for (log_name, resource_name, action_name), top in sorted(highest.items()):
        resource = project.resource(resource_name)
        events = resource.events if resource else None
        if resource is None or events is None or events.event_log != log_name:
            continue
        if resource.action(action_name) is None:
            continue
        current = events.version_of(action_name)
        if current >= top:
            continue
        versioned = action_name in dict(events.current_action_versions)
        steps = ("current_action_versions", action_name) if versioned else ()
        message = (
            f"{resource_name}.{action_name} is at version {current}, below version {top} "
            "already recorded in the event-schema lock: versions only go up"
        )
        hint = (
            f"set current_action_versions.{action_name} to {top} or higher, or, if the events "
            "of the higher versions are being discarded, run "
            "`eventspec generate --accept-breaking ES307`"
        )
        keys = tuple(
            k
            for k in locked
            if k[:3] == (log_name, resource_name, action_name) and int(k[3]) > current
        )
        yield Break(at(events.origin, "ES307", message, *steps, hint=hint, key=bool(steps)), keys)

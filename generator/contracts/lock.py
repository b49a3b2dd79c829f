"""The event-schema lock: the contract of every action version that has ever been generated.

``<migrations>/event_schema.lock.json`` sits next to the schema snapshots and is written the same
way: plain sorted JSON with a content hash, part of the plan (so ``--check`` and ``--dry-run`` see
it), never edited by hand. It maps event log -> resource -> action -> version -> contract:

* ``action_type``;
* ``inputs``: every accepted attribute and argument, with its type (enum values, array item,
  an embedded spec's name and fields with their types, ``allow_nil`` and ``default``),
  ``allow_nil``, ``required`` (a caller must pass it), ``sensitive``, ``default`` (has one) and
  ``recorded_as``: the earlier names (``renamed_from``) events of that version may carry it under;
* ``changed_attributes``: the attributes its events may carry there;
* ``routes``: where the current specs replay events of that version (``replay_overrides``
  targets, after upcasting), and ``upcast_to``: the version its upcasters turn it into.

Entries are added and updated, never dropped: the current version of each tracked action is
rewritten from the specs at every ``generate``; older versions keep the contract they had when
they were last current. Only ``generate --accept-breaking`` drops entries (see ``breaking.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .. import ir

FORMAT = 1
FILE_NAME = "event_schema.lock.json"
# log -> resource -> action -> version (a string, as JSON keys are) -> contract
Lock = dict[str, dict[str, dict[str, dict[str, dict[str, Any]]]]]
Key = tuple[str, str, str, str]  # log, resource, action, version


class LockError(ValueError):
    """A lock file that cannot be read: not JSON, unknown format, or edited by hand."""


def lock_path(project: ir.Project) -> Path:
    return project.migrations / FILE_NAME


def read_lock(project: ir.Project) -> Lock:
    """The committed lock, or an empty one when the project predates it."""
    path = project.root / lock_path(project)
    if not path.exists():
        return {}
    return load(path.read_text(encoding="utf-8"), lock_path(project).as_posix())


def _hash(body: Mapping[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def dump(lock: Lock) -> str:
    document = {"format": FORMAT, "hash": _hash(lock), "event_logs": lock}
    return json.dumps(document, sort_keys=True, indent=2) + "\n"


def load(text: str, name: str) -> Lock:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise LockError(f"{name}: not valid JSON ({error})") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise LockError(f"{name}: unknown event-schema lock format")
    lock: Lock = document.get("event_logs", {})
    if document.get("hash") != _hash(lock):
        raise LockError(
            f"{name}: content does not match its hash (edited by hand?); restore it from version "
            "control: the lock records what events were written, and only `eventspec generate` "
            "(with --accept-breaking for a deliberate break) may change it"
        )
    return lock


def entries(lock: Lock) -> Iterable[tuple[Key, dict[str, Any]]]:
    for log, resources in sorted(lock.items()):
        for resource, actions in sorted(resources.items()):
            for action, versions in sorted(actions.items()):
                for version, contract in sorted(versions.items(), key=lambda v: int(v[0])):
                    yield (log, resource, action, version), contract


# --- contracts from the specs --------------------------------------------------------------------


def type_json(type_: ir.TypeRef) -> Any:
    if type_.name == "array":
        assert type_.item is not None
        return {"array": type_json(type_.item)}
    if type_.name == "enum":
        return {"enum": list(type_.values)}
    if type_.name == "embedded" and type_.embedded is not None:
        # The shape its events record: a change inside the spec is judged as an input's is.
        fields = {
            f.name: {
                "type": type_json(f.type),
                "allow_nil": f.allow_nil,
                "default": f.default is not None,
            }
            for f in type_.embedded.fields
        }
        return {"embedded": type_.ref, "fields": fields}
    return type_.name


def contract_of(resource: ir.Resource, action: ir.Action) -> dict[str, Any]:
    """The event contract of ``action`` as the specs declare it now."""
    from ..action_views import required_inputs

    required = required_inputs(resource, action)
    inputs: dict[str, Any] = {}
    for name in action.accept:
        attribute = resource.attribute(name)
        if attribute is None:
            continue
        inputs[name] = _input(
            "attribute",
            attribute.type,
            attribute.allow_nil,
            name in required,
            attribute.sensitive,
            attribute.default is not None,
        )
    for argument in action.arguments:
        inputs[argument.name] = _input(
            "argument",
            argument.type,
            argument.allow_nil,
            argument.name in required,
            argument.sensitive,
            argument.default is not None,
        )
    return {
        "action_type": action.type,
        "inputs": inputs,
        "changed_attributes": sorted(changed_attributes(resource, action)),
    }


def _input(
    kind: str, type_: ir.TypeRef, allow_nil: bool, required: bool, sensitive: bool, default: bool
) -> dict[str, Any]:
    return {
        "kind": kind,
        "type": type_json(type_),
        "allow_nil": allow_nil,
        "required": required,
        "sensitive": sensitive,
        "default": default,
    }


def changed_attributes(resource: ir.Resource, action: ir.Action) -> set[str]:
    """Attributes other than the input that events of ``action`` may carry: keys, defaults,
    values set by changes, timestamps, and belongs_to foreign keys (always). A ``call`` change
    may set more; those are not known before it runs."""
    out = {c.attribute for c in action.changes if c.kind == "set_attribute" and c.attribute}
    out |= {a.name for a in resource.attributes if a.belongs_to}
    events = resource.events
    if action.type == "create":
        out |= {a.name for a in resource.attributes if a.primary_key or a.default is not None}
        if events and events.create_timestamp:
            out.add(events.create_timestamp)
    elif action.type == "update":
        out |= {a.name for a in resource.attributes if a.update_default is not None}
        if events and events.update_timestamp:
            out.add(events.update_timestamp)
    elif action.soft_attribute:
        out.add(action.soft_attribute)
    if resource.multitenancy and action.type == "create":
        out.add(resource.multitenancy.attribute)
    return out - (set(action.accept) - {a.name for a in resource.attributes if a.belongs_to})


def current_entries(project: ir.Project) -> dict[Key, dict[str, Any]]:
    """The contract of the current version of every tracked action, by lock key."""
    out: dict[Key, dict[str, Any]] = {}
    for resource in project.resources:
        if resource.events is None or project.event_log(resource.events.event_log) is None:
            continue
        for action in resource.tracked_actions():
            version = str(resource.events.version_of(action.name))
            key = (resource.events.event_log, resource.name, action.name, version)
            out[key] = contract_of(resource, action)
    return out


def replay_notes(project: ir.Project, key: Key) -> dict[str, Any]:
    """How the current specs replay events of one locked version: upcasting, then routes."""
    log_name, resource_name, action_name, version = key
    log = project.event_log(log_name)
    resource = project.resource(resource_name)
    events = resource.events if resource and resource.events else None
    reached = events.upcast_version(action_name, int(version)) if events else int(version)
    notes: dict[str, Any] = {}
    if reached != int(version):
        notes["upcast_to"] = reached
    override = route_of(log, resource_name, action_name, reached) if log else None
    if override is not None:
        notes["routes"] = [f"{t.resource}.{t.action}" for t in override.route_to]
    return notes


def route_of(
    log: ir.EventLog, resource: str, action: str, version: int
) -> ir.ReplayOverride | None:
    """The first override matching, as replay picks it."""
    for override in log.replay_overrides:
        matches = override.resource == resource and override.action == action
        if matches and version in override.versions:
            return override
    return None


def updated_lock(project: ir.Project, old: Lock, dropped: Iterable[Key] = ()) -> Lock:
    """``old`` with the current contracts written over it, ``dropped`` keys removed (accepted
    breaks), and the replay notes of every entry refreshed."""
    merged: dict[Key, dict[str, Any]] = {}
    gone = set(dropped)
    for key, contract in entries(old):
        if key not in gone:
            merged[key] = _contract_part(contract)
    for key, contract in current_entries(project).items():
        previous = merged.get(key)
        if previous is not None:
            _keep_recorded_names(project, key, previous, contract)
        merged[key] = contract
    lock: Lock = {}
    for key, contract in sorted(merged.items()):
        log, resource, action, version = key
        entry = {**contract, **replay_notes(project, key)}
        lock.setdefault(log, {}).setdefault(resource, {}).setdefault(action, {})[version] = entry
    return lock


def _keep_recorded_names(
    project: ir.Project, key: Key, previous: Mapping[str, Any], contract: dict[str, Any]
) -> None:
    """Carry the names events of this version were recorded under into the new contract: an
    input renamed with ``renamed_from`` lists its earlier names as ``recorded_as``, so that a
    later rename cannot silently orphan the events recorded before the first one."""
    resource = project.resource(key[1])
    assert resource is not None
    before = previous.get("inputs", {})
    for name, spec in contract["inputs"].items():
        attribute = resource.attribute(name) if spec["kind"] == "attribute" else None
        names: list[str] = list(before.get(name, {}).get("recorded_as", []))
        source = attribute.renamed_from if attribute else None
        if source and source in before and source not in contract["inputs"]:
            names += [*before[source].get("recorded_as", []), source]
        if names:
            spec["recorded_as"] = sorted(set(names) - {name})


def _contract_part(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in ("routes", "upcast_to")}

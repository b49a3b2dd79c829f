"""Validated spec dicts -> the IR of what resources do: actions with their arguments, changes
and validations, and the events section with its upcasters. Spec types and defaults are parsed here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, cast

from .build_checks import Names
from .diagnostics import Origin
from .ir import (
    VALIDATION_KINDS,
    Action,
    Argument,
    Change,
    Default,
    Embedded,
    Events,
    Manage,
    TypeRef,
    Upcaster,
    UpcastStep,
    Validation,
)

Raw = dict[str, Any]
ChangeKind = Literal["set_attribute", "call", "before_action", "after_action"]
_CHANGE_KINDS: tuple[ChangeKind, ...] = ("set_attribute", "call", "before_action", "after_action")


Lookup = Callable[[str], Embedded | None]


def parse_type(raw: Any, values: Any = None, lookup: Lookup | None = None) -> TypeRef:
    """The type ``raw``; ``lookup`` finds the embedded spec a ``{embedded: NAME}`` names."""
    if isinstance(raw, dict) and "embedded" in raw:
        name = str(raw["embedded"])
        return TypeRef("embedded", ref=name, embedded=lookup(name) if lookup else None)
    if isinstance(raw, dict):  # an array: ``values`` belong to its (enum) items
        return TypeRef("array", item=parse_type(raw["array"], values, lookup))
    return TypeRef(str(raw), values=tuple(str(v) for v in values or ()))


def parse_default(raw: Any) -> Default | None:
    if raw is None:
        return None
    if raw in ("now", "uuid4", "uuidv7"):
        return Default(cast(Literal["now", "uuid4", "uuidv7"], raw))
    return Default("literal", freeze(raw))


def freeze(value: Any) -> Any:
    return tuple(freeze(v) for v in value) if isinstance(value, list) else value


def _argument(name: str, raw: Any, origin: Origin, names: Names) -> Argument:
    names.identifier(name, "argument", origin, "action input class", inputs=True)
    if not isinstance(raw, dict):
        return Argument(name, parse_type(raw), origin)
    return Argument(
        name=name,
        type=parse_type(raw["type"], raw.get("values")),
        origin=origin,
        allow_nil=raw.get("allow_nil", True),
        default=parse_default(raw.get("default")),
        sensitive=raw.get("sensitive", False),
        personal=raw.get("personal", False),
        description=raw.get("description", ""),
    )


def action(name: str, raw: Raw, origin: Origin, names: Names) -> Action:
    names.identifier(name, "action", origin)
    return Action(
        name=name,
        type=raw["type"],
        origin=origin,
        accept=tuple(raw.get("accept", ())),
        arguments=tuple(
            _argument(n, a, origin.at("arguments", n), names)
            for n, a in raw.get("arguments", {}).items()
        ),
        changes=tuple(
            _change(c, origin.at("changes", i)) for i, c in enumerate(raw.get("changes", []))
        ),
        validations=_validations(raw.get("validations", []), origin.at("validations")),
        upsert_identity=raw["upsert"]["identity"] if "upsert" in raw else None,
        soft_attribute=raw["soft"]["attribute"] if "soft" in raw else None,
        manages=tuple(
            _manage(n, m, origin.at("manage_relationships", n), names)
            for n, m in raw.get("manage_relationships", {}).items()
        ),
        require_actor=raw.get("require_actor"),
        description=raw.get("description", ""),
    )


def _manage(name: str, raw: Raw, origin: Origin, names: Names) -> Manage:
    names.identifier(name, "argument", origin, "action input class", inputs=True)
    return Manage(
        argument=name,
        relationship=raw.get("relationship", name),
        type=raw["type"],
        origin=origin,
        identity=raw.get("identity"),
        create_action=raw.get("create_action", "create"),
        update_action=raw.get("update_action", "update"),
        destroy_action=raw.get("destroy_action", "destroy"),
        description=raw.get("description", ""),
    )


def _change(raw: Raw, origin: Origin) -> Change:
    kind: ChangeKind = next(k for k in _CHANGE_KINDS if k in raw)
    outer = _validations(raw.get("where", []), origin.at("where"))
    if kind != "set_attribute":
        return Change(kind, origin, ref=raw[kind], where=outer)
    body: Raw = raw[kind]
    inner = _validations(body.get("where", []), origin.at(kind, "where"))
    return Change(
        "set_attribute",
        origin,
        attribute=body["attribute"],
        value=freeze(body.get("value")),
        from_argument=body.get("from_argument"),
        from_actor=body.get("from_actor"),
        has_value="value" in body,
        where=inner + outer,
    )


def validations(raw: list[Raw], origin: Origin) -> tuple[Validation, ...]:
    """The validations ``raw`` lists (of an action, or of an embedded spec)."""
    return _validations(raw, origin)


def _validations(raw: list[Raw], origin: Origin) -> tuple[Validation, ...]:
    return tuple(_validation(v, origin.at(i)) for i, v in enumerate(raw))


def _validation(raw: Raw, origin: Origin) -> Validation:
    kind = next(k for k in VALIDATION_KINDS if k in raw)
    body = raw[kind]
    where = _validations(raw.get("where", []), origin.at("where"))
    message = raw.get("message")
    options: tuple[tuple[str, object], ...]
    if kind == "call":
        options = (("call", body),)
    elif isinstance(body, list):
        options = (("attributes", tuple(body)),)
    else:
        options = tuple(
            (k, tuple(v) if k == "attributes" else freeze(v))
            for k, v in body.items()
            if k not in ("message", "where")
        )
        where = _validations(body.get("where", []), origin.at(kind, "where")) + where
        message = body.get("message", message)
    return Validation(kind, options, origin, message, where)


def events(raw: Raw, origin: Origin) -> Events:
    only = raw.get("only_actions")
    return Events(
        event_log=raw["event_log"],
        origin=origin,
        only_actions=tuple(only) if only is not None else None,
        ignore_actions=tuple(raw.get("ignore_actions", ())),
        current_action_versions=tuple(raw.get("current_action_versions", {}).items()),
        create_timestamp=raw.get("create_timestamp"),
        update_timestamp=raw.get("update_timestamp"),
        replay_non_input_attribute_changes=tuple(
            raw.get("replay_non_input_attribute_changes", {}).items()
        ),
        allowed_change_modules=tuple(
            (action, tuple(refs)) for action, refs in raw.get("allowed_change_modules", {}).items()
        ),
        upcasters=tuple(
            _upcaster(action, u, origin.at("upcasters", action, i))
            for action, items in sorted(raw.get("upcasters", {}).items())
            for i, u in enumerate(items)
        ),
    )


def _upcaster(action: str, raw: Raw, origin: Origin) -> Upcaster:
    steps = []
    for i, step in enumerate(raw["steps"]):
        where = origin.at("steps", i)
        kind = next(iter(step))
        body = step[kind]
        if kind == "call":
            steps.append(UpcastStep("call", where, ref=body))
        elif kind == "rename":
            steps.append(
                UpcastStep("rename", where, body["from"], body["to"], body.get("in", "data"))
            )
        elif kind == "move":
            steps.append(UpcastStep("move", where, body["key"], body["to"]))
        else:
            steps.append(
                UpcastStep(
                    kind,
                    where,
                    body["key"],
                    in_=body.get("in", "data"),
                    value=freeze(body.get("value")),
                    values=tuple((str(k), freeze(v)) for k, v in body.get("values", {}).items()),
                )
            )
    return Upcaster(action, raw["from_version"], tuple(steps), origin)

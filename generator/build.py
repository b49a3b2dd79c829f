"""Validated spec dicts -> the IR, applying every default, and checking every name once (ES20x).

Codes: ES201 invalid identifier (not a Python identifier, or a keyword), ES202 name reserved by the
generated code (read from the templates, see ``reserved.py``), ES203 class name not CamelCase,
ES262 text without a UTF-8 form, ES270 a name Python would read as another one (not in NFKC
form), ES283 a NUL character in a spec string.
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, cast

from .diagnostics import Diagnostic, Origin, at
from .ir import (
    VALIDATION_KINDS,
    Action,
    ActorKey,
    Argument,
    Attribute,
    Change,
    Constraints,
    Default,
    EventLog,
    Events,
    Identity,
    LeftOut,
    Multitenancy,
    Project,
    Relationship,
    ReplayOverride,
    Resource,
    RouteTarget,
    TypeRef,
    Upcaster,
    UpcastStep,
    Validation,
    plural,
    snake_case,
)
from .printer import unrepresentable
from .reserved import generated_names

Raw = dict[str, Any]
_CLASS_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ChangeKind = Literal["set_attribute", "call", "before_action", "after_action"]
_CHANGE_KINDS: tuple[ChangeKind, ...] = ("set_attribute", "call", "before_action", "after_action")
_VALIDATION_KINDS = VALIDATION_KINDS


@dataclass(frozen=True)
class SpecDocument:
    """One schema-valid spec document."""

    kind: str  # "resource" | "event_log"
    value: Raw
    origin: Origin


def build_project(
    settings: Raw,
    root: Path,
    origin: Origin,
    specs: list[SpecDocument],
    left_out: LeftOut | None = None,
) -> tuple[Project, list[Diagnostic]]:
    """The IR of the schema-valid ``specs``; ``left_out`` names the documents that were not."""
    names = _Names()
    problem = package_problem(str(settings["package"]))
    if problem is not None:
        message = f"package {str(settings['package'])!r} {problem}"
        names.out.append(at(origin, "ES201", message, "package"))
    names.out.extend(_unrepresentable_text(specs))
    names.out.extend(_nul_characters(settings, origin))
    for spec in specs:
        names.out.extend(_nul_characters(spec.value, spec.origin))
    raw_resources = [s for s in specs if s.kind == "resource"]
    primary_keys = {str(s.value["name"]): _declared_primary_key(s.value) for s in raw_resources}
    logs = [_event_log(s, primary_keys, names) for s in specs if s.kind == "event_log"]
    resources = [_resource(s, primary_keys, names) for s in raw_resources]
    project = Project(
        package=str(settings["package"]),
        root=root,
        output=Path(settings["output"]),
        specs=Path(settings.get("specs", "specs")),
        migrations=Path(settings.get("migrations", "migrations")),
        origin=origin,
        database_url=settings.get("database_url"),
        resources=tuple(sorted(resources, key=lambda r: r.name)),
        event_logs=tuple(sorted(logs, key=lambda e: e.name)),
        left_out=left_out or LeftOut(),
    )
    return project, names.out


def _unrepresentable_text(specs: list[SpecDocument]) -> Iterator[Diagnostic]:
    """ES262: every string of every spec, keys included, must have a UTF-8 form."""
    stack: list[tuple[object, Origin]] = [(spec.value, spec.origin) for spec in specs]
    while stack:
        value, origin = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                problem = unrepresentable(str(key))
                if problem is not None:
                    yield at(origin, "ES262", f"key {key!r} {problem}", key, key=True)
                stack.append((item, origin.at(key)))
        elif isinstance(value, list):
            stack.extend((item, origin.at(i)) for i, item in enumerate(value))
        elif isinstance(value, str) and (problem := unrepresentable(value)) is not None:
            yield at(origin, "ES262", f"text {value!r} {problem}")


def package_problem(package: str) -> str | None:
    """Why ``package`` is not an import path for the generated package (config and ``init``)."""
    for part in package.split("."):
        if not part.isidentifier():
            return "is not a dotted import path of Python identifiers like 'accounts.data'"
        if keyword.iskeyword(part):
            return f"contains the Python keyword {part!r}"
    return None


def _nul_characters(value: Any, origin: Origin) -> list[Diagnostic]:
    """ES283 for every string holding a NUL: no database stores it and C strings end there."""
    out: list[Diagnostic] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                message = f"the key {key!r} holds a NUL character"
                out.append(at(origin.at(key), "ES283", message, key=True))
            out.extend(_nul_characters(item, origin.at(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(_nul_characters(item, origin.at(index)))
    elif isinstance(value, str) and "\x00" in value:
        out.append(at(origin, "ES283", f"the value {value!r} holds a NUL character"))
    return out


class _Names:
    """Collects identifier diagnostics while the IR is built."""

    def __init__(self) -> None:
        self.out: list[Diagnostic] = []

    def identifier(
        self, name: str, what: str, origin: Origin, role: str = "", *, inputs: bool = False
    ) -> None:
        """One rule set for every name: an identifier, not a keyword, written as Python reads it
        (NFKC), and not a name the generated code uses where this one lands (``role``: "model",
        "event log model"; ``inputs`` for names passed as keyword arguments of an action)."""
        if not name.isidentifier():
            self._add(origin, "ES201", f"{what} name '{name}' is not a valid Python identifier")
        elif keyword.iskeyword(name):
            self._add(origin, "ES201", f"{what} name '{name}' is a Python keyword")
        elif unicodedata.normalize("NFKC", name) != name:
            normal = unicodedata.normalize("NFKC", name)
            message = (
                f"{what} name '{name}' is '{normal}' to Python (identifiers are NFKC-normalised)"
            )
            hint = f"write it as '{normal}', so that Python and the database agree on the name"
            self.out.append(at(origin, "ES270", message, key=True, hint=hint))
        elif inputs and name in generated_names().action_parameters:
            reserved_names = ", ".join(sorted(generated_names().action_parameters))
            message = f"{what} name '{name}' is reserved by the generated code ({reserved_names})"
            self._add(origin, "ES202", message)
        elif role:
            self._member(name, what, origin, role)

    def _member(self, name: str, what: str, origin: Origin, role: str) -> None:
        names = generated_names()
        members = {
            "model": names.model_members,
            "event log model": names.log_members,
            "action input class": names.input_members,
        }[role]
        if name in members or (name.startswith("__") and name.endswith("__")):
            used = "a name the generated class reads, defines or inherits"
        elif name.startswith("_sa_"):
            used = "SQLAlchemy reserves the _sa_ prefix on mapped classes"
        else:
            return
        message = f"{what} name '{name}' would shadow a name of the generated {role} ({used})"
        self.out.append(at(origin, "ES202", message, key=True, hint="choose another name"))

    def class_name(self, name: str, what: str, origin: Origin) -> None:
        if not _CLASS_NAME.fullmatch(name) or keyword.iskeyword(name):
            message = (
                f"{what} name '{name}' must be a CamelCase class name (A-Z, then letters/digits)"
            )
            self.out.append(at(origin, "ES203", message, "name"))
        elif name in generated_names().package_classes:
            reserved = ", ".join(sorted(generated_names().package_classes))
            message = f"{what} name '{name}' is a class of the generated package ({reserved})"
            self.out.append(at(origin, "ES202", message, "name"))

    def table(self, name: str, origin: Origin, explicit: bool) -> None:
        if not _TABLE_NAME.fullmatch(name):
            message = f"table name '{name}' must be letters, digits and underscores"
            self.out.append(at(origin, "ES201", message, *(("table",) if explicit else ("name",))))

    def _add(self, origin: Origin, code: str, message: str) -> None:
        self.out.append(at(origin, code, message, key=True))


def parse_type(raw: Any, values: Any = None) -> TypeRef:
    if isinstance(raw, dict):  # an array: ``values`` belong to its (enum) items
        return TypeRef("array", item=parse_type(raw["array"], values))
    return TypeRef(str(raw), values=tuple(str(v) for v in values or ()))


def _parse_default(raw: Any) -> Default | None:
    if raw is None:
        return None
    if raw in ("now", "uuid4", "uuidv7"):
        return Default(cast(Literal["now", "uuid4", "uuidv7"], raw))
    return Default("literal", _freeze(raw))


def _freeze(value: Any) -> Any:
    return tuple(_freeze(v) for v in value) if isinstance(value, list) else value


def _declared_primary_key(raw: Raw) -> tuple[str, TypeRef] | None:
    keys = [
        (name, parse_type(spec["type"], spec.get("values")))
        for name, spec in raw.get("attributes", {}).items()
        if isinstance(spec, dict) and spec.get("primary_key")
    ]
    return keys[0] if len(keys) == 1 else None


def _event_log(
    spec: SpecDocument, primary_keys: dict[str, tuple[str, TypeRef] | None], names: _Names
) -> EventLog:
    raw, origin = spec.value, spec.origin
    name = str(raw["name"])
    names.class_name(name, "event log", origin)
    table = raw.get("table") or plural(snake_case(name))
    names.table(table, origin, "table" in raw)
    actors = []
    for column, entry in raw.get("persist_actor_primary_key", {}).items():
        where = origin.at("persist_actor_primary_key", column)
        names.identifier(column, "actor column", where, "event log model")
        key = primary_keys.get(entry["actor"])
        default_type = key[1] if key else TypeRef("uuid")
        attribute_type = entry.get("attribute_type")
        actors.append(
            ActorKey(
                name=column,
                actor=entry["actor"],
                attribute_type=parse_type(attribute_type) if attribute_type else default_type,
                origin=where,
                primary_key=entry.get("primary_key") or (key[0] if key else "id"),
                allow_nil=entry.get("allow_nil", True),
            )
        )
    lock = raw.get("advisory_lock_key_default", 2147483647)
    public = raw.get("public_fields", [])
    return EventLog(
        name=name,
        table=table,
        origin=origin,
        primary_key_type=raw.get("primary_key_type", "integer"),
        record_id_type=raw.get("record_id_type", "uuid"),
        clear_records_for_replay=raw.get("clear_records_for_replay", "auto"),
        actors=tuple(actors),
        advisory_lock_key_default=cast(tuple[int, int], tuple(lock))
        if isinstance(lock, list)
        else lock,
        advisory_lock_key_generator=raw.get("advisory_lock_key_generator"),
        encryption_key_env=raw["encryption"]["key_env"] if "encryption" in raw else None,
        public_fields="all" if public == "all" else tuple(public),
        replay_overrides=tuple(
            _override(o, origin.at("replay_overrides", i))
            for i, o in enumerate(raw.get("replay_overrides", []))
        ),
        description=raw.get("description", ""),
    )


def _override(raw: Raw, origin: Origin) -> ReplayOverride:
    return ReplayOverride(
        resource=raw["resource"],
        action=raw["action"],
        versions=tuple(raw["versions"]),
        route_to=tuple(
            RouteTarget(t["resource"], t["action"], origin.at("route_to", i))
            for i, t in enumerate(raw["route_to"])
        ),
        origin=origin,
    )


def _resource(
    spec: SpecDocument, primary_keys: dict[str, tuple[str, TypeRef] | None], names: _Names
) -> Resource:
    raw, origin = spec.value, spec.origin
    name = str(raw["name"])
    names.class_name(name, "resource", origin)
    table = raw.get("table") or plural(snake_case(name))
    names.table(table, origin, "table" in raw)
    attributes = [
        _attribute(n, a, origin.at("attributes", n), names)
        for n, a in raw.get("attributes", {}).items()
    ]
    own_key = primary_keys.get(name)
    relationships = []
    for rel_name, rel in raw.get("relationships", {}).items():
        where = origin.at("relationships", rel_name)
        names.identifier(rel_name, "relationship", where, "model")
        relationship = _relationship(rel_name, rel, where, name, own_key, primary_keys)
        relationships.append(relationship)
        if relationship.type == "belongs_to":
            attributes = _with_foreign_key(attributes, relationship, primary_keys)
    identities = []
    for identity_name, keys in raw.get("identities", {}).items():
        where = origin.at("identities", identity_name)
        names.identifier(identity_name, "identity", where)
        identities.append(Identity(identity_name, tuple(keys), where))
    actions = [
        _action(n, a, origin.at("actions", n), names) for n, a in raw.get("actions", {}).items()
    ]
    tenancy = raw.get("multitenancy")
    return Resource(
        name=name,
        table=table,
        origin=origin,
        attributes=tuple(attributes),
        relationships=tuple(relationships),
        identities=tuple(identities),
        actions=tuple(actions),
        events=_events(raw["events"], origin.at("events")) if "events" in raw else None,
        multitenancy=Multitenancy("attribute", tenancy["attribute"], origin.at("multitenancy"))
        if tenancy
        else None,
        description=raw.get("description", ""),
        renamed_from=raw.get("renamed_from"),
    )


def _attribute(name: str, raw: Any, origin: Origin, names: _Names) -> Attribute:
    names.identifier(name, "attribute", origin, "model", inputs=True)
    if not isinstance(raw, dict):
        return Attribute(name, parse_type(raw), origin)
    constraints = raw.get("constraints", {})
    return Attribute(
        name=name,
        type=parse_type(raw["type"], raw.get("values")),
        origin=origin,
        primary_key=raw.get("primary_key", False),
        allow_nil=raw.get("allow_nil", not raw.get("primary_key", False)),
        default=_parse_default(raw.get("default")),
        update_default=_parse_default(raw.get("update_default")),
        writable=raw.get("writable", True),
        sensitive=raw.get("sensitive", False),
        constraints=Constraints(**constraints),
        description=raw.get("description", ""),
        renamed_from=raw.get("renamed_from"),
    )


def _relationship(
    name: str,
    raw: Raw,
    origin: Origin,
    owner: str,
    own_key: tuple[str, TypeRef] | None,
    primary_keys: dict[str, tuple[str, TypeRef] | None],
) -> Relationship:
    kind = raw["type"]
    destination_key = primary_keys.get(raw["destination"])
    if kind == "belongs_to":
        source = raw.get("source_attribute") or f"{name}_id"
        target = raw.get("destination_attribute") or (
            destination_key[0] if destination_key else "id"
        )
    else:
        source = raw.get("source_attribute") or (own_key[0] if own_key else "id")
        target = raw.get("destination_attribute") or f"{snake_case(owner)}_id"
    attribute_type = raw.get("attribute_type")
    return Relationship(
        name=name,
        type=kind,
        destination=raw["destination"],
        origin=origin,
        source_attribute=source,
        destination_attribute=target,
        allow_nil=raw.get("allow_nil", True),
        attribute_type=parse_type(attribute_type) if attribute_type else None,
        on_delete=raw.get("on_delete"),
        allow_replay_clear=raw.get("allow_replay_clear", False),
    )


def _with_foreign_key(
    attributes: list[Attribute],
    rel: Relationship,
    primary_keys: dict[str, tuple[str, TypeRef] | None],
) -> list[Attribute]:
    """A belongs_to adds its foreign key after the declared attributes, or marks a declared one."""
    declared = next((a for a in attributes if a.name == rel.source_attribute), None)
    if declared is not None:
        return [replace(a, belongs_to=rel.name) if a is declared else a for a in attributes]
    destination_key = primary_keys.get(rel.destination)
    fk_type = rel.attribute_type or (destination_key[1] if destination_key else TypeRef("uuid"))
    fk = Attribute(
        rel.source_attribute, fk_type, rel.origin, allow_nil=rel.allow_nil, belongs_to=rel.name
    )
    return [*attributes, fk]


def _argument(name: str, raw: Any, origin: Origin, names: _Names) -> Argument:
    names.identifier(name, "argument", origin, "action input class", inputs=True)
    if not isinstance(raw, dict):
        return Argument(name, parse_type(raw), origin)
    return Argument(
        name=name,
        type=parse_type(raw["type"], raw.get("values")),
        origin=origin,
        allow_nil=raw.get("allow_nil", True),
        default=_parse_default(raw.get("default")),
        sensitive=raw.get("sensitive", False),
        description=raw.get("description", ""),
    )


def _action(name: str, raw: Raw, origin: Origin, names: _Names) -> Action:
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
        value=_freeze(body.get("value")),
        from_argument=body.get("from_argument"),
        from_actor=body.get("from_actor"),
        has_value="value" in body,
        where=inner + outer,
    )


def _validations(raw: list[Raw], origin: Origin) -> tuple[Validation, ...]:
    return tuple(_validation(v, origin.at(i)) for i, v in enumerate(raw))


def _validation(raw: Raw, origin: Origin) -> Validation:
    kind = next(k for k in _VALIDATION_KINDS if k in raw)
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
            (k, tuple(v) if k == "attributes" else _freeze(v))
            for k, v in body.items()
            if k not in ("message", "where")
        )
        where = _validations(body.get("where", []), origin.at(kind, "where")) + where
        message = body.get("message", message)
    return Validation(kind, options, origin, message, where)


def _events(raw: Raw, origin: Origin) -> Events:
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
                    value=_freeze(body.get("value")),
                    values=tuple((str(k), _freeze(v)) for k, v in body.get("values", {}).items()),
                )
            )
    return Upcaster(action, raw["from_version"], tuple(steps), origin)

"""Validated spec dicts -> the IR, applying every default and checking every name once.

The names and texts are checked by ``build_checks``; actions and events are built by
``build_behaviour``; resources and event logs here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from .build_behaviour import Lookup, Raw, action, events, parse_default, parse_type
from .build_checks import Names, nul_characters, output_problem, unrepresentable_text
from .build_checks import package_problem as package_problem  # ``init`` checks a package name too
from .build_embedded import EmbeddedSpecs
from .diagnostics import Diagnostic, Origin, at
from .ir import (
    ActorKey,
    Attribute,
    Constraints,
    DataSubject,
    EventLog,
    Identity,
    LeftOut,
    Multitenancy,
    Partitioning,
    Project,
    Relationship,
    ReplayOverride,
    Resource,
    RouteTarget,
    TypeRef,
    plural,
    snake_case,
)
from .personal import has_personal


@dataclass(frozen=True)
class SpecDocument:
    """One schema-valid spec document."""

    kind: str  # "resource" | "event_log" | "embedded"
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
    names = Names()
    problem = package_problem(str(settings["package"]))
    if problem is not None:
        message = f"package {str(settings['package'])!r} {problem}"
        names.out.append(at(origin, "ES201", message, "package"))
    else:
        problem = output_problem(str(settings["package"]), Path(settings["output"]), root)
        if problem is not None:
            names.out.append(at(origin, "ES209", problem, "output"))
    names.out.extend(unrepresentable_text((s.value, s.origin) for s in specs))
    names.out.extend(nul_characters(settings, origin))
    for spec in specs:
        names.out.extend(nul_characters(spec.value, spec.origin))
    raw_resources = [s for s in specs if s.kind == "resource"]
    primary_keys = {str(s.value["name"]): _declared_primary_key(s.value) for s in raw_resources}
    logs = [_event_log(s, primary_keys, names) for s in specs if s.kind == "event_log"]
    embedded = EmbeddedSpecs([(s.value, s.origin) for s in specs if s.kind == "embedded"], names)
    resources = [_resource(s, primary_keys, names, embedded.lookup) for s in raw_resources]
    personal_logs = {r.events.event_log for r in resources if r.events and has_personal(r)}
    logs = [replace(log, personal_data=log.name in personal_logs) for log in logs]
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
        embedded=tuple(embedded.all),
        left_out=left_out or LeftOut(),
    )
    return project, names.out


def _declared_primary_key(raw: Raw) -> tuple[str, TypeRef] | None:
    keys = [
        (name, parse_type(spec["type"], spec.get("values")))
        for name, spec in raw.get("attributes", {}).items()
        if isinstance(spec, dict) and spec.get("primary_key")
    ]
    return keys[0] if len(keys) == 1 else None


def _event_log(
    spec: SpecDocument, primary_keys: dict[str, tuple[str, TypeRef] | None], names: Names
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
        require_actor=raw.get("require_actor", False),
        description=raw.get("description", ""),
        partitioning=_partitioning(raw["partitioning"]) if "partitioning" in raw else None,
        archive=raw.get("archive", False),
    )


def _partitioning(raw: Raw) -> Partitioning:
    defaults = Partitioning()
    return Partitioning(
        by=raw.get("by", defaults.by),
        interval=raw.get("interval", defaults.interval),
        size=raw.get("size", defaults.size),
        ahead=raw.get("ahead", defaults.ahead),
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
    spec: SpecDocument,
    primary_keys: dict[str, tuple[str, TypeRef] | None],
    names: Names,
    lookup: Lookup,
) -> Resource:
    raw, origin = spec.value, spec.origin
    name = str(raw["name"])
    names.class_name(name, "resource", origin)
    table = raw.get("table") or plural(snake_case(name))
    names.table(table, origin, "table" in raw)
    attributes = [
        _attribute(n, a, origin.at("attributes", n), names, lookup)
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
        action(n, a, origin.at("actions", n), names) for n, a in raw.get("actions", {}).items()
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
        events=events(raw["events"], origin.at("events")) if "events" in raw else None,
        multitenancy=Multitenancy("attribute", tenancy["attribute"], origin.at("multitenancy"))
        if tenancy
        else None,
        description=raw.get("description", ""),
        renamed_from=raw.get("renamed_from"),
        data_subject=_data_subject(raw.get("data_subject"), origin.at("data_subject")),
        on_erase=raw.get("on_erase", "null"),
    )


def _data_subject(raw: Any, origin: Origin) -> DataSubject | None:
    if raw is None:
        return None
    if isinstance(raw, dict):
        return DataSubject("attribute", origin, str(raw["attribute"]))
    return DataSubject(cast(Any, raw), origin)


def _attribute(name: str, raw: Any, origin: Origin, names: Names, lookup: Lookup) -> Attribute:
    names.identifier(name, "attribute", origin, "model", inputs=True)
    if not isinstance(raw, dict):
        return Attribute(name, parse_type(raw), origin)
    constraints = raw.get("constraints", {})
    return Attribute(
        name=name,
        type=parse_type(raw["type"], raw.get("values"), lookup),
        origin=origin,
        primary_key=raw.get("primary_key", False),
        allow_nil=raw.get("allow_nil", not raw.get("primary_key", False)),
        default=parse_default(raw.get("default")),
        update_default=parse_default(raw.get("update_default")),
        writable=raw.get("writable", True),
        sensitive=raw.get("sensitive", False),
        personal=raw.get("personal", False),
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

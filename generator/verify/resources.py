"""References inside resources: relationships, identities, actions, changes and validations."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import yaml

from ..diagnostics import Diagnostic, at
from ..ir import Action, Argument, Attribute, Project, Resource, Validation
from .common import Rule, article, names, node_at


def _unknown_attribute(resource: Resource, name: str, role: str) -> str:
    known = names(a.name for a in resource.attributes)
    return f"{role} names unknown attribute '{name}' of '{resource.name}' (attributes: {known})"


def primary_keys(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        if not any(a.primary_key for a in resource.attributes):
            message = f"resource '{resource.name}' has no primary key; mark an attribute "
            message += "primary_key: true"
            step = "attributes" if node_at(resource.origin, "attributes") else "name"
            yield at(resource.origin, "ES212", message, step, key=True)


def relationships(project: Project) -> Iterator[Diagnostic]:
    known = names(r.name for r in project.resources)
    for resource in project.resources:
        for rel in resource.relationships:
            destination = project.resource(rel.destination)
            if destination is None:
                if rel.destination in project.left_out:
                    continue  # its own file's errors are reported
                message = f"relationship '{rel.name}' points to unknown resource "
                message += f"'{rel.destination}' (resources: {known})"
                yield at(rel.origin, "ES210", message, "destination")
                continue
            checks = [(destination, rel.destination_attribute, "destination_attribute")]
            if rel.type != "belongs_to":
                checks.append((resource, rel.source_attribute, "source_attribute"))
            for owner, name, key in checks:
                if owner.attribute(name) is None:
                    steps = (key,) if node_at(rel.origin, key) else ()
                    role = f"{key} of relationship '{rel.name}'"
                    yield at(rel.origin, "ES211", _unknown_attribute(owner, name, role), *steps)


def identities(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        for identity in resource.identities:
            for i, key in enumerate(identity.keys):
                if resource.attribute(key) is None:
                    role = f"identity '{identity.name}'"
                    yield at(identity.origin, "ES213", _unknown_attribute(resource, key, role), i)


def enum_values(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        inputs: list[Attribute | Argument] = [
            *resource.attributes,
            *(g for a in resource.actions for g in a.arguments),
        ]
        for item in inputs:
            base = item.type
            while base.item is not None:  # arrays: the values are their items'
                base = base.item
            if base.values and base.name != "enum":
                message = f"'{item.name}' has values but its type is '{base.name}', not enum"
                yield at(item.origin, "ES223", message, "values")


def array_items(project: Project) -> Iterator[Diagnostic]:
    """Array items are stored one by one as their own type: a scalar type or a map."""
    for resource in project.resources:
        inputs: list[Attribute | Argument] = [
            *resource.attributes,
            *(g for a in resource.actions for g in a.arguments),
        ]
        for item in inputs:
            item_type = item.type.item
            if item.type.name == "array" and item_type and item_type.name in ("array", "enum"):
                what = (
                    "an array"
                    if item_type.name == "array"
                    else "an enum (no database type is migrated for enum arrays yet)"
                )
                message = f"'{item.name}' is an array of {what}"
                yield at(
                    item.origin,
                    "ES295",
                    message,
                    "type",
                    hint="use {array: TYPE} with a scalar TYPE or a map (string items for an enum)",
                )


def accept_lists(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        for action in resource.actions:
            for i, name in enumerate(action.accept):
                attribute = resource.attribute(name)
                role = f"accept of action '{action.name}'"
                if attribute is None:
                    message = _unknown_attribute(resource, name, role)
                    yield at(action.origin, "ES214", message, "accept", i)
                elif not attribute.writable:
                    message = f"{role} names attribute '{name}', which is not writable"
                    yield at(action.origin, "ES215", message, "accept", i)


def upserts_and_soft_destroys(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        for action in resource.actions:
            yield from _upsert(resource, action)
            yield from _soft(resource, action)


def _upsert(resource: Resource, action: Action) -> Iterator[Diagnostic]:
    if action.upsert_identity is None:
        return
    if action.type != "create":
        message = f"upsert is only for create actions; '{action.name}' is {article(action.type)}"
        yield at(action.origin, "ES216", message, "upsert", key=True)
    if resource.identity(action.upsert_identity) is None:
        known = names(i.name for i in resource.identities)
        message = f"upsert names unknown identity '{action.upsert_identity}' of "
        message += f"'{resource.name}' (identities: {known})"
        yield at(action.origin, "ES216", message, "upsert", "identity")


def _soft(resource: Resource, action: Action) -> Iterator[Diagnostic]:
    if action.soft_attribute is None:
        return
    if action.type != "destroy":
        message = f"soft is only for destroy actions; '{action.name}' is {article(action.type)}"
        yield at(action.origin, "ES217", message, "soft", key=True)
    attribute = resource.attribute(action.soft_attribute)
    if attribute is None:
        message = _unknown_attribute(resource, action.soft_attribute, "soft destroy")
        yield at(action.origin, "ES217", message, "soft", "attribute")
    elif not attribute.type.is_timestamp:
        message = f"soft destroy attribute '{attribute.name}' must be a timestamp, "
        message += f"not {attribute.type.name}"
        yield at(action.origin, "ES217", message, "soft", "attribute")


def changes(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        for action in resource.actions:
            arguments = {a.name for a in action.arguments}
            for change in action.changes:
                if change.kind != "set_attribute" or change.attribute is None:
                    continue
                if resource.attribute(change.attribute) is None:
                    message = _unknown_attribute(resource, change.attribute, "set_attribute")
                    yield at(change.origin, "ES218", message, "set_attribute", "attribute")
                if change.from_argument is not None and change.from_argument not in arguments:
                    message = f"from_argument names unknown argument '{change.from_argument}' "
                    message += f"of action '{action.name}' (arguments: {names(arguments)})"
                    yield at(change.origin, "ES219", message, "set_attribute", "from_argument")


def validations(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        for action in resource.actions:
            known = {a.name for a in resource.attributes} | {g.name for g in action.arguments}
            found = list(action.validations)
            found += [w for c in action.changes for w in c.where]
            for validation in _with_conditions(found):
                yield from _validation(resource, action, known, validation)


def _with_conditions(items: Iterable[Validation]) -> Iterator[Validation]:
    for item in items:
        yield item
        yield from _with_conditions(item.where)


def _validation(
    resource: Resource, action: Action, known: set[str], validation: Validation
) -> Iterator[Diagnostic]:
    kind = validation.kind
    listed = validation.option("attributes")
    targets: list[tuple[str, tuple[str | int, ...]]]
    if isinstance(listed, tuple):
        in_map = isinstance(node_at(validation.origin, kind), yaml.MappingNode)
        targets = [
            (str(n), (kind, "attributes", i) if in_map else (kind, i)) for i, n in enumerate(listed)
        ]
    elif isinstance(validation.option("attribute"), str):
        targets = [(str(validation.option("attribute")), (kind, "attribute"))]
    else:
        targets = []
    for name, steps in targets:
        if name not in known:
            message = f"{kind} validation names '{name}', which is neither an attribute of "
            message += f"'{resource.name}' nor an argument of action '{action.name}'"
            yield at(validation.origin, "ES220", message, *steps)
    pattern = validation.option("pattern")
    if kind == "match" and isinstance(pattern, str):
        try:
            re.compile(pattern)
        except re.error as exc:
            message = f"invalid regular expression {pattern!r}: {exc}"
            yield at(validation.origin, "ES221", message, kind, "pattern")


# What the runtime casts a tenant to (and derives a default advisory lock key from).
TENANT_TYPES = ("uuid", "uuidv7", "integer", "big_integer", "string", "text")


def multitenancy(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        tenancy = resource.multitenancy
        if tenancy is None:
            continue
        attribute = resource.attribute(tenancy.attribute)
        if attribute is None:
            message = _unknown_attribute(resource, tenancy.attribute, "multitenancy")
            yield at(tenancy.origin, "ES222", message, "attribute")
        elif attribute.type.name not in TENANT_TYPES:
            message = f"tenant attribute '{attribute.name}' of '{resource.name}' is of type "
            message += f"{attribute.type.name}; a tenant is one of: {', '.join(TENANT_TYPES)}"
            yield at(tenancy.origin, "ES298", message, "attribute")


RULES: tuple[Rule, ...] = (
    primary_keys,
    relationships,
    identities,
    enum_values,
    array_items,
    accept_lists,
    upserts_and_soft_destroys,
    changes,
    validations,
    multitenancy,
)

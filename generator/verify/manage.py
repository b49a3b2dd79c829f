"""Managed relationships (``manage_relationships``): nested writes through relationships.

* ES350 on an action that is not a create or an update
* ES351 an unknown relationship, or a strategy its kind of relationship cannot have
* ES352 a destination action that does not exist or is not of the kind its role needs
* ES353 a destination action that does not accept the foreign key the nested write sets
* ES354 an unknown identity, one of nothing but the foreign key (or, to relate, one holding
  it), or one for the create type
* ES355 an input name taken by the action's accepted attributes or arguments, or a belongs_to
  foreign key the action accepts as well as managing it
* ES356 a belongs_to managed by an action whose events replay ``as_arguments``
* ES357 a foreign key that unrelating (remove, append_and_remove) would set to null, which it
  cannot be
"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic, at
from ..ir import Action, Manage, Project, Relationship, Resource
from ..manage_views import RELATE, match_keys
from .common import Rule, article, names, node_at

# What each kind of relationship can be managed with.
_STRATEGIES = {
    "has_many": ("create", "upsert", "direct_control", "append", "remove", "append_and_remove"),
    "has_one": ("create", "upsert", "direct_control"),
    "belongs_to": ("create", "upsert", "append"),
}


def managed_relationships(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        for action in resource.actions:
            for manage in action.manages:
                yield from _manage(project, resource, action, manage)


def _manage(
    project: Project, resource: Resource, action: Action, manage: Manage
) -> Iterator[Diagnostic]:
    if action.type not in ("create", "update"):
        message = f"manage_relationships is for create and update actions; '{action.name}' is "
        message += article(action.type)
        yield at(manage.origin, "ES350", message, key=True)
        return
    taken = {*action.accept, *(arg.name for arg in action.arguments)}
    if manage.argument in taken:
        message = f"input '{manage.argument}' of '{resource.name}.{action.name}' is also an "
        message += "accepted attribute or an argument: a managed relationship needs its own name"
        yield at(manage.origin, "ES355", message, key=True)
    relationship = next((r for r in resource.relationships if r.name == manage.relationship), None)
    steps = ("relationship",) if node_at(manage.origin, "relationship") else ()
    if relationship is None:
        known = names(r.name for r in resource.relationships)
        message = f"manage_relationships '{manage.argument}' names unknown relationship "
        message += f"'{manage.relationship}' of '{resource.name}' (relationships: {known})"
        yield at(manage.origin, "ES351", message, *steps, key=not steps)
        return
    allowed = _STRATEGIES[relationship.type]
    if manage.type not in allowed:
        message = f"'{manage.argument}' manages {relationship.type} '{relationship.name}' with "
        message += f"{manage.type}; a {relationship.type} takes {', '.join(allowed)}"
        yield at(manage.origin, "ES351", message, "type")
        return
    if relationship.type == "belongs_to":
        yield from _belongs_to(resource, action, manage, relationship)
    destination = project.resource(relationship.destination)
    if destination is None:
        return  # ES210 says so
    yield from _actions(resource, destination, manage, relationship)
    if manage.identity is not None:
        yield from _identity(destination, manage, relationship)
    pointer = destination.attribute(relationship.destination_attribute)
    if manage.type in ("remove", "append_and_remove") and pointer and not pointer.allow_nil:
        message = f"'{manage.argument}' unrelates {destination.name} records by setting "
        message += f"'{pointer.name}' to null, which it cannot be (allow_nil: false); "
        message += "use direct_control to destroy them instead"
        yield at(manage.origin, "ES357", message, "type")


def _belongs_to(
    resource: Resource, action: Action, manage: Manage, relationship: Relationship
) -> Iterator[Diagnostic]:
    if relationship.source_attribute in action.accept:
        message = f"'{resource.name}.{action.name}' accepts '{relationship.source_attribute}', "
        message += f"which its managed input '{manage.argument}' sets: accept one of them"
        yield at(manage.origin, "ES355", message, key=True)
    events = resource.events
    if events and events.strategy_of(action.name) != "force_change":
        message = f"'{manage.argument}' sets '{relationship.source_attribute}' of "
        message += f"'{resource.name}.{action.name}', whose events replay as_arguments: replay "
        message += "would not set it (it is not an input), so the rebuilt record would lose it"
        yield at(manage.origin, "ES356", message, key=True)


def _roles(manage: Manage, relationship: Relationship) -> list[tuple[str, str, str]]:
    """The destination actions the strategy runs: (spec key, action name, action type)."""
    if manage.type in RELATE:
        if relationship.type == "belongs_to":
            return []  # append only points the parent at the record it finds
        return [("update_action", manage.update_action, "update")]
    roles = [("create_action", manage.create_action, "create")]
    if manage.type != "create":
        roles.append(("update_action", manage.update_action, "update"))
    if manage.type == "direct_control":
        roles.append(("destroy_action", manage.destroy_action, "destroy"))
    return roles


def _actions(
    resource: Resource, destination: Resource, manage: Manage, relationship: Relationship
) -> Iterator[Diagnostic]:
    for key, name, kind in _roles(manage, relationship):
        found = next((a for a in destination.actions if a.name == name), None)
        if found is None or found.type != kind:
            known = names(a.name for a in destination.actions if a.type == kind)
            message = f"{key} of '{manage.argument}' must be {article(kind)} action of "
            message += f"'{destination.name}'; '{name}' is "
            message += "not one" if found is None else article(found.type)
            message += f" ({kind} actions: {known})"
            where = (key,) if node_at(manage.origin, key) else ()
            yield at(manage.origin, "ES352", message, *where)
            continue
        sets_pointer = kind == "create" or manage.type in RELATE
        pointer = relationship.destination_attribute
        if relationship.type != "belongs_to" and sets_pointer and pointer not in found.accept:
            message = f"'{destination.name}.{name}' must accept '{pointer}': the managed "
            message += f"relationship '{manage.argument}' sets it to the '{resource.name}' it "
            message += "writes for" if kind == "create" else "relates"
            message += ", and its event must record it"
            hint = f"add {pointer} to the accept list of {name}"
            yield at(manage.origin, "ES353", message, key=True, hint=hint)


def _identity(
    destination: Resource, manage: Manage, relationship: Relationship
) -> Iterator[Diagnostic]:
    identity = destination.identity(manage.identity or "")
    if manage.type == "create":
        message = "identity is for the strategies that match records: create matches nothing"
        yield at(manage.origin, "ES354", message, "identity")
    elif identity is None:
        known = names(i.name for i in destination.identities)
        message = f"identity '{manage.identity}' is not an identity of '{destination.name}' "
        message += f"(identities: {known})"
        yield at(manage.origin, "ES354", message, "identity")
    elif (
        manage.type in RELATE
        and relationship.type != "belongs_to"
        and (relationship.destination_attribute in identity.keys)
    ):
        message = f"identity '{manage.identity}' holds the foreign key "
        message += f"'{relationship.destination_attribute}': a record to relate is found by "
        message += "what names it whatever it is related to (its primary key, by default)"
        yield at(manage.origin, "ES354", message, "identity")
    elif not match_keys(relationship, destination, manage):
        message = f"identity '{manage.identity}' holds nothing but the foreign key (and the "
        message += "tenant): it cannot tell one related record from another"
        yield at(manage.origin, "ES354", message, "identity")


RULES: tuple[Rule, ...] = (managed_relationships,)

"""Managed relationships (``manage_relationships``): nested writes through has_many relationships.

* ES350 on an action that is not a create or an update
* ES351 an unknown relationship, or a belongs_to managed with direct_control
* ES352 a destination action that does not exist or is not of the kind its role needs
* ES353 a create action that does not accept the relationship's foreign key
* ES354 an unknown identity, one of nothing but the foreign key, or one for the create type
* ES355 an input name taken by the action's accepted attributes or arguments, or a belongs_to
  foreign key the action accepts as well as managing it
* ES356 a belongs_to managed by an action whose events replay ``as_arguments``
"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic, at
from ..ir import Action, Manage, Project, Resource
from ..manage_views import match_keys
from .common import Rule, article, names, node_at


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
    if relationship.type == "belongs_to" and manage.type == "direct_control":
        message = f"'{manage.argument}' manages belongs_to '{relationship.name}' with "
        message += "direct_control, which destroys the related records no item names: a "
        message += "belongs_to has one, the parent's; use create or upsert"
        yield at(manage.origin, "ES351", message, "type")
        return
    if relationship.type == "belongs_to" and relationship.source_attribute in action.accept:
        message = f"'{resource.name}.{action.name}' accepts '{relationship.source_attribute}', "
        message += f"which its managed input '{manage.argument}' sets: accept one of them"
        yield at(manage.origin, "ES355", message, key=True)
    events = resource.events
    if (
        relationship.type == "belongs_to"
        and events
        and events.strategy_of(action.name) != "force_change"
    ):
        message = f"'{manage.argument}' sets '{relationship.source_attribute}' of "
        message += f"'{resource.name}.{action.name}', whose events replay as_arguments: replay "
        message += "would not set it (it is not an input), so the rebuilt record would lose it"
        yield at(manage.origin, "ES356", message, key=True)
    destination = project.resource(relationship.destination)
    if destination is None:
        return  # ES210 says so
    roles = [("create_action", manage.create_action, "create")]
    if manage.type != "create":
        roles.append(("update_action", manage.update_action, "update"))
    if manage.type == "direct_control":
        roles.append(("destroy_action", manage.destroy_action, "destroy"))
    for key, name, kind in roles:
        found = next((a for a in destination.actions if a.name == name), None)
        if found is None or found.type != kind:
            known = names(a.name for a in destination.actions if a.type == kind)
            message = f"{key} of '{manage.argument}' must be {article(kind)} action of "
            message += f"'{destination.name}'; '{name}' is "
            message += "not one" if found is None else article(found.type)
            message += f" ({kind} actions: {known})"
            yield at(
                manage.origin, "ES352", message, *((key,) if node_at(manage.origin, key) else ())
            )
        elif (
            kind == "create"
            and relationship.type != "belongs_to"
            and relationship.destination_attribute not in found.accept
        ):
            message = (
                f"'{destination.name}.{name}' must accept '{relationship.destination_attribute}'"
            )
            message += f": the managed relationship '{manage.argument}' sets it to the "
            message += f"'{resource.name}' it writes for, and its event must record it"
            hint = f"add {relationship.destination_attribute} to the accept list of {name}"
            yield at(manage.origin, "ES353", message, key=True, hint=hint)
    if manage.identity is not None:
        if manage.type == "create":
            message = "identity is for the upsert and direct_control types: create matches nothing"
            yield at(manage.origin, "ES354", message, "identity")
        elif destination.identity(manage.identity) is None:
            known = names(i.name for i in destination.identities)
            message = f"identity '{manage.identity}' is not an identity of '{destination.name}' "
            message += f"(identities: {known})"
            yield at(manage.origin, "ES354", message, "identity")
        elif not match_keys(relationship, destination, manage):
            message = f"identity '{manage.identity}' holds nothing but the foreign key (and the "
            message += "tenant): it cannot tell one related record from another"
            yield at(manage.origin, "ES354", message, "identity")


RULES: tuple[Rule, ...] = (managed_relationships,)

"""What the actions template prints for managed relationships (``manage_relationships``): a
TypedDict per managed input's items, the input's field and its runtime argument definition."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import ir
from .printer import docstring, py
from .pyfmt import Call, Expr, Seq

# The strategies that relate or unrelate existing records, writing nothing else.
RELATE = frozenset({"append", "remove", "append_and_remove"})


@dataclass(frozen=True)
class ItemClass:
    name: str  # e.g. "CreateWithUsersUsersItem"
    docstring: str  # source
    fields: tuple[tuple[str, ir.TypeRef, bool, bool], ...]  # name, type, nullable, required
    input_type: str  # the managed input's: a list of items for a has_many, else one item


def item_class_name(action: ir.Action, manage: ir.Manage) -> str:
    parts = [*action.name.split("_"), *manage.argument.split("_"), "item"]
    return "".join(part.capitalize() for part in parts)


def destination_of(
    project: ir.Project, resource: ir.Resource, manage: ir.Manage
) -> tuple[ir.Relationship, ir.Resource] | None:
    relationship = next((r for r in resource.relationships if r.name == manage.relationship), None)
    if relationship is None:
        return None
    destination = project.resource(relationship.destination)
    return None if destination is None else (relationship, destination)


def match_keys(
    relationship: ir.Relationship, destination: ir.Resource, manage: ir.Manage
) -> tuple[str, ...]:
    """What an item is matched by among the parent's related records: the identity's attributes
    but the foreign key (and the tenant), else the primary key."""
    if manage.type == "create":
        return ()
    identity = destination.identity(manage.identity) if manage.identity else None
    if identity is not None:
        tenant = destination.multitenancy.attribute if destination.multitenancy else None
        implied = (tenant, None if manage.type in RELATE else _pointer(relationship))
        return tuple(k for k in destination.identity_keys(identity) if k not in implied)
    key = destination.primary_key
    return (key.name,) if key else ()


def _pointer(relationship: ir.Relationship) -> str | None:
    """The destination's attribute that points back at the parent (None for a belongs_to)."""
    return None if relationship.type == "belongs_to" else relationship.destination_attribute


def item_class(
    project: ir.Project,
    resource: ir.Resource,
    action: ir.Action,
    manage: ir.Manage,
    required_inputs: Callable[[ir.Resource, ir.Action], set[str]],
) -> ItemClass:
    """The item TypedDict: the create action's inputs but the foreign key; for upsert and
    direct_control also the update action's and the match keys, none of them required (an item
    may name a record to update); ``required_inputs`` says what a create requires."""
    found = destination_of(project, resource, manage)
    assert found is not None, "verified: the relationship and its destination exist"
    relationship, destination = found
    names = [] if manage.type in RELATE else [(manage.create_action, True)]
    if manage.type not in ("create", *RELATE):
        names.append((manage.update_action, False))
    fields: dict[str, tuple[str, ir.TypeRef, bool, bool]] = {}
    for key in match_keys(relationship, destination, manage):
        attr = destination.attribute(key)
        if attr is not None:  # an item that relates is nothing but its match keys
            fields[key] = (key, attr.type, False, manage.type in RELATE)
    for name, creates in names:
        target = destination.action(name)
        if target is None:
            continue
        creating = manage.type == "create" and creates
        required = required_inputs(destination, target) if creating else set()
        inputs = [
            (a, attr.type, attr.allow_nil)
            for a in target.accept
            if (attr := destination.attribute(a)) is not None
        ]
        inputs += [(arg.name, arg.type, arg.allow_nil) for arg in target.arguments]
        for input_name, type_, nullable in inputs:
            if input_name != _pointer(relationship) and input_name not in fields:
                fields[input_name] = (input_name, type_, nullable, input_name in required)
    verb = {
        "create": "creates",
        "upsert": "creates or updates",
        "direct_control": "controls",
        "append": "relates",
        "remove": "unrelates",
        "append_and_remove": "keeps related (unrelating the rest)",
    }
    what = "An item of" if relationship.type == "has_many" else "The value of"
    text = f"{what} `{manage.argument}`: a {destination.name} that `{resource.name}."
    text += f"{action.name}` {verb[manage.type]}"
    if manage.relationship != manage.argument:
        text += f" through `{manage.relationship}`"
    text += "."
    name = item_class_name(action, manage)
    input_type = f"list[{name}]" if relationship.type == "has_many" else name
    return ItemClass(name, docstring(text, 1), tuple(fields.values()), input_type)


def argument_def(project: ir.Project, resource: ir.Resource, manage: ir.Manage) -> Expr:
    found = destination_of(project, resource, manage)
    assert found is not None, "verified: the relationship and its destination exist"
    relationship, destination = found
    # has_many, has_one: the destination points at the parent; belongs_to: the other way round.
    pointer, pointed = relationship.destination_attribute, relationship.source_attribute
    if relationship.type == "belongs_to":
        pointer, pointed = pointed, pointer
    kwargs: list[tuple[str, Expr]] = [
        ("foreign_key", py(pointer)),
        ("source_attribute", py(pointed)),
    ]
    if manage.type not in RELATE:
        kwargs.append(("create", py(manage.create_action)))
    if manage.type != "create" and not (
        manage.type in RELATE and relationship.type == "belongs_to"
    ):
        kwargs.append(("update", py(manage.update_action)))
    if manage.type == "direct_control":
        kwargs.append(("destroy", py(manage.destroy_action)))
    keys = match_keys(relationship, destination, manage)
    if keys:
        kwargs.append(("match", Seq("(", [py(k) for k in keys])))
    args: list[Expr] = [
        py(relationship.type),
        py(destination.name),
        py(destination.module),
        py(manage.type),
    ]
    return Call("manage.relationship", args, kwargs)

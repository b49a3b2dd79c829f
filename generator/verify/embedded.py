"""Embedded specs and the attributes that hold them.

Codes: ES290 an embedded type naming no embedded spec; ES292 an embedded type where it cannot be
used (a key, an identity, a foreign key, a default or a ``set_attribute`` value of the whole value,
an array of arrays inside a spec; a tenant of its type is ES298); ES293 a name of an embedded
spec or of its fields that collides in the generated code. ES291 (a spec containing itself) is
found while the specs are built (``build_embedded.py``); defaults and enum values inside are
ES280-ES282 (``values.py``). ES294: an embedded spec's validation naming no field of it, or a
``call``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import yaml

from ..diagnostics import Diagnostic, Origin, at
from ..ir import Attribute, EmbeddedField, Project, TypeRef, Validation
from ..reserved import ACTIONS_MODULE, generated_names
from ..symbols import typed_dict_name
from .common import Rule, names, node_at
from .values import _default, _enum_values

# What the generated embedded.py reads inside a TypedDict body: a field may not be one of them.
TYPED_DICT_NAMES = frozenset(
    {"Any", "Literal", "Required", "TypedDict", "None", "bool", "bytes", "dict", "float", "int"}
    | {"list", "str", "datetime", "decimal", "uuid", "engine", "EmbeddedDef", "FieldDef"}
    | {"rules"}
)


def _holders(project: Project) -> Iterator[tuple[str, TypeRef, Origin]]:
    """Every embedded type a resource attribute or an embedded field names, with where."""
    for resource in project.resources:
        for attribute in resource.attributes:
            if attribute.type.base.name == "embedded":
                yield attribute.name, attribute.type.base, attribute.origin
    for spec in project.embedded:
        for field in spec.fields:
            if field.type.base.name == "embedded":
                yield field.name, field.type.base, field.origin


def unknown_names(project: Project) -> Iterator[Diagnostic]:
    known = {e.name for e in project.embedded}
    for name, type_, origin in _holders(project):
        if type_.ref in known or type_.ref in project.left_out:
            continue  # a known spec left unresolved is a cycle (ES291)
        message = f"'{name}' names unknown embedded spec '{type_.ref}' (embedded specs: "
        message += f"{names(known)})"
        hint = "add a spec with kind: embedded and that name, or fix the name"
        yield at(origin, "ES290", message, "type", hint=hint)


def _refused(attribute: Attribute, project: Project) -> Iterator[str]:
    if attribute.primary_key:
        yield "a primary key"
    if attribute.belongs_to:
        yield "the foreign key of a relationship"
    if attribute.default is not None or attribute.update_default is not None:
        yield "given a default (give the embedded spec's fields defaults instead)"
    for resource in project.resources:
        if resource.attribute(attribute.name) is not attribute:
            continue
        if any(attribute.name in i.keys for i in resource.identities):
            yield "part of an identity"  # a tenant attribute of its type is ES298


def unsupported_uses(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        for attribute in resource.attributes:
            if attribute.type.base.name != "embedded":
                continue
            for use in _refused(attribute, project):
                message = f"embedded attribute '{attribute.name}' cannot be {use}"
                yield at(attribute.origin, "ES292", message, key=True)
        for action in resource.actions:
            for change in action.changes:
                target = resource.attribute(change.attribute or "")
                embedded = target is not None and target.type.base.name == "embedded"
                if embedded and change.kind == "set_attribute" and change.value is not None:
                    message = f"set_attribute cannot give embedded attribute '{change.attribute}' "
                    message += "a literal value (only null); set it from an argument or in a change"
                    yield at(change.origin, "ES292", message, "set_attribute", "value")
    for spec in project.embedded:
        for field in spec.fields:
            type_ = field.type
            if type_.name == "array" and type_.item is not None and type_.item.name == "array":
                message = f"field '{field.name}' of '{spec.name}' is an array of arrays"
                yield at(
                    field.origin, "ES292", message, "type", hint="use a list of an embedded spec"
                )
            if type_.base.name == "embedded" and field.default is not None:
                message = f"field '{field.name}' of '{spec.name}' holds an embedded spec and "
                message += "cannot have a default (give that spec's fields defaults instead)"
                yield at(field.origin, "ES292", message, "default")


def field_values(project: Project) -> Iterator[Diagnostic]:
    """Defaults and enum values of the fields, as for attributes (ES280-ES282)."""
    for spec in project.embedded:
        for field in spec.fields:
            what = f"field '{field.name}' of embedded spec '{spec.name}'"
            yield from _enum_values(field.type, what, field.origin)
            if field.type.base.name != "embedded":
                yield from _default(field.default, field.type, what, field.origin, "default")


def _used_names(project: Project) -> frozenset[str]:
    """Names the modules importing embedded classes bind themselves."""
    generated = generated_names()
    used = set(generated.module("models.py") | generated.module(ACTIONS_MODULE))
    used |= TYPED_DICT_NAMES | {"Embedded", "EmbeddedList"}
    used |= {typed_dict_name(a) for r in project.resources for a in r.actions}
    return frozenset(used)


def name_clashes(project: Project) -> Iterator[Diagnostic]:
    used = _used_names(project)
    others = {r.name: "resource" for r in project.resources}
    others.update({log.name: "event log" for log in project.event_logs})
    seen: dict[str, str] = {}
    for spec in project.embedded:
        for name, what in ((spec.name, "name"), (spec.constant, "definition")):
            clash = None
            if name in seen:
                clash = f"the {seen[name]} of another embedded spec"
            elif name in others:
                clash = f"the name of {others[name]} '{name}'"
            elif name in used:
                clash = "a name the generated models or actions use"
            if clash is not None:
                message = f"embedded spec '{spec.name}': its {what} '{name}' is also {clash}"
                yield at(spec.origin, "ES293", message, "name", hint="choose another name")
                break  # one clash per spec: its definition's name follows from its name
        for name, what in ((spec.name, "name"), (spec.constant, "definition")):
            seen.setdefault(name, what)
        yield from _field_names(spec.name, spec.fields, project)


def _field_names(
    owner: str, fields: tuple[EmbeddedField, ...], project: Project
) -> Iterator[Diagnostic]:
    classes = {e.name for e in project.embedded}
    for field in fields:
        if field.name in TYPED_DICT_NAMES or field.name in classes:
            message = f"field name '{field.name}' of '{owner}' would shadow a name its generated "
            message += "TypedDict reads"
            yield at(field.origin, "ES293", message, key=True, hint="choose another name")


def validations(project: Project) -> Iterator[Diagnostic]:
    """ES294: an embedded spec's validations name its fields, and run no user code (they check
    a value wherever it is written, with no changeset to hand); ES221: a pattern compiles."""
    for spec in project.embedded:
        known = {f.name for f in spec.fields}
        for validation in _with_where(spec.validations):
            kind = validation.kind
            if kind == "call":
                message = f"a call validation in embedded spec '{spec.name}': validations of an "
                message += "embedded value are built-in ones; check the whole value with a call "
                message += "validation of the action that writes it"
                yield at(validation.origin, "ES294", message, kind)
                continue
            for name, steps in _targets(validation):
                if name not in known:
                    message = f"{kind} validation names '{name}', which is not a field of "
                    message += f"embedded spec '{spec.name}' (fields: {names(known)})"
                    yield at(validation.origin, "ES294", message, *steps)
            pattern = validation.option("pattern")
            if kind == "match" and isinstance(pattern, str):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    message = f"invalid regular expression {pattern!r}: {exc}"
                    yield at(validation.origin, "ES221", message, kind, "pattern")


def _with_where(items: Iterable[Validation]) -> Iterator[Validation]:
    for item in items:
        yield item
        yield from _with_where(item.where)


def _targets(validation: Validation) -> list[tuple[str, tuple[str | int, ...]]]:
    """The fields a validation names, each with the steps to its place in the spec."""
    kind = validation.kind
    listed = validation.option("attributes")
    if isinstance(listed, tuple):
        in_map = isinstance(node_at(validation.origin, kind), yaml.MappingNode)
        return [
            (str(n), (kind, "attributes", i) if in_map else (kind, i)) for i, n in enumerate(listed)
        ]
    if isinstance(validation.option("attribute"), str):
        return [(str(validation.option("attribute")), (kind, "attribute"))]
    return []


RULES: tuple[Rule, ...] = (
    unknown_names,
    unsupported_uses,
    field_values,
    name_clashes,
    validations,
)

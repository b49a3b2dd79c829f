"""Which resources hold personal data (see docs/privacy.md)."""

from __future__ import annotations

from .ir import Resource
from .printer import py
from .pyfmt import Expr


def has_personal(resource: Resource) -> bool:
    """Whether any attribute of ``resource``, or argument of its actions, is personal."""
    if any(attribute.personal for attribute in resource.attributes):
        return True
    return any(arg.personal for action in resource.actions for arg in action.arguments)


def subject_arguments(resource: Resource) -> list[tuple[str, Expr]]:
    """The keyword arguments of a ``ResourceDef`` saying whose data its personal fields are,
    and what erasing that subject does to its records."""
    subject = resource.data_subject
    if subject is None:
        return []
    out: list[tuple[str, Expr]] = [("data_subject", py(subject.kind))]
    if subject.attribute is not None:
        out.append(("subject_attribute", py(subject.attribute)))
    if resource.on_erase != "null":
        out.append(("on_erase", py(resource.on_erase)))
    return out

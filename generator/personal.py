"""Which resources hold personal data (see docs/privacy.md)."""

from __future__ import annotations

from .ir import Resource


def has_personal(resource: Resource) -> bool:
    """Whether any attribute of ``resource``, or argument of its actions, is personal."""
    if any(attribute.personal for attribute in resource.attributes):
        return True
    return any(arg.personal for action in resource.actions for arg in action.arguments)

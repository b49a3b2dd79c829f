"""References to user code, ``"pkg.module:name"``: the generated code imports and calls them.

* ES260 a reference that is not a dotted module path and a name, each part a Python identifier
  that is not a keyword (``pkg.hooks:class``, ``pkg..hooks:fn``)

(ES261, a reference whose top-level package is a name the generated module binds itself, is
checked with the other generated names in ``identifiers.py``.)

The schema's pattern only rejects the grossest shapes; these rules decide, once, for every slot.
"""

from __future__ import annotations

import keyword
from collections.abc import Iterator

from ..diagnostics import Diagnostic, Origin, at
from ..ir import Project, Resource, Validation

Ref = tuple[str, Origin, tuple[str | int, ...]]  # the reference, where, steps to its value


def reference_problem(ref: str) -> str | None:
    """Why ``ref`` cannot be imported and called as written, or None."""
    module, colon, name = ref.partition(":")
    if not colon:
        return "has no ':' between the module and the name"
    for part in [*module.split("."), name]:
        if not part:
            return "has an empty part"
        if not part.isidentifier():
            return f"part {part!r} is not a Python identifier"
        if keyword.iskeyword(part):
            return f"part {part!r} is a Python keyword"
    return None


def references(project: Project) -> Iterator[Ref]:
    """Every reference to user code in the specs, with where it is written."""
    for log in project.event_logs:
        if log.clear_records_for_replay != "auto":
            yield log.clear_records_for_replay, log.origin, ("clear_records_for_replay",)
        if log.advisory_lock_key_generator:
            yield log.advisory_lock_key_generator, log.origin, ("advisory_lock_key_generator",)
        for actor in log.actors:
            if not actor.is_resource:
                yield actor.actor, actor.origin, ("actor",)
    for resource in project.resources:
        yield from _resource_references(resource)


def _resource_references(resource: Resource) -> Iterator[Ref]:
    for action in resource.actions:
        for change in action.changes:
            if change.ref is not None:
                yield change.ref, change.origin, (change.kind,)
            yield from _validation_references(change.where)
        yield from _validation_references(action.validations)
    if resource.events:
        for action_name, refs in resource.events.allowed_change_modules:
            for i, ref in enumerate(refs):
                yield ref, resource.events.origin, ("allowed_change_modules", action_name, i)


def _validation_references(validations: tuple[Validation, ...]) -> Iterator[Ref]:
    for validation in validations:
        if validation.kind == "call":
            yield str(validation.option("call")), validation.origin, ("call",)
        yield from _validation_references(validation.where)


def valid_references(project: Project) -> Iterator[Diagnostic]:
    for ref, origin, steps in references(project):
        problem = reference_problem(ref)
        if problem is not None:
            message = f"reference {ref!r}: {problem}"
            hint = "write 'package.module:name' with Python identifiers, e.g. 'app.hooks:stamp'"
            yield at(origin, "ES260", message, *steps, hint=hint)


RULES = (valid_references,)

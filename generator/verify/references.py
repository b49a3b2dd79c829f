"""References to user code, ``"pkg.module:name"``: the generated code imports and calls them.

* ES260 a reference that is not a dotted module path and a name, each part a Python identifier
  that is not a keyword (``pkg.hooks:class``, ``pkg..hooks:fn``)
* ES261 the top-level package of a reference is a name the generated module binds itself, so
  ``import engine.hooks`` would be shadowed (or would shadow it)

The schema's pattern only rejects the grossest shapes; these rules decide, once, for every slot.
"""

from __future__ import annotations

import importlib.resources
import keyword
import re
from collections.abc import Iterator
from functools import cache

from ..action_views import STDLIB_MODULES, SUPPORT_NAMES, TYPING_NAMES
from ..diagnostics import Diagnostic, Origin, at
from ..ir import Project, Resource, Validation
from ..render import typed_dict_name

# The templates of the modules that import user code.
IMPORTING_TEMPLATES = ("actions.py.j2", "clear_records.py.j2", "event_logs.py.j2")
_IMPORT = re.compile(r"[ \t]*(?:from[ \t]+\S+[ \t]+)?import[ \t]+(.+)")
_DEFINITION = re.compile(r"(?:def|class)[ \t]+(\w+)|(\w+)[ \t]*(?::[^=]*)?=")

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


@cache
def template_names() -> frozenset[str]:
    """Names the importing templates bind at module level, read from the templates themselves:
    their import lines and definitions, plus what their generated import lines may hold."""
    names = {*STDLIB_MODULES, *TYPING_NAMES, *SUPPORT_NAMES, "RESOURCE"}
    folder = importlib.resources.files("eventspec.templates")
    for template in IMPORTING_TEMPLATES:
        text = (folder / template).read_text(encoding="utf-8")
        for line in text.splitlines():
            words = line.split()
            if words[:1] == ["from"] and words[1][:1] not in (".", "{"):
                names.add(words[1].split(".")[0])  # a user package of that name would shadow it
            if "{{" in line or "{%" in line:
                continue  # generated: covered by the names above and project_names()
            if imported := _IMPORT.match(line):
                names.update(
                    item.split(" as ")[-1].strip().split(".")[0]
                    for item in imported.group(1).strip("()").split(",")
                    if item.strip()
                )
            elif defined := _DEFINITION.match(line):
                names.add(defined.group(1) or defined.group(2))
    return frozenset(names)


def project_names(project: Project) -> set[str]:
    """Module-level names the generated modules derive from the specs."""
    names: set[str] = set()
    for resource in project.resources:
        names.add(resource.name)
        for action in resource.actions:
            names |= {action.name, f"{action.name}_many", action.name.upper()}
            names.add(typed_dict_name(action))
    for log in project.event_logs:
        names |= {log.name, log.name.upper(), f"clear_{log.module}"}
    return names


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


def unshadowed_references(project: Project) -> Iterator[Diagnostic]:
    taken = template_names() | project_names(project)
    for ref, origin, steps in references(project):
        top = ref.partition(":")[0].split(".")[0]
        if reference_problem(ref) is None and top in taken:
            message = (
                f"reference {ref!r}: its package '{top}' has the name of something the generated "
                "code defines or imports, which `import` would shadow"
            )
            yield at(origin, "ES261", message, *steps, hint="rename or nest the package")


RULES = (valid_references, unshadowed_references)

"""Names the spec does not write but the generator derives from it, checked where they land.

Python: every generated module binds spec-derived names next to its own (an action ``create``
also binds ``create_many``, the constant ``CREATE`` and the class ``CreateInput``); none may be a
name the template uses (ES202) and no two may be equal as Python reads them, after NFKC
normalisation (ES271). The database: every table, column, constraint, index, enum type and
sequence name is checked in ``db_names``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..diagnostics import Diagnostic, Origin, at
from ..ir import EventLog, Project, Resource, Validation, snake_case
from ..manage_views import item_class_name
from ..reserved import generated_names, module_key
from ..symbols import ref_module, typed_dict_name
from .references import reference_problem


@dataclass(frozen=True)
class Bound:
    """A spec-derived name bound in a generated module."""

    name: str
    what: str  # e.g. "the constant of action 'create'"
    thing: tuple[str, ...]  # what it stands for: equal things may share a name
    origin: Origin
    steps: tuple[str | int, ...] = ()
    key: bool = False


def _python(name: str) -> str:
    return unicodedata.normalize("NFKC", name)


def _refs(refs: Iterable[str], origin: Origin, where: str) -> Iterator[Bound]:
    for ref in refs:
        if reference_problem(ref) is not None:
            continue  # ES260
        top = ref_module(ref).split(".")[0]
        yield Bound(top, f"the package '{top}' {where} imports", ("import", top), origin)


def _resource_module(project: Project, resource: Resource) -> Iterator[Bound]:
    yield Bound(
        resource.name,
        f"model class '{resource.name}'",
        ("class", resource.name),
        resource.origin,
        ("name",),
    )
    log = project.event_log(resource.events.event_log) if resource.events else None
    if log is not None and resource.events is not None:
        yield Bound(
            log.name.upper(),
            f"the constant of event log '{log.name}'",
            ("log", log.name),
            resource.events.origin,
            ("event_log",),
        )
    for action in resource.actions:
        thing = ("action", action.name)
        label = f"action '{action.name}'"
        yield Bound(
            action.name, f"the function of {label}", (*thing, "fn"), action.origin, key=True
        )
        yield Bound(
            f"{action.name}_many",
            f"the bulk function of {label}",
            (*thing, "many"),
            action.origin,
            key=True,
        )
        yield Bound(
            action.name.upper(),
            f"the constant of {label}",
            (*thing, "constant"),
            action.origin,
            key=True,
        )
        yield Bound(
            typed_dict_name(action),
            f"the input class of {label}",
            (*thing, "input"),
            action.origin,
            key=True,
        )
        for manage in action.manages:
            yield Bound(
                item_class_name(action, manage),
                f"the item class of input '{manage.argument}' of {label}",
                (*thing, "item", manage.argument),
                manage.origin,
                key=True,
            )
        for index, change in enumerate(action.changes):
            if change.ref:
                yield from _refs([change.ref], action.origin.at("changes", index), label)
        for validation, origin in _validations(action.validations, action.origin.at("validations")):
            if validation.kind == "call":
                yield from _refs([str(validation.option("call"))], origin, label)


def _validations(
    items: Iterable[Validation], origin: Origin
) -> Iterator[tuple[Validation, Origin]]:
    for index, validation in enumerate(items):
        yield validation, origin.at(index)
        yield from _validations(validation.where, origin.at(index, "where"))


def _log_bound(log: EventLog, suffix: str, what: str) -> Bound:
    return Bound(
        f"{log.name.upper()}{suffix}",
        f"{what} of event log '{log.name}'",
        ("log", log.name, suffix),
        log.origin,
        ("name",),
    )


def _modules(project: Project) -> dict[str, list[Bound]]:
    """Spec-derived names per generated module, as the templates print them."""
    out: dict[str, list[Bound]] = {}
    for resource in project.resources:
        bound = out[f"actions/{resource.module}.py"] = list(_resource_module(project, resource))
        # The async module binds the model, the functions and (imported) the input classes.
        out[f"aio/actions/{resource.module}.py"] = [
            b for b in bound if b.thing[0] == "class" or b.thing[-1] in ("fn", "many", "input")
        ]
    units: list[Resource | EventLog] = [*project.resources, *project.event_logs]
    classes = [
        Bound(u.name, f"model class '{u.name}'", ("class", u.name), u.origin, ("name",))
        for u in units
    ]
    out["models.py"] = list(classes)
    logs = out["event_logs.py"] = [c for c in classes if project.event_log(c.name)]
    modules = [
        Bound(
            r.module,
            f"module 'actions/{r.module}.py' of resource '{r.name}'",
            ("module", r.name),
            r.origin,
            ("name",),
        )
        for r in project.resources
    ]
    clears = [
        Bound(
            f"clear_{log.module}",
            f"the clear function of event log '{log.name}'",
            ("clear", log.name),
            log.origin,
            ("name",),
        )
        for log in project.event_logs
    ]
    out["actions/__init__.py"] = list(modules)
    out["clear_records.py"] = [*clears, *(c for c in classes if project.resource(c.name))]
    out["replay.py"] = [*modules, *clears]
    out["aio/clear_records.py"] = list(clears)
    aio_replay = out["aio/replay.py"] = []
    for log in project.event_logs:
        logs.append(_log_bound(log, "", "the constant"))
        for actor in log.actors:
            if actor.is_resource:
                logs.append(
                    Bound(
                        actor.actor,
                        f"model class '{actor.actor}'",
                        ("class", actor.actor),
                        actor.origin,
                        ("actor",),
                    )
                )
            else:
                logs.extend(_refs([actor.actor], actor.origin.at("actor"), f"log '{log.name}'"))
        if log.advisory_lock_key_generator:
            where = log.origin.at("advisory_lock_key_generator")
            logs.extend(_refs([log.advisory_lock_key_generator], where, f"log '{log.name}'"))
        if log.clear_records_for_replay != "auto":
            where = log.origin.at("clear_records_for_replay")
            refs = _refs([log.clear_records_for_replay], where, f"log '{log.name}'")
            out["clear_records.py"].extend(refs)
        replay = out["replay.py"]
        replay.append(_log_bound(log, "", "the constant"))
        replay.append(_log_bound(log, "_ACTIONS", "the actions table"))
        replay.append(_log_bound(log, "_ROUTES", "the routes"))
        if len(project.event_logs) > 1:  # one log: the function is always ``replay``
            function = Bound(
                f"replay_{log.module}",
                f"the replay function of event log '{log.name}'",
                ("replay", log.name),
                log.origin,
                ("name",),
            )
            replay.append(function)
            aio_replay.append(function)
    return out


def python_names(project: Project) -> Iterator[Diagnostic]:
    generated = generated_names()
    shadowing: dict[tuple[tuple[str, ...], str], tuple[Bound, list[str]]] = {}
    invalid: dict[tuple[tuple[str, ...], str], Bound] = {}
    for module, bound in sorted(_modules(project).items()):
        template_names = generated.module(module_key(module))
        seen: dict[str, Bound] = {}
        for item in sorted(bound, key=_position):
            name = _python(item.name)
            if not name.isidentifier():
                invalid[(item.thing, item.name)] = item
                continue
            if item.thing[0] == "class" and item.name in generated.package_classes:
                continue  # ES202 from the build, with the list of the package's classes
            if name in template_names:
                shadowing.setdefault((item.thing, item.name), (item, []))[1].append(module)
                continue
            if module.startswith("aio/"):
                continue  # the sync module's names, whose clashes are reported there
            other = seen.setdefault(name, item)
            if other.thing == item.thing or _bulk_pair(other, item) or _reported(other, item):
                continue
            message = f"{item.what} and {other.what} are both '{name}' in the generated {module}"
            if other.name != item.name:
                message += f" (as '{other.name}')"
            code = "ES261" if "import" in (item.thing[0], other.thing[0]) else "ES271"
            yield _diag(item, code, message, "rename one of them")
    for item in invalid.values():
        yield _diag(item, "ES201", f"{item.what} is '{item.name}', not a Python identifier", "")
    for item, modules in shadowing.values():
        named = "" if f"'{item.name}'" in item.what else f" '{_python(item.name)}',"
        verb = "use" if len(modules) > 1 else "uses"
        message = (
            f"{item.what} is{named} a name the generated {' and '.join(modules)} {verb} itself"
        )
        if item.thing[0] == "import":  # the import would rebind the template's own name
            yield _diag(item, "ES261", message, "rename the package, or import it under another")
        else:
            yield _diag(item, "ES202", message, "rename it")


def _bulk_pair(a: Bound, b: Bound) -> bool:
    # ``x_many`` against the bulk variant of ``x``: reported as ES204.
    return {a.thing[-1:], b.thing[-1:]} == {("fn",), ("many",)}


def _reported(a: Bound, b: Bound) -> bool:
    """Two classes or modules of one name are ES206 / ES208 already."""
    if a.thing[0] != b.thing[0]:
        return False
    if a.thing[0] in ("class", "module"):
        return True
    same_module = snake_case(a.thing[1]) == snake_case(b.thing[1])
    return a.thing[0] in ("log", "clear", "replay") and same_module


def _position(item: Bound) -> tuple[str, int, int, str]:
    where = item.origin.at(*item.steps)
    line, col = where.source.locate(where.path)
    return (where.source.name, line, col, item.name)


def _diag(item: Bound, code: str, message: str, hint: str) -> Diagnostic:
    return at(item.origin, code, message, *item.steps, key=item.key, hint=hint)


def model_class_references(project: Project) -> Iterator[Diagnostic]:
    """A model's relationship annotations name other model classes: no member may hide one."""
    for resource in project.resources:
        classes = {rel.destination for rel in resource.relationships}
        members = [("attribute", a.name, a.origin) for a in resource.attributes]
        members += [("relationship", r.name, r.origin) for r in resource.relationships]
        for kind, name, origin in members:
            if name in classes and origin.path[-1] == name:
                message = (
                    f"{kind} name '{name}' would hide model class '{name}', which the "
                    f"relationship annotations of '{resource.name}' name"
                )
                yield at(origin, "ES202", message, key=True, hint="choose another name")

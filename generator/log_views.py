"""What the event-log and replay templates print, as formatted source."""

from __future__ import annotations

from typing import Any

from . import ir
from .filters import statement
from .printer import py
from .pyfmt import Call, Dict, Expr, Seq
from .render import ref_expr, ref_module


def replay_function(project: ir.Project, log: ir.EventLog) -> str:
    """``replay`` for a project with one event log; ``replay_<log>`` for each of several."""
    return "replay" if len(project.event_logs) == 1 else f"replay_{log.module}"


def verify_function(project: ir.Project, log: ir.EventLog) -> str:
    """``verify`` for a project with one event log; ``verify_<log>`` for each of several."""
    return "verify" if len(project.event_logs) == 1 else f"verify_{log.module}"


def rehearse_function(project: ir.Project, log: ir.EventLog) -> str:
    """``rehearse`` for a project with one event log; ``rehearse_<log>`` for each of several."""
    return "rehearse" if len(project.event_logs) == 1 else f"rehearse_{log.module}"


def public_names(project: ir.Project) -> list[str]:
    """What the generated ``replay`` module exports: the result type, each log's functions."""
    functions = (
        f(project, log)
        for log in project.event_logs
        for f in (replay_function, rehearse_function, verify_function)
    )
    return ["ReplayResult", "VerifyResult", *sorted(functions)]


def tables_definition(target: str, names: list[str]) -> str:
    """``target = (Base.metadata.tables["name"], ...)``: the mapped tables, by name."""
    return statement(target, Seq("(", [f"Base.metadata.tables[{py(name)}]" for name in names]))


def event_logs_context(project: ir.Project) -> dict[str, Any]:
    imports: set[str] = set()
    models: set[str] = set()
    definitions = []
    for log in project.event_logs:
        models.add(log.name)
        actors: list[Expr] = []
        for actor in log.actors:
            if actor.is_resource:
                models.add(actor.actor)
                cls = actor.actor
            else:
                imports.add(ref_module(actor.actor))
                cls = ref_expr(actor.actor)
            actors.append(Call("engine.ActorDef", [py(actor.name), cls, py(actor.primary_key)]))
        kwargs: list[tuple[str, Expr]] = [("name", py(log.name)), ("model", log.name)]
        if actors:
            kwargs.append(("actors", Seq("(", actors)))
        if log.advisory_lock_key_default != 2147483647:
            kwargs.append(("lock_default", py(log.advisory_lock_key_default)))
        if log.advisory_lock_key_generator:
            imports.add(ref_module(log.advisory_lock_key_generator))
            kwargs.append(("lock_generator", ref_expr(log.advisory_lock_key_generator)))
        if log.encrypted:
            kwargs.append(("encrypted", "True"))
        definitions.append(statement(log.name.upper(), Call("engine.EventLogDef", kwargs=kwargs)))
    return {"imports": imports, "model_imports": sorted(models), "definitions": definitions}


def replay_context(project: ir.Project) -> dict[str, Any]:
    def actions_definition(log: ir.EventLog) -> str:
        """The actions an event of ``log`` may replay into: its resources' and its routes'."""
        names = {r.name for r in project.resources_of(log)}
        names |= {t.resource for o in log.replay_overrides for t in o.route_to}
        modules = sorted(r.module for r in project.resources if r.name in names)
        return statement(
            f"{log.name.upper()}_ACTIONS", Dict([(f"{m}.ACTIONS", None) for m in modules])
        )

    def routes_definition(log: ir.EventLog) -> str:
        routes: list[Expr] = []
        for override in log.replay_overrides:
            targets: list[Expr] = []
            for target in override.route_to:
                resource = project.resource(target.resource)
                module = resource.module if resource else ir.snake_case(target.resource)
                targets.append(f"{module}.{target.action.upper()}")
            routes.append(
                Call(
                    "_replay.Route",
                    [
                        py(override.resource),
                        py(override.action),
                        Call("frozenset", [Seq("{", [str(v) for v in override.versions])]),
                        Seq("(", targets),
                    ],
                )
            )
        return statement(f"{log.name.upper()}_ROUTES", Seq("(", routes))

    def upcasters_definition(log: ir.EventLog) -> str:
        """``<LOG>_UPCASTERS``, or "" when no event of ``log`` needs upcasting."""
        entries = upcaster_entries(project, log)
        if not entries:
            return ""
        target = f"{upcasters_constant(log)}: dict[tuple[str, str], _upcast.Upcasters]"
        return statement(target, Dict(entries))

    upcast_refs = sorted(
        {
            step.ref
            for resource in project.resources
            if resource.events
            for upcaster in resource.events.upcasters
            for step in upcaster.steps
            if step.ref
        }
    )
    return {
        "upcasters_definition": upcasters_definition,
        "has_upcasters": {
            log.name: bool(upcaster_entries(project, log)) for log in project.event_logs
        },
        "upcast_modules": sorted({ref_module(ref) for ref in upcast_refs}),
        "actions_definition": actions_definition,
        "routes_definition": routes_definition,
        "function_name": lambda log: replay_function(project, log),
        "rehearse_name": lambda log: rehearse_function(project, log),
        "verify_name": lambda log: verify_function(project, log),
        "tracked_definition": lambda log: tables_definition(
            f"{log.name.upper()}_TRACKED", sorted(r.table for r in project.resources_of(log))
        ),
        "all_definition": statement("__all__", Seq("[", [py(n) for n in public_names(project)])),
        "log_tables_definition": tables_definition(
            "EVENT_LOG_TABLES", sorted(log.table for log in project.event_logs)
        ),
        "clear_names": sorted(f"clear_{log.module}" for log in project.event_logs),
        "log_constants": sorted(log.name.upper() for log in project.event_logs),
        "uses_uuid": any(log.primary_key_type == "uuidv7" for log in project.event_logs),
    }


def upcasters_constant(log: ir.EventLog) -> str:
    """The name of the log's upcasters in the generated ``replay`` module (absent when none)."""
    return f"{log.name.upper()}_UPCASTERS"


def upcaster_entries(project: ir.Project, log: ir.EventLog) -> list[tuple[Expr, Expr | None]]:
    """One ``(resource, action): Upcasters(...)`` item per action whose events need upcasting:
    the renames ``renamed_from`` implies, then the declared upcasters by from_version."""
    items: list[tuple[Expr, Expr | None]] = []
    for resource in project.resources_of(log):
        assert resource.events is not None
        renamed = [(a.renamed_from, a.name) for a in resource.attributes if a.renamed_from]
        names = {a.name for a in resource.actions} | {u.action for u in resource.events.upcasters}
        for name in sorted(names):
            action = resource.action(name)
            inputs = set(action.accept) | {a.name for a in action.arguments} if action else set()
            renames: list[Expr] = []
            for old, new in renamed:
                if old not in inputs:  # an argument of that name is not the old attribute
                    renames.append(Call("_upcast.rename", [py(old), py(new)]))
                if resource.attribute(old) is None:
                    renames.append(
                        Call("_upcast.rename", [py(old), py(new), py("changed_attributes")])
                    )
            chain = resource.events.upcasters_of(name)
            if not renames and not chain:
                continue
            kwargs: list[tuple[str, Expr]] = []
            if renames:
                kwargs.append(("renames", Seq("(", renames)))
            if chain:
                versions = Dict(
                    [(str(v), Seq("(", [_step(s) for s in chain[v].steps])) for v in sorted(chain)]
                )
                kwargs.append(("versions", versions))
            key = Seq("(", [py(resource.name), py(name)])
            items.append((key, Call("_upcast.Upcasters", kwargs=kwargs)))
    return items


def _step(step: ir.UpcastStep) -> Call:
    where = [py(step.in_)] if step.in_ != "data" else []
    if step.kind == "call":
        assert step.ref is not None
        return Call("_upcast.call", [ref_expr(step.ref)])
    if step.kind == "rename":
        return Call("_upcast.rename", [py(step.key), py(step.to), *where])
    if step.kind == "move":
        return Call("_upcast.move", [py(step.key), py(step.to)])
    if step.kind == "drop":
        return Call("_upcast.drop", [py(step.key), *where])
    if step.kind == "set_default":
        return Call("_upcast.set_default", [py(step.key), py(_thaw(step.value)), *where])
    values = {key: _thaw(value) for key, value in step.values}
    return Call("_upcast.map_values", [py(step.key), py(values), *where])


def _thaw(value: Any) -> Any:
    """A spec value as JSON holds it (the IR keeps lists as tuples)."""
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    if isinstance(value, dict):
        return {k: _thaw(v) for k, v in value.items()}
    return value

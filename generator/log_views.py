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

    return {
        "actions_definition": actions_definition,
        "routes_definition": routes_definition,
        "function_name": lambda log: replay_function(project, log),
        "clear_names": sorted(f"clear_{log.module}" for log in project.event_logs),
        "log_constants": sorted(log.name.upper() for log in project.event_logs),
        "uses_uuid": any(log.primary_key_type == "uuidv7" for log in project.event_logs),
    }

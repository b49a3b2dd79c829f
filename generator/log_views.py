"""The views of the ``event_logs`` and ``replay`` modules: what their templates print, formatted."""

from __future__ import annotations

from dataclasses import dataclass

from . import ir
from .defaults import thaw
from .filters import statement
from .printer import py
from .pyfmt import Call, Dict, Expr, Seq
from .symbols import header, ref_expr, ref_module
from .tables import snapshot_table_names, subject_key_class


@dataclass(frozen=True)
class EventLogsView:
    header: str
    imports: tuple[str, ...]  # user modules: actor classes, lock key generators
    model_imports: tuple[str, ...]
    definitions: tuple[str, ...]  # "<LOG> = engine.EventLogDef(...)", formatted


@dataclass(frozen=True)
class ReplayLog:
    log: ir.EventLog
    function: str  # "replay", or "replay_<log>" when there are several logs
    actions_definition: str  # "<LOG>_ACTIONS = {...}"
    routes_definition: str  # "<LOG>_ROUTES = (...)"
    upcasters_definition: str  # "<LOG>_UPCASTERS: ... = {...}", or "" when no event needs one
    rehearse: str  # "rehearse", or "rehearse_<log>"
    verify: str  # "verify", or "verify_<log>"
    tracked_definition: str  # "<LOG>_TRACKED = (Base.metadata.tables[...], ...)"
    archive: str = ""  # "archive" or "archive_<log>" when the log is archived (``archive: true``)
    snapshots_definition: str = ""  # "<LOG>_SNAPSHOTS = _snapshots.SnapshotTables(...)"
    archived_argument: str = ""  # "archived=_archive.archived(...)", formatted at its indent


@dataclass(frozen=True)
class ReplayView:
    header: str
    project: ir.Project
    logs: tuple[ReplayLog, ...]
    upcast_modules: tuple[str, ...]  # user modules of ``call`` upcaster steps
    uses_upcast: bool
    uses_uuid: bool
    clear_names: tuple[str, ...]
    log_constants: tuple[str, ...]
    all_definition: str  # "__all__ = [...]"
    log_tables_definition: str  # "EVENT_LOG_TABLES = (...)"
    uses_archive: bool = False


def replay_function(project: ir.Project, log: ir.EventLog) -> str:
    """``replay`` for a project with one event log; ``replay_<log>`` for each of several."""
    return "replay" if len(project.event_logs) == 1 else f"replay_{log.module}"


def verify_function(project: ir.Project, log: ir.EventLog) -> str:
    """``verify`` for a project with one event log; ``verify_<log>`` for each of several."""
    return "verify" if len(project.event_logs) == 1 else f"verify_{log.module}"


def rehearse_function(project: ir.Project, log: ir.EventLog) -> str:
    """``rehearse`` for a project with one event log; ``rehearse_<log>`` for each of several."""
    return "rehearse" if len(project.event_logs) == 1 else f"rehearse_{log.module}"


def archive_function(project: ir.Project, log: ir.EventLog) -> str:
    """``archive`` for a project with one event log; ``archive_<log>`` for each of several."""
    return "archive" if len(project.event_logs) == 1 else f"archive_{log.module}"


def public_names(project: ir.Project) -> list[str]:
    """What the generated ``replay`` module exports: the result type, each log's functions."""
    functions = [
        f(project, log)
        for log in project.event_logs
        for f in (replay_function, rehearse_function, verify_function)
    ]
    archived = [archive_function(project, log) for log in project.event_logs if log.archive]
    results = ["ArchiveResult"] if archived else []
    return [*results, "ReplayResult", "VerifyResult", *sorted(functions + archived)]


def _snapshots_definition(project: ir.Project, log: ir.EventLog) -> str:
    """``<LOG>_SNAPSHOTS``: the snapshot tables of an archived log and the resources they hold."""
    if not log.archive:
        return ""
    headers, rows = snapshot_table_names(log)
    resources = [f"{r.module}.RESOURCE" for r in sorted(project.resources_of(log), key=_module)]
    tables = [f"Base.metadata.tables[{py(name)}]" for name in (headers, rows)]
    call = Call("_snapshots.SnapshotTables", [py(log.name), *tables, Seq("(", resources)])
    return statement(f"{log.name.upper()}_SNAPSHOTS", call)


def _archived_argument(log: ir.EventLog) -> str:
    if not log.archive:
        return ""
    constant = log.name.upper()
    arguments = ["session", "source", constant, f"{constant}_SNAPSHOTS", "archives"]
    return statement("archived", Call("_archive.archived", arguments), indent=2, operator="=")


def _module(resource: ir.Resource) -> str:
    return resource.module


def tables_definition(target: str, names: list[str]) -> str:
    """``target = (Base.metadata.tables["name"], ...)``: the mapped tables, by name."""
    return statement(target, Seq("(", [f"Base.metadata.tables[{py(name)}]" for name in names]))


def event_logs_view(project: ir.Project) -> EventLogsView:
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
        if log.personal_data:
            models.add(subject_key_class(log))
            kwargs.append(("subject_keys", subject_key_class(log)))
        definitions.append(statement(log.name.upper(), Call("engine.EventLogDef", kwargs=kwargs)))
    return EventLogsView(
        header=header(*project.event_logs),
        imports=tuple(sorted(imports)),
        model_imports=tuple(sorted(models)),
        definitions=tuple(definitions),
    )


def replay_view(project: ir.Project) -> ReplayView:
    logs = tuple(
        ReplayLog(
            log=log,
            function=replay_function(project, log),
            actions_definition=_actions_definition(project, log),
            routes_definition=_routes_definition(project, log),
            upcasters_definition=_upcasters_definition(project, log),
            rehearse=rehearse_function(project, log),
            verify=verify_function(project, log),
            tracked_definition=tables_definition(
                f"{log.name.upper()}_TRACKED", sorted(r.table for r in project.resources_of(log))
            ),
            archive=archive_function(project, log) if log.archive else "",
            snapshots_definition=_snapshots_definition(project, log),
            archived_argument=_archived_argument(log),
        )
        for log in project.event_logs
    )
    upcast_refs = {
        step.ref
        for resource in project.resources
        if resource.events
        for upcaster in resource.events.upcasters
        for step in upcaster.steps
        if step.ref
    }
    return ReplayView(
        header=header(*project.event_logs),
        project=project,
        logs=logs,
        upcast_modules=tuple(sorted({ref_module(ref) for ref in upcast_refs})),
        uses_upcast=any(entry.upcasters_definition for entry in logs),
        uses_uuid=any(log.primary_key_type == "uuidv7" for log in project.event_logs),
        clear_names=tuple(sorted(f"clear_{log.module}" for log in project.event_logs)),
        log_constants=tuple(sorted(log.name.upper() for log in project.event_logs)),
        all_definition=statement("__all__", Seq("[", [py(n) for n in public_names(project)])),
        # An archived log's snapshot tables go with it: a rehearsal neither copies nor clears them.
        log_tables_definition=tables_definition(
            "EVENT_LOG_TABLES",
            sorted(
                name
                for log in project.event_logs
                for name in (log.table, *(snapshot_table_names(log) if log.archive else ()))
            ),
        ),
        uses_archive=any(log.archive for log in project.event_logs),
    )


def _actions_definition(project: ir.Project, log: ir.EventLog) -> str:
    """The actions an event of ``log`` may replay into: its resources' and its routes'."""
    names = {r.name for r in project.resources_of(log)}
    names |= {t.resource for o in log.replay_overrides for t in o.route_to}
    modules = sorted(r.module for r in project.resources if r.name in names)
    return statement(f"{log.name.upper()}_ACTIONS", Dict([(f"{m}.ACTIONS", None) for m in modules]))


def _routes_definition(project: ir.Project, log: ir.EventLog) -> str:
    routes: list[Expr] = []
    for override in log.replay_overrides:
        targets: list[Expr] = []
        for target in override.route_to:
            resource = project.resource(target.resource)
            module = resource.module if resource else ir.snake_case(target.resource)
            targets.append(f"{module}.{target.action.upper()}")
        versions = Call("frozenset", [Seq("{", [str(v) for v in override.versions])])
        routes.append(
            Call(
                "_replay.Route",
                [py(override.resource), py(override.action), versions, Seq("(", targets)],
            )
        )
    return statement(f"{log.name.upper()}_ROUTES", Seq("(", routes))


def _upcasters_definition(project: ir.Project, log: ir.EventLog) -> str:
    """``<LOG>_UPCASTERS``, or "" when no event of ``log`` needs upcasting."""
    entries = upcaster_entries(project, log)
    if not entries:
        return ""
    target = f"{upcasters_constant(log)}: dict[tuple[str, str], _upcast.Upcasters]"
    return statement(target, Dict(entries))


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
        return Call("_upcast.set_default", [py(step.key), py(thaw(step.value)), *where])
    values = {key: thaw(value) for key, value in step.values}
    return Call("_upcast.map_values", [py(step.key), py(values), *where])

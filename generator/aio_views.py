"""The views of the ``aio`` subpackage: async functions that await the sync ones.

Every async function is one line, ``await session.run_sync(<sync function>, ...)``: the sync
module is the one implementation of the rules, run in SQLAlchemy's greenlet bridge. The views
reuse the sync action views, whose signatures ``templates/signatures.j2`` prints for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import ir
from .action_views import ActionView, call_context, resource_view
from .filters import statement
from .log_views import ReplayLog, replay_view
from .printer import docstring, py
from .pyfmt import Call, Expr, Seq
from .symbols import header

# What a signature prints from ``typing`` (the input classes stay in the sync module).
_SIGNATURE_TYPING = ("Any", "Never", "Unpack")


@dataclass(frozen=True)
class AioAction:
    sync: ActionView  # its signature and docstrings are the async function's
    call: str  # "return await session.run_sync(sync.<action>, ...)", formatted
    many_call: str


@dataclass(frozen=True)
class AioActionsView:
    header: str
    resource: ir.Resource
    actions: tuple[AioAction, ...]
    typing: tuple[str, ...]
    input_classes: tuple[str, ...]  # imported from the sync module, which defines them
    sync_module: str  # "<package>.actions.<resource>"


@dataclass(frozen=True)
class AioClear:
    function: str  # "clear_records" or "clear_<log>"
    docstring: str


@dataclass(frozen=True)
class AioClearView:
    header: str
    functions: tuple[AioClear, ...]


@dataclass(frozen=True)
class AioReplayLog:
    entry: ReplayLog  # the sync replay's: the signature macro reads its function and log
    docstring: str
    call: str


@dataclass(frozen=True)
class AioReplayView:
    header: str
    logs: tuple[AioReplayLog, ...]
    uses_uuid: bool
    all_definition: str
    uses_archive: bool = False


def _await(function: str, args: Sequence[Expr], kwargs: list[tuple[str, Expr]]) -> str:
    call = Call("session.run_sync", [f"sync.{function}", *args], kwargs)
    return statement("return await", call, indent=1, operator=" ")


def aio_actions_view(project: ir.Project, resource: ir.Resource) -> AioActionsView:
    log = project.event_log(resource.events.event_log) if resource.events else None
    sync = resource_view(resource, log, project)
    context = call_context(resource)
    actions = []
    for view in sync.actions:
        create = view.action.type == "create"
        args = ([] if create else ["record"]) + (["**params"] if view.fields else [])
        items = "inputs" if create or view.fields else "records"
        actions.append(
            AioAction(
                sync=view,
                call=_await(view.action.name, args, context),
                many_call=_await(f"{view.action.name}_many", [items], context),
            )
        )
    return AioActionsView(
        header=header(resource),
        resource=resource,
        actions=tuple(actions),
        typing=tuple(name for name in sync.typing if name in _SIGNATURE_TYPING),
        input_classes=tuple(sorted(v.input_class for v in sync.actions if v.fields)),
        sync_module=f"{project.package}.actions.{resource.module}",
    )


def aio_clear_records_view(project: ir.Project) -> AioClearView:
    functions = [AioClear("clear_records", "Delete every row of every tracked table.")]
    functions += [
        AioClear(f"clear_{log.module}", f"Clear the records {log.name} tracks, before a replay.")
        for log in project.event_logs
    ]
    return AioClearView(
        header=header(project),
        functions=tuple(
            AioClear(f.function, docstring(f"{f.docstring} Awaits the sync `{f.function}`.", 1))
            for f in functions
        ),
    )


def aio_replay_view(project: ir.Project) -> AioReplayView:
    sync = replay_view(project)
    logs = []
    for entry in sync.logs:
        names = ("last_event_id", "point_in_time", "on_progress", "batch_size")
        kwargs: list[tuple[str, Expr]] = [(name, name) for name in names]
        kwargs.append(("source", "_sync_source(source)"))
        if entry.archive:
            kwargs.append(("archives", "archives"))
        text = (
            f"Rebuild the tables tracked by {entry.log.name} from its events: the sync "
            f"`{entry.function}`, awaited.\n\n`source` (another database) may be an "
            "`AsyncSession` or an `AsyncConnection`."
        )
        logs.append(AioReplayLog(entry, docstring(text, 1), _await(entry.function, [], kwargs)))
    public = ["ReplayResult", *sorted(entry.function for entry in sync.logs)]
    return AioReplayView(
        header=sync.header,
        logs=tuple(logs),
        uses_uuid=sync.uses_uuid,
        uses_archive=sync.uses_archive,
        all_definition=statement("__all__", Seq("[", [py(n) for n in public])),
    )

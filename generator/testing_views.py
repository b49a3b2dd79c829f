"""The view of the generated ``testing`` module: the package's logs, typed for the helpers."""

from __future__ import annotations

from dataclasses import dataclass

from . import ir
from .filters import INDENT, WIDTH, statement, type_layout, width
from .log_views import replay_function
from .pyfmt import Call, Seq
from .symbols import header


@dataclass(frozen=True)
class HelpersView:
    header: str
    row_alias: str  # "EventRow: TypeAlias = models.Event | ...", the logs' model classes
    logs_definition: str  # "LOGS = (_testing.LogUnderTest(...), ...)"


def helpers_view(project: ir.Project) -> HelpersView:
    """Spec names appear in the module only after a dot (``models.Event``), so none of them can
    shadow a name the module binds itself."""
    union = " | ".join(f"models.{log.name}" for log in project.event_logs)
    alias = f"EventRow: TypeAlias = {union}"
    if width(alias) > WIDTH:
        alias = f"EventRow: TypeAlias = (\n{INDENT}{type_layout(union, 1)}\n)"
    entries = [
        Call(
            "_testing.LogUnderTest",
            [f"event_logs.{log.name.upper()}"],
            [
                ("replay", f"replay.{replay_function(project, log)}"),
                ("actions", f"replay.{log.name.upper()}_ACTIONS"),
                ("tracked", f"replay.{log.name.upper()}_TRACKED"),
            ],
        )
        for log in project.event_logs
    ]
    return HelpersView(
        header=header(*project.event_logs),
        row_alias=alias,
        logs_definition=statement("LOGS", Seq("(", entries)),
    )

"""The views of the package's small modules: ``__init__``, ``actions/__init__``, an actions module
(around :func:`eventspec.action_views.resource_view`) and ``clear_records``."""

from __future__ import annotations

from dataclasses import dataclass

from . import ir
from .action_views import ResourceView, resource_view
from .ordering import clear_order
from .symbols import header, ref_module, user_modules


@dataclass(frozen=True)
class PackageView:
    """``__init__.py`` and ``actions/__init__.py``: the project is all they print."""

    header: str
    project: ir.Project


@dataclass(frozen=True)
class ActionsModuleView:
    header: str
    resource: ir.Resource
    log: ir.EventLog | None
    view: ResourceView
    imports: tuple[str, ...]  # user modules its changes and validations call


@dataclass(frozen=True)
class ClearRecordsView:
    header: str
    # Each log with its tables, children first.
    logs: tuple[tuple[ir.EventLog, tuple[ir.Resource, ...]], ...]
    all_tables: tuple[ir.Resource, ...]
    imports: tuple[str, ...]  # user modules of ``clear_records_for_replay`` functions


def package_view(project: ir.Project) -> PackageView:
    return PackageView(header(project), project)


def actions_module_view(project: ir.Project, resource: ir.Resource) -> ActionsModuleView:
    log = project.event_log(resource.events.event_log) if resource.events else None
    return ActionsModuleView(
        header=header(resource),
        resource=resource,
        log=log,
        view=resource_view(resource, log, project),
        imports=tuple(sorted(user_modules(resource))),
    )


def clear_records_view(project: ir.Project) -> ClearRecordsView:
    return ClearRecordsView(
        header=header(project),
        logs=tuple((log, tuple(clear_order(project, log))) for log in project.event_logs),
        all_tables=tuple(clear_order(project, None)),
        imports=tuple(
            sorted(
                {
                    ref_module(log.clear_records_for_replay)
                    for log in project.event_logs
                    if log.clear_records_for_replay != "auto"
                }
            )
        ),
    )

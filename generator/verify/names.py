"""Names that would collide in the generated code."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeAlias

from ..diagnostics import Diagnostic, Origin, at
from ..ir import EventLog, Project, Resource, snake_case
from ..tables import CHECKPOINTS_TABLE, snapshot_table_names
from ..tables import snapshot_class_names as snapshot_class_names_of
from .common import Rule, node_at

Unit: TypeAlias = Resource | EventLog


def _units(project: Project) -> list[Unit]:
    units: list[Unit] = [*project.resources, *project.event_logs]
    return sorted(units, key=lambda u: (u.origin.source.name, u.origin.source.locate(())))


def _where(origin: Origin) -> str:
    line, _col = origin.source.locate(())
    return f"{origin.source.name}:{line}"


def unique_class_names(project: Project) -> Iterator[Diagnostic]:
    first: dict[str, Unit] = {}
    for unit in _units(project):
        if unit.name in first:
            message = (
                f"duplicate class name '{unit.name}' (also in {_where(first[unit.name].origin)})"
            )
            yield at(unit.origin, "ES206", message, "name")
        else:
            first[unit.name] = unit


def unique_table_names(project: Project) -> Iterator[Diagnostic]:
    first: dict[str, Unit] = {}
    for unit in _units(project):
        if unit.table in first:
            other = first[unit.table]
            step = "table" if node_at(unit.origin, "table") else "name"
            message = f"duplicate table name '{unit.table}' (also used by '{other.name}' in "
            message += f"{_where(other.origin)})"
            yield at(unit.origin, "ES207", message, step)
        else:
            first[unit.table] = unit


def reserved_table_names(project: Project) -> Iterator[Diagnostic]:
    """ES318: ``eventspec_checkpoints`` is the consumers' checkpoint table (``<package>.log``)."""
    for unit in _units(project):
        if unit.table.casefold() == CHECKPOINTS_TABLE:
            step = "table" if node_at(unit.origin, "table") else "name"
            message = f"table name '{unit.table}' is the generated table of consumer checkpoints"
            yield at(unit.origin, "ES318", message, step, hint="choose another table name")


def snapshot_names(project: Project) -> Iterator[Diagnostic]:
    """ES330: the tables and model classes of an archived log's snapshots take names of their
    own."""
    units = _units(project)
    classes = {unit.name.casefold(): unit for unit in units}
    tables = {unit.table.casefold(): unit for unit in units}
    for log in (log for log in project.event_logs if log.archive):
        derived = [(name, classes, "model class") for name in snapshot_class_names_of(log)]
        derived += [(name, tables, "table") for name in snapshot_table_names(log)]
        for name, taken, what in derived:
            other = taken.get(name.casefold())
            if other is None and what == "table" and name.casefold() == CHECKPOINTS_TABLE:
                other = log
            if other is not None:
                message = f"'archive: true' makes a {what} '{name}' for the snapshots of "
                message += f"'{log.name}', which '{other.name}' ({_where(other.origin)}) has"
                hint = f"rename '{other.name}', or the event log or its table"
                yield at(log.origin, "ES330", message, "archive", hint=hint)


def unique_module_names(project: Project) -> Iterator[Diagnostic]:
    first: dict[str, Unit] = {}
    for unit in _units(project):
        module = snake_case(unit.name)
        other = first.setdefault(module, unit)
        if other.name != unit.name:
            message = f"class names '{other.name}' and '{unit.name}' both become module '{module}'"
            yield at(unit.origin, "ES208", message, "name")


def bulk_variants(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        for action in resource.actions:
            base = action.name.removesuffix("_many")
            if base != action.name and resource.action(base) is not None:
                message = f"action name '{action.name}' collides with the bulk variant of "
                message += f"action '{base}'"
                yield at(action.origin, "ES204", message, key=True)


def resource_member_names(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        for rel in resource.relationships:
            if resource.attribute(rel.name) is not None:
                message = f"relationship '{rel.name}' has the name of an attribute of "
                message += f"'{resource.name}'"
                yield at(rel.origin, "ES205", message, key=True)
        for action in resource.actions:
            for argument in action.arguments:
                if argument.name in action.accept:
                    message = f"argument '{argument.name}' of action '{action.name}' has the "
                    message += "name of an accepted attribute"
                    yield at(argument.origin, "ES205", message, key=True)


RULES: tuple[Rule, ...] = (
    unique_class_names,
    unique_table_names,
    reserved_table_names,
    snapshot_names,
    unique_module_names,
    bulk_variants,
    resource_member_names,
)

"""Names that would collide in the generated code."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeAlias

from ..diagnostics import Diagnostic, Origin, at
from ..ir import EventLog, Project, Resource, snake_case
from ..tables import CHECKPOINTS_TABLE
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
    unique_module_names,
    bulk_variants,
    resource_member_names,
)

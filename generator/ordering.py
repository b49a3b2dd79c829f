"""Foreign-key order of tracked resources: clear-records deletes children before parents."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

from . import ir


def _graph(resources: tuple[ir.Resource, ...]) -> dict[str, set[str]]:
    """resource -> resources it references (self-references dropped: one DELETE handles them)."""
    names = {r.name for r in resources}
    return {
        r.name: {
            rel.destination
            for rel in r.relationships
            if rel.type == "belongs_to" and rel.destination in names and rel.destination != r.name
        }
        for r in resources
    }


def tracked(project: ir.Project, log: ir.EventLog | None) -> tuple[ir.Resource, ...]:
    if log is None:
        return tuple(r for r in project.resources if r.events is not None)
    return project.resources_of(log)


def clear_order(project: ir.Project, log: ir.EventLog | None) -> list[ir.Resource]:
    """Tracked resources, children first; ties broken by name so output is deterministic."""
    resources = tracked(project, log)
    sorter = TopologicalSorter(_graph(resources))
    by_name = {r.name: r for r in resources}
    parents_first: list[str] = []
    sorter.prepare()
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        parents_first.extend(ready)
        sorter.done(*ready)
    return [by_name[name] for name in reversed(parents_first)]


def find_cycle(project: ir.Project) -> list[str] | None:
    """The names on one foreign-key cycle among tracked resources, or ``None``."""
    try:
        TopologicalSorter(_graph(tracked(project, None))).prepare()
    except CycleError as error:
        cycle: list[str] = list(error.args[1])
        return cycle
    return None

"""Rules that make sure a tracked project can be replayed.

* ES250 foreign-key cycle among tracked resources: clear-records cannot order the deletes
* ES251 a sensitive attribute is accepted as input by a tracked action of a plain (unencrypted)
  log: its value is stored as null, so replay cannot restore it (a required one fails replay, an
  optional one silently replays to null)
"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic, at
from ..ir import Project
from ..ordering import find_cycle


def foreign_key_cycles(project: Project) -> Iterator[Diagnostic]:
    cycle = find_cycle(project)
    if cycle is None or any(log.clear_records_for_replay != "auto" for log in project.event_logs):
        return
    first = project.resource(cycle[0])
    assert first is not None
    yield at(
        first.origin,
        "ES250",
        f"foreign keys form a cycle ({' -> '.join(cycle)}), so clear_records cannot delete "
        "children before parents",
        "relationships",
        key=True,
        hint="break the cycle, or set clear_records_for_replay to your own function",
    )


def unreplayable_sensitive_inputs(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        log = project.event_log(resource.events.event_log) if resource.events else None
        if log is None or log.encrypted:
            continue
        for action in resource.tracked_actions():
            for position, name in enumerate(action.accept):
                attribute = resource.attribute(name)
                if attribute and attribute.sensitive:
                    yield at(
                        action.origin,
                        "ES251",
                        f"'{name}' is sensitive and an input of tracked action "
                        f"'{action.name}': {log.name} stores it as null, so replay cannot "
                        "restore it",
                        "accept",
                        position,
                        hint=f"encrypt {log.name} (encryption: {{key_env: ...}}), make '{name}' "
                        "not sensitive, or take an argument and set it in a change "
                        "(changed_attributes then keeps it, unencrypted)",
                    )


RULES = (foreign_key_cycles, unreplayable_sensitive_inputs)

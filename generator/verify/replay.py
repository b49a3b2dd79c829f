"""Rules that make sure a tracked project can be replayed.

* ES250 foreign-key cycle among tracked resources: clear-records cannot order the deletes
* ES251 a sensitive attribute is accepted as input by a tracked action of a plain (unencrypted)
  log: its value is stored as null, so replay cannot restore it (a required one fails replay, an
  optional one silently replays to null)
* ES315 a foreign key from a resource an event log does not track into one it tracks: replaying
  that log deletes the rows it points at, which fails (or cascades, or sets it null)
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


# What clearing the destination's table does to the rows that point at it, by on_delete.
_CLEARED = {
    None: "that fails while a row of {source} points at one",
    "restrict": "that fails while a row of {source} points at one",
    "cascade": "ON DELETE CASCADE then deletes every row of {source} that points at one, and "
    "replay does not bring them back",
    "set_null": "ON DELETE SET NULL then empties '{column}' of every row of {source} that points "
    "at one, and replay does not restore it",
}


def untracked_references(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        own = resource.events.event_log if resource.events else None
        if own is not None and project.event_log(own) is None:
            continue  # an unknown log is ES230
        for rel in resource.relationships:
            destination = project.resource(rel.destination)
            if rel.type != "belongs_to" or rel.allow_replay_clear or destination is None:
                continue
            log = project.event_log(destination.events.event_log) if destination.events else None
            if log is None or log.name == own or log.clear_records_for_replay != "auto":
                continue
            tracked = f"is tracked by {own}" if own else "has no event log"
            effect = _CLEARED[rel.on_delete].format(
                source=resource.name, column=rel.source_attribute
            )
            yield at(
                resource.origin,
                "ES315",
                f"'{resource.name}' {tracked}, but its relationship '{rel.name}' is a foreign key "
                f"into '{destination.name}', which {log.name} tracks: replaying {log.name} "
                f"deletes every {destination.name} row first: {effect}",
                "relationships",
                rel.name,
                key=True,
                hint=f"track {resource.name} in {log.name}, set clear_records_for_replay of "
                f"{log.name} to your own function, or set allow_replay_clear: true on "
                f"'{rel.name}' to accept it",
            )


RULES = (foreign_key_cycles, unreplayable_sensitive_inputs, untracked_references)

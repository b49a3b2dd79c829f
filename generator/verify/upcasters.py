"""Rules for ``events.upcasters`` (ES310-ES313).

* ES310 upcasters for an action that is neither an action of the resource nor one a
  replay_override of its log routes (events of a removed action can be upcast, then routed)
* ES311 an upcaster's from_version is not below the action's current version
* ES312 two upcasters of one action read the same from_version
* ES313 a replay_override names a version that an upcaster turns into the next one first, so the
  override never matches (upcasting runs before routing)
* ES314 an upcaster step names a key that an attribute's ``renamed_from`` renames before the
  upcasters run: steps see current attribute names
"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic, at
from ..ir import Project
from .common import tracked


def upcaster_actions(project: Project) -> Iterator[Diagnostic]:
    for resource in tracked(project):
        assert resource.events is not None
        log = project.event_log(resource.events.event_log)
        # A log left out after its own errors may route any old action: none is reported.
        unknown_routes = log is None and resource.events.event_log in project.left_out
        routed = {
            o.action for o in (log.replay_overrides if log else ()) if o.resource == resource.name
        }
        seen: dict[tuple[str, int], bool] = {}
        for upcaster in resource.events.upcasters:
            action = resource.action(upcaster.action)
            if action is None and upcaster.action not in routed and not unknown_routes:
                yield at(
                    upcaster.origin,
                    "ES310",
                    f"upcasters for '{upcaster.action}', which is not an action of "
                    f"{resource.name} and no replay_override routes",
                    key=False,
                    hint="name an action of the resource, or route the old action's events "
                    "with a replay_override",
                )
                continue
            current = resource.events.version_of(upcaster.action)
            if action is not None and upcaster.from_version >= current:
                yield at(
                    upcaster.origin,
                    "ES311",
                    f"upcaster from_version {upcaster.from_version} of {resource.name}."
                    f"{upcaster.action} is not below its current version {current}: an upcaster "
                    "turns version N events into N + 1",
                    "from_version",
                    hint=f"bump current_action_versions.{upcaster.action}, or upcast from a lower "
                    "version",
                )
            if (upcaster.action, upcaster.from_version) in seen:
                yield at(
                    upcaster.origin,
                    "ES312",
                    f"a second upcaster of {resource.name}.{upcaster.action} from version "
                    f"{upcaster.from_version}",
                    "from_version",
                    hint="merge their steps into one upcaster",
                )
            seen[(upcaster.action, upcaster.from_version)] = True


def shadowed_overrides(project: Project) -> Iterator[Diagnostic]:
    for log in project.event_logs:
        for override in log.replay_overrides:
            resource = project.resource(override.resource)
            events = resource.events if resource else None
            if events is None or events.event_log != log.name:
                continue
            upcast = events.upcasters_of(override.action)
            for position, version in enumerate(override.versions):
                if version in upcast:
                    yield at(
                        override.origin,
                        "ES313",
                        f"this override of {override.resource}.{override.action} version "
                        f"{version} never matches: an upcaster turns those events into version "
                        f"{version + 1} before they are routed",
                        "versions",
                        position,
                        hint=f"route version {version + 1} instead, or remove the upcaster",
                    )


def stale_step_keys(project: Project) -> Iterator[Diagnostic]:
    for resource in tracked(project):
        assert resource.events is not None
        renamed = {a.renamed_from: a.name for a in resource.attributes if a.renamed_from}
        for upcaster in resource.events.upcasters:
            for position, step in enumerate(upcaster.steps):
                for key in (step.key, step.to if step.kind == "rename" else ""):
                    if key in renamed:
                        yield at(
                            upcaster.origin,
                            "ES314",
                            f"this step names '{key}', which renamed_from turns into "
                            f"'{renamed[key]}' before upcasters run",
                            "steps",
                            position,
                            hint=f"write '{renamed[key]}': upcaster steps see current "
                            "attribute names",
                        )


RULES = (upcaster_actions, shadowed_overrides, stale_step_keys)

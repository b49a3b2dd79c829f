"""Rules of personal data (crypto-shredding, see docs/privacy.md).

* ES320 a personal attribute or argument where no encrypted event log records it: its value would
  be stored in plain text, or not be erasable
* ES321 a resource with personal fields and no ``data_subject``; ES322 ``data_subject`` on a
  resource without personal fields
* ES323 ``data_subject.attribute`` names an unknown attribute, a personal one, or one of a type
  that cannot name a subject
* ES324 ``data_subject: actor`` where the event log declares no actor types
* ES325 a personal attribute that cannot be erased: not nullable, a primary key, a foreign key,
  a tenant attribute or part of an identity (erased values are null)
* ES358 ``on_erase`` on a resource with no personal attribute or no ``data_subject``
"""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic, Origin, at
from ..ir import Project, Resource
from ..personal import has_personal

_SUBJECT_TYPES = frozenset({"string", "text", "integer", "big_integer", "uuid", "uuidv7"})


def unencrypted_personal(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        log = project.event_log(resource.events.event_log) if resource.events else None
        if resource.events and log is None:
            continue  # an unknown log is ES230
        if log is not None and log.encrypted:
            continue
        for attr in resource.attributes:
            if attr.personal:
                yield _unencrypted(attr.origin, attr.name, resource, log is not None)
        for action in resource.actions:
            for arg in action.arguments:
                if arg.personal:
                    yield _unencrypted(arg.origin, arg.name, resource, log is not None)


def _unencrypted(origin: Origin, name: str, resource: Resource, tracked: bool) -> Diagnostic:
    why = (
        f"its event log {resource.events.event_log} is not encrypted"
        if tracked and resource.events
        else f"{resource.name} is not tracked by an event log"
    )
    return at(
        origin,
        "ES320",
        f"'{name}' is personal, but {why}: personal values are encrypted with a key per data "
        "subject inside the encrypted event maps",
        "personal",
        key=True,
        hint="give the event log `encryption: {key_env: ...}` (see docs/privacy.md)",
    )


def subject_declared(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        personal = has_personal(resource)
        if personal and resource.data_subject is None:
            yield at(
                resource.origin,
                "ES321",
                f"{resource.name} has personal fields but no data_subject: say whose data they are",
                "name",
                hint="data_subject: record (the record's key), actor, or {attribute: user_id}",
            )
        elif not personal and resource.data_subject is not None:
            yield at(
                resource.data_subject.origin,
                "ES322",
                f"{resource.name} has a data_subject but no personal attribute or argument",
                key=True,
                hint="mark the fields that are personal data with personal: true, or remove "
                "data_subject",
            )


def subject_attribute(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        subject = resource.data_subject
        if subject is None or subject.kind != "attribute" or subject.attribute is None:
            continue
        attr = resource.attribute(subject.attribute)
        problem = None
        if attr is None:
            problem = "is not an attribute of " + resource.name
        elif attr.personal:
            problem = "is personal itself: it would be erased with the data it names"
        elif attr.type.name not in _SUBJECT_TYPES:
            problem = f"is of type {attr.type.name}, which cannot name a subject"
        if problem is not None:
            yield at(
                subject.origin,
                "ES323",
                f"data_subject attribute '{subject.attribute}' {problem}",
                "attribute",
                hint="name a non-personal string, integer or uuid attribute (a belongs_to key)",
            )


def actor_subject(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        subject = resource.data_subject
        if subject is None or subject.kind != "actor" or resource.events is None:
            continue
        log = project.event_log(resource.events.event_log)
        if log is not None and not log.actors:
            yield at(
                subject.origin,
                "ES324",
                f"data_subject is actor, but event log {log.name} declares no actor types",
                hint="declare persist_actor_primary_key on the log, or use record or attribute",
            )


def erasable_attributes(project: Project) -> Iterator[Diagnostic]:
    for resource in project.resources:
        identity_keys = {k for i in resource.identities for k in i.keys}
        tenant = resource.multitenancy.attribute if resource.multitenancy else None
        for attr in resource.attributes:
            if not attr.personal:
                continue
            problem = None
            if attr.primary_key:
                problem = "a primary key"
            elif attr.belongs_to is not None:
                problem = "a foreign key"
            elif attr.name == tenant:
                problem = "the tenant attribute"
            elif attr.name in identity_keys:
                problem = "part of an identity"
            elif not attr.allow_nil:
                problem = "not nullable (allow_nil: false)"
            if problem is not None:
                yield at(
                    attr.origin,
                    "ES325",
                    f"personal attribute '{attr.name}' is {problem}: erasing sets personal "
                    "attributes to null",
                    "personal",
                    key=True,
                    hint="personal attributes must be plain nullable values; enforce presence "
                    "with a `present` validation instead of allow_nil: false",
                )


def erase_policy(project: Project) -> Iterator[Diagnostic]:
    """ES358: ``on_erase`` says what erasing a subject does to records that hold its data."""
    for resource in project.resources:
        if resource.on_erase == "null":
            continue
        personal = any(attribute.personal for attribute in resource.attributes)
        if personal and resource.data_subject is not None:
            continue
        lacks = "no personal attribute" if not personal else "no data_subject"
        yield at(
            resource.origin,
            "ES358",
            f"{resource.name} has on_erase: {resource.on_erase} but {lacks}: erasing a data "
            "subject never reaches its records",
            "on_erase",
            key=True,
            hint="mark its personal attributes with personal: true and give it a data_subject, "
            "or remove on_erase",
        )


RULES = (
    unencrypted_personal,
    subject_declared,
    subject_attribute,
    actor_subject,
    erasable_attributes,
    erase_policy,
)

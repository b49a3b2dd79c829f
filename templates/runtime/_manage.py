"""Nested writes through a has_many relationship (the spec's ``manage_relationships``; Ash's
``manage_relationship``).

A managed input is a list of dicts. After the parent's own write and event, inside its SAVEPOINT,
each item is written by the destination resource's own action (its validations, changes and
hooks), with the parent's actor, metadata and tenant, and records its own event: so a failure in
any item leaves none of the writes, and the events come in id order parent first. Replay applies
the parent's event without the nested writes (they are an ``after_action`` hook, which replay
skips) and each nested write from its own event: nothing is written twice.

Strategies, as Ash's ``manage_relationship`` types:

* ``create``: each item creates a related record (Ash ``type: :create``).
* ``upsert``: an item matching a related record of this parent (by the destination identity the
  spec names, else by primary key) updates it; any other creates one; the rest are left alone.
* ``direct_control``: as upsert, and related records no item matched are destroyed (Ash
  ``type: :direct_control``: exactly these related records, no more).

The parent's event does not record a managed input: every nested write records its own input in
its own event, once (so sensitive and personal values stay under their own rules there).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select

from ._engine import ActionDef, ArgumentDef, run_create, run_destroy, run_update
from ._types import Refused
from .changeset import Changeset
from .errors import ValidationError

Strategy = Literal["create", "upsert", "direct_control"]


@dataclass(frozen=True)
class Managed:
    """One managed has_many relationship. The destination's actions are looked up in its
    generated module (``<package>.actions.<module>``) when first needed: two resources may
    manage each other without importing each other."""

    resource: str  # the destination resource
    module: str  # its actions module
    strategy: Strategy
    foreign_key: str  # the destination attribute holding the parent's key
    source_attribute: str  # the parent attribute it holds
    create: str
    update: str | None = None
    destroy: str | None = None
    match: tuple[str, ...] = ()  # what an item is matched by (upsert, direct_control)
    _actions: dict[str, ActionDef] = field(default_factory=dict, repr=False, compare=False)

    def action(self, name: str) -> ActionDef:
        found = self._actions.get(name)
        if found is None:
            module = importlib.import_module(f".actions.{self.module}", __package__)
            found = module.ACTIONS[(self.resource, name)]
            self._actions[name] = found
        return found

    def inputs(self) -> dict[str, ActionDef]:
        """The destination action that checks each input an item may hold: the create
        action's, then the update action's; the match keys are checked as attributes."""
        by_input: dict[str, ActionDef] = {}
        for name in (self.update, self.create):
            if name is not None:
                action = self.action(name)
                by_input.update(dict.fromkeys(action.inputs - {self.foreign_key}, action))
        return by_input

    def check(self, value: Any) -> list[dict[str, Any]]:
        """The items as their types accept them; a refusal names its path (``[2].email``)."""
        if not isinstance(value, list | tuple):
            raise Refused(f"must be a list of dicts, not {type(value).__name__}")
        inputs = self.inputs()
        attributes = self.action(self.create).resource.attributes
        items = []
        for index, item in enumerate(value):
            if not isinstance(item, Mapping):
                raise Refused(f"must be a dict, not {type(item).__name__}", f"[{index}]")
            checked: dict[str, Any] = {}
            for key, raw in item.items():
                if key in self.match and key not in inputs:
                    check = attributes[key].check
                elif key in inputs:
                    check = inputs[key].checkers[key]
                else:
                    known = ", ".join(sorted({*inputs, *self.match}))
                    raise Refused(
                        f"is not an input of {self.resource} here ({known})", f"[{index}].{key}"
                    )
                try:
                    checked[key] = None if raw is None else check(raw)
                except Refused as refused:
                    raise refused.within(f"[{index}].{key}") from None
            items.append(checked)
        return items

    def argument(self) -> ArgumentDef:
        return ArgumentDef("nested", nested=self)

    def write(self, name: str, cs: Changeset, parent: Any) -> None:
        """The ``after_action`` hook of the parent's action: write every item of input ``name``."""
        items: list[dict[str, Any]] | None = cs.arguments.get(name)
        if items is None:
            return  # not passed: the related records are left as they are
        session = cs.session
        key = getattr(parent, self.source_attribute)
        create = self.action(self.create)
        context: dict[str, Any] = {"actor": cs.actor, "metadata": cs.metadata}
        if create.resource.tenant_attribute is not None:
            context["tenant"] = cs.tenant
        existing: dict[tuple[Any, ...], Any] = {}
        if self.strategy != "create" and cs.action_type == "update":
            model = create.resource.model
            related = session.scalars(select(model).where(getattr(model, self.foreign_key) == key))
            existing = {tuple(getattr(r, k) for k in self.match): r for r in related}
        matched: set[int] = set()
        for index, item in enumerate(items):
            with _at(f"{name}[{index}]"):
                found = self._find(existing, item) if self.strategy != "create" else None
                if found is None:
                    params = {k: v for k, v in item.items() if k not in self._match_only(create)}
                    run_create(session, create, {**params, self.foreign_key: key}, **context)
                    continue
                matched.add(id(found))
                assert self.update is not None
                update = self.action(self.update)
                params = {k: v for k, v in item.items() if k not in self.match}
                run_update(session, update, found, params, **context)
        if self.strategy == "direct_control":
            assert self.destroy is not None
            destroy = self.action(self.destroy)
            for record in existing.values():
                if id(record) not in matched:
                    run_destroy(session, destroy, record, {}, **context)

    def _find(self, existing: Mapping[tuple[Any, ...], Any], item: Mapping[str, Any]) -> Any:
        """The related record ``item`` names, None for a new one. An item that gives every
        match key names a record; one that names none of this parent's is refused."""
        if any(item.get(k) is None for k in self.match):
            return None
        found = existing.get(tuple(item[k] for k in self.match))
        if found is None and self.match == (self._primary_key(),):
            key = self.match[0]
            raise ValidationError(key, f"no {self.resource} with this {key} is related here")
        return found

    def _primary_key(self) -> str:
        return self.action(self.create).resource.primary_key

    def _match_only(self, create: ActionDef) -> frozenset[str]:
        """Match keys the create action does not take (a primary key made by a default)."""
        return frozenset(self.match) - create.inputs


@contextmanager
def _at(path: str) -> Iterator[None]:
    """A nested write's ValidationError, named by where its item is (``users[2].email``)."""
    try:
        yield
    except ValidationError as error:
        if type(error) is not ValidationError:
            raise  # ActorError and other subclasses say what they say
        field_name = f"{path}.{error.field}" if error.field else path
        raise ValidationError(field_name, error.message) from error


def has_many(
    resource: str,
    module: str,
    strategy: Strategy,
    *,
    foreign_key: str,
    source_attribute: str,
    create: str,
    update: str | None = None,
    destroy: str | None = None,
    match: tuple[str, ...] = (),
) -> ArgumentDef:
    """The argument of a managed has_many relationship (see the module's docstring)."""
    managed = Managed(
        resource,
        module,
        strategy,
        foreign_key,
        source_attribute,
        create,
        update,
        destroy,
        match,
    )
    return managed.argument()

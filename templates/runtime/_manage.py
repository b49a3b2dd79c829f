"""Nested writes through a relationship (the spec's ``manage_relationships``; Ash's
``manage_relationship``).

A managed input of a has_many relationship is a list of dicts; of a has_one or belongs_to, one
dict. Each item is written by the destination resource's own action (its validations, changes and
hooks), inside the parent's SAVEPOINT, with the parent's actor, metadata and tenant, and records
its own event: a failure in any item leaves none of the writes. has_many and has_one items are
written after the parent (an ``after_action`` step: they need its key), a belongs_to item before
the parent's write (a change: the parent needs its key), so that in id order a record's event
always comes after the events of the records it points to. Replay runs neither step: it applies
the parent's event as recorded (its foreign keys included) and each nested write from its own
event, so nothing is written twice.

Strategies, as Ash's ``manage_relationship`` types:

* ``create``: each item creates a related record (Ash ``type: :create``).
* ``upsert``: an item matching a related record (by the destination identity the spec names,
  else by primary key) updates it; any other creates one; the rest are left alone. has_many and
  has_one items match among this parent's related records; a belongs_to item among all.
* ``direct_control`` (has_many, has_one): as upsert, and related records no item matched are
  destroyed (Ash ``type: :direct_control``: exactly these related records, no more).
* ``append`` (has_many, belongs_to): each item names an existing record (by identity or primary
  key) to relate; a has_many relates it through the destination's update action, setting its
  foreign key (Ash ``type: :append``). ``remove`` (has_many): each item names a related record to
  unrelate, its foreign key set to null (Ash ``type: :remove``). ``append_and_remove``: relate
  these, unrelate the rest (Ash ``type: :append_and_remove``). Nothing else is written.

The parent's event does not record a managed input: every nested write records its own input in
its own event, once (so sensitive and personal values stay under their own rules there).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from sqlalchemy import select

from ._engine import (
    ActionDef,
    ArgumentDef,
    ResourceDef,
    run_create,
    run_destroy,
    run_update,
)
from ._rules import ChangeDef
from ._types import Refused
from .changeset import Changeset
from .errors import ValidationError

Strategy = Literal["create", "upsert", "direct_control", "append", "remove", "append_and_remove"]
Kind = Literal["has_many", "has_one", "belongs_to"]
# The strategies that relate or unrelate existing records without writing anything else.
RELATE = frozenset({"append", "remove", "append_and_remove"})


@dataclass(frozen=True)
class Managed:
    """One managed relationship. The destination's actions are looked up in its generated module
    (``<package>.actions.<module>``) when first needed: two resources may manage each other
    without importing each other."""

    kind: Kind
    resource: str  # the destination resource
    module: str  # its actions module
    strategy: Strategy
    # has_many, has_one: the destination's attribute holding the parent's key, and the parent's
    # attribute it holds. belongs_to: the parent's attribute holding the destination's key, and
    # the destination's attribute it holds.
    foreign_key: str
    source_attribute: str
    create: str | None = None  # None: the strategy relates, it creates nothing
    update: str | None = None
    destroy: str | None = None
    match: tuple[str, ...] = ()  # what an item is matched by (all but create)
    _actions: dict[str, ActionDef] = field(default_factory=dict, repr=False, compare=False)

    def action(self, name: str) -> ActionDef:
        found = self._actions.get(name)
        if found is None:
            found = self._module().ACTIONS[(self.resource, name)]
            self._actions[name] = found
        return found

    def _module(self) -> Any:
        return importlib.import_module(f".actions.{self.module}", __package__)

    def inputs(self) -> dict[str, ActionDef]:
        """The destination action that checks each input an item may hold: the create
        action's, then the update action's; the match keys are checked as attributes."""
        by_input: dict[str, ActionDef] = {}
        if self.strategy in RELATE:
            return by_input  # an item names a record by its match keys, nothing more
        for name in (self.update, self.create):
            if name is not None:
                action = self.action(name)
                owned = (
                    action.inputs - {self.foreign_key}
                    if self.kind != "belongs_to"
                    else action.inputs
                )
                by_input.update(dict.fromkeys(owned, action))
        return by_input

    def check(self, value: Any) -> Any:
        """The items as their types accept them; a refusal names its path (``[2].email``)."""
        if self.kind != "has_many":
            return self._item(value, "")
        if not isinstance(value, list | tuple):
            raise Refused(f"must be a list of dicts, not {type(value).__name__}")
        return [self._item(item, f"[{index}]") for index, item in enumerate(value)]

    def _item(self, item: Any, path: str) -> dict[str, Any]:
        if not isinstance(item, Mapping):
            raise Refused(f"must be a dict, not {type(item).__name__}", path)
        inputs = self.inputs()
        attributes = self._resource().attributes
        checked: dict[str, Any] = {}
        for key, raw in item.items():
            if key in self.match and key not in inputs:
                check = attributes[key].check
            elif key in inputs:
                check = inputs[key].checkers[key]
            else:
                known = ", ".join(sorted({*inputs, *self.match}))
                raise Refused(f"is not an input of {self.resource} here ({known})", f"{path}.{key}")
            try:
                checked[key] = None if raw is None else check(raw)
            except Refused as refused:
                raise refused.within(f"{path}.{key}") from None
        return checked

    def argument(self) -> ArgumentDef:
        return ArgumentDef("nested", nested=self)

    def step(self, name: str) -> ChangeDef:
        """The parent action's step writing input ``name``. A belongs_to is a change: it runs
        after the parent's validations and before its required attributes are checked, and
        does nothing on replay (the foreign key comes back from ``changed_attributes``). The
        others are an ``after_action`` hook, which replay does not run."""
        if self.kind == "belongs_to":
            return ChangeDef("change", partial(self.write_target, name))
        return ChangeDef("after_action", partial(self.write_related, name))

    def _context(self, cs: Changeset) -> dict[str, Any]:
        context: dict[str, Any] = {"actor": cs.actor, "metadata": cs.metadata}
        if self._resource().tenant_attribute is not None:
            context["tenant"] = cs.tenant
        return context

    def write_related(self, name: str, cs: Changeset, parent: Any) -> None:
        """has_many, has_one: write every item of input ``name`` for ``parent``, just written."""
        value = cs.arguments.get(name)
        if value is None:
            return  # not passed: the related records are left as they are
        items: list[dict[str, Any]] = value if self.kind == "has_many" else [value]
        session = cs.session
        key = getattr(parent, self.source_attribute)
        context = self._context(cs)
        existing: dict[tuple[Any, ...], Any] = {}
        if self.kind == "has_one" or (self.strategy != "create" and cs.action_type == "update"):
            model = self._resource().model
            related = session.scalars(select(model).where(getattr(model, self.foreign_key) == key))
            existing = {tuple(getattr(r, k) for k in self.match): r for r in related}
        if self.strategy in RELATE:
            self._relate(cs, name, items, key, existing)
            return
        create = self.action(self.create or "")
        matched: set[int] = set()
        for index, item in enumerate(items):
            with _at(f"{name}[{index}]" if self.kind == "has_many" else name):
                found = self._find(existing, item) if self.strategy != "create" else None
                if found is None:
                    if self.kind == "has_one" and existing and self.strategy != "direct_control":
                        raise ValidationError(
                            None,
                            f"there is a related {self.resource} already: name it to "
                            "update it, or manage the relationship with direct_control",
                        )
                    params = {k: v for k, v in item.items() if k not in self._match_only(create)}
                    run_create(session, create, {**params, self.foreign_key: key}, **context)
                    continue
                matched.add(id(found))
                params = {k: v for k, v in item.items() if k not in self.match}
                if params:  # an item of nothing but its match keys leaves the record as it is
                    run_update(session, self.action(self.update or ""), found, params, **context)
        if self.strategy == "direct_control":
            destroy = self.action(self.destroy or "")
            for record in existing.values():
                if id(record) not in matched:
                    run_destroy(session, destroy, record, {}, **context)

    def _relate(
        self,
        cs: Changeset,
        name: str,
        items: list[dict[str, Any]],
        key: Any,
        existing: Mapping[tuple[Any, ...], Any],
    ) -> None:
        """append, remove, append_and_remove: point the records the items name at the parent,
        or at nothing, through the update action (whose event records the foreign key)."""
        update = self.action(self.update or "")
        named: set[int] = set()
        for index, item in enumerate(items):
            with _at(f"{name}[{index}]"):
                if self.strategy == "remove":
                    found = existing.get(tuple(item.get(k) for k in self.match))
                    if found is None:
                        raise self._unknown("is related here")
                    run_update(
                        cs.session, update, found, {self.foreign_key: None}, **self._context(cs)
                    )
                    continue
                found = self._lookup(cs, item)
                if found is None:
                    raise self._unknown("exists")
                named.add(id(found))
                if getattr(found, self.foreign_key) != key:
                    run_update(
                        cs.session, update, found, {self.foreign_key: key}, **self._context(cs)
                    )
        if self.strategy == "append_and_remove":
            for record in existing.values():
                if id(record) not in named:
                    params = {self.foreign_key: None}
                    run_update(cs.session, update, record, params, **self._context(cs))

    def _lookup(self, cs: Changeset, item: Mapping[str, Any]) -> Any:
        """The destination record ``item`` names by its match keys (in the tenant), or None."""
        if any(item.get(k) is None for k in self.match):
            return None
        resource = self._resource()
        model = resource.model
        where = [getattr(model, k) == item[k] for k in self.match]
        if resource.tenant_attribute is not None:
            where.append(getattr(model, resource.tenant_attribute) == cs.tenant)
        return cs.session.scalars(select(model).where(*where).limit(1)).first()

    def _unknown(self, what: str) -> ValidationError:
        keys = " and ".join(self.match)
        field_name = self.match[0] if len(self.match) == 1 else None
        return ValidationError(field_name, f"no {self.resource} with this {keys} {what}")

    def write_target(self, name: str, cs: Changeset) -> None:
        """belongs_to: write the item of input ``name`` (create it, or update the record it
        matches; append: only find it), then point the parent at it."""
        item = cs.arguments.get(name)
        if item is None or cs.replaying:
            return
        if cs.params.get(self.foreign_key) is not None:
            message = f"is set by {name}: give one of them"
            raise ValidationError(self.foreign_key, message)
        session = cs.session
        with _at(name):
            found = None if self.strategy == "create" else self._lookup(cs, item)
            if found is None and self.strategy == "append":
                raise self._unknown("exists")
            if found is None:
                create = self.action(self.create or "")
                params = {k: v for k, v in item.items() if k not in self._match_only(create)}
                found = run_create(session, create, params, **self._context(cs))
            elif params := {k: v for k, v in item.items() if k not in self.match}:
                update = self.action(self.update or "")
                run_update(session, update, found, params, **self._context(cs))
        cs.attributes[self.foreign_key] = getattr(found, self.source_attribute)

    def _find(self, existing: Mapping[tuple[Any, ...], Any], item: Mapping[str, Any]) -> Any:
        """The related record ``item`` names, None for a new one. An item that gives every
        match key names a record; one that names none of this parent's by primary key is
        refused."""
        if any(item.get(k) is None for k in self.match):
            return None
        found = existing.get(tuple(item[k] for k in self.match))
        if found is None and self.match == (self._resource().primary_key,):
            raise self._unknown("is related here")
        return found

    def _resource(self) -> ResourceDef:
        """The destination's definition (``RESOURCE`` of its actions module)."""
        resource: ResourceDef = self._module().RESOURCE
        return resource

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


def relationship(
    kind: Kind,
    resource: str,
    module: str,
    strategy: Strategy,
    *,
    foreign_key: str,
    source_attribute: str,
    create: str | None = None,
    update: str | None = None,
    destroy: str | None = None,
    match: tuple[str, ...] = (),
) -> ArgumentDef:
    """The argument of a managed relationship (see the module's docstring)."""
    managed = Managed(
        kind,
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

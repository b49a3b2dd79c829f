"""Replay's fast path: fold a page of events into rows in memory, then write the page's net effect.

The ORM path (``_replay._replay_page``) sends every event through the unit of work. This path runs
the same pipeline (routes, defaults, validations, changes, forced values, constraints) on plain
dicts, then writes each table with a few executemany statements: INSERTs parents first, one
UPDATE per table, then DELETEs children first. A record both created and destroyed within one
page is never written at all.

It is only used where nothing could tell the difference (:func:`eligible`): no hook runs on
replay, and no ORM event listener or ``@validates`` watches the models. Code that reads
``changeset.record`` still gets the real ORM object: the page's pending rows are written first,
then the record is loaded. A page this path cannot write (a unique value that moved from one row to
another within the page, say) is rolled back by the caller and replayed through the ORM path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Row, Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.schema import sort_tables

from ._direct import nullable_columns, unobserved
from ._engine import (
    ActionDef,
    Replaying,
    ResourceDef,
    make_changeset,
    prepare,
)
from ._types import Decoder
from ._upcast import was_erased
from .changeset import Changeset
from .errors import ReplayError

Routed = Sequence[tuple[Row[Any], tuple[ActionDef, ...] | ReplayError]]
_IN_CHUNK = 500  # ids per IN (...) when loading the rows a page touches
_MISSING = object()
_CHANGES_OTHERS = {"CASCADE", "SET NULL", "SET DEFAULT"}  # ON DELETE actions that touch other rows


def eligible(session: Session, targets: Iterable[ActionDef]) -> bool:
    """True when folding replays exactly what the ORM path would."""
    targets = list(targets)
    for action in targets:
        for change in action.changes:
            if change.kind != "change" and change.on_replay:
                return False  # a hook runs on replay: it expects its record flushed
    return unobserved(session, {action.resource.model for action in targets})


class FoldChangeset(Changeset):
    """A changeset whose record is a dict of the row's values until code asks for the record."""

    _values: Mapping[str, Any] | None = None
    _load: Callable[[], Any] | None = None
    _record: Any = None

    @property
    def record(self) -> Any:
        if self._record is None and self._load is not None:
            load, self._load = self._load, None
            self._record = load()
        return self._record

    @record.setter
    def record(self, value: Any) -> None:
        self._record = value

    def _record_value(self, name: str) -> Any:
        values = self._values
        if values is not None and name in values:
            return values[name]
        return super()._record_value(name)


class PageFold:
    """One page's rows: those it read, and the INSERTs, UPDATEs and DELETEs it has pending."""

    def __init__(self, session: Session, resources: Iterable[ResourceDef]) -> None:
        self.session = session
        by_table = {resource.model.__table__: resource for resource in resources}
        self.order: list[ResourceDef] = [by_table[t] for t in sort_tables(by_table)]
        self.rows: dict[tuple[str, Any], dict[str, Any] | None] = {}
        self.inserts: dict[str, dict[Any, dict[str, Any]]] = {r.name: {} for r in self.order}
        self.updates: dict[str, dict[Any, set[str]]] = {r.name: {} for r in self.order}
        self.deletes: dict[str, dict[Any, None]] = {r.name: {} for r in self.order}
        # Resources whose rows the database changes when a row of the key resource is deleted
        # (ON DELETE CASCADE / SET NULL): their cached rows go stale at each such delete.
        self.dependents: dict[str, list[str]] = {r.name: [] for r in self.order}
        self.nullable = {r.name: nullable_columns(r.model.__table__) for r in self.order}
        for resource in self.order:
            for fk in resource.model.__table__.foreign_keys:
                parent = by_table.get(fk.column.table)
                if parent is not None and (fk.ondelete or "").upper() in _CHANGES_OTHERS:
                    self.dependents[parent.name].append(resource.name)

    # --- reading ----------------------------------------------------------------------------

    def load(self, wanted: Mapping[str, tuple[ResourceDef, set[Any]]]) -> None:
        """Read the rows the page will update or destroy: one IN query per table and chunk."""
        for resource, ids in wanted.values():
            table: Table = resource.model.__table__
            key = table.c[resource.primary_key]
            missing = [i for i in ids if (resource.name, i) not in self.rows]
            for start in range(0, len(missing), _IN_CHUNK):
                chunk = missing[start : start + _IN_CHUNK]
                for row in self.session.connection().execute(select(table).where(key.in_(chunk))):
                    values = row._asdict()
                    self.rows[(resource.name, values[resource.primary_key])] = values
            for record_id in missing:
                self.rows.setdefault((resource.name, record_id), None)

    def row(self, resource: ResourceDef, record_id: Any) -> dict[str, Any] | None:
        values = self.rows.get((resource.name, record_id), _MISSING)
        if values is _MISSING:
            self.load({resource.name: (resource, {record_id})})
            values = self.rows[(resource.name, record_id)]
        assert values is None or isinstance(values, dict)
        return values

    def loader(self, resource: ResourceDef, record_id: Any) -> Callable[[], Any]:
        """Load the ORM record as the page has it so far (its pending rows written first)."""

        def load() -> Any:
            self.write()
            return self.session.get(resource.model, record_id, populate_existing=True)

        return load

    # --- folding ----------------------------------------------------------------------------

    def create(self, action: ActionDef, params: Mapping[str, Any], replay: Replaying) -> None:
        resource = action.resource
        key = (resource.name, replay.record_id)
        existing = self.row(resource, replay.record_id) if action.upsert_keys else None
        if existing is not None:
            self.update(action, existing, params, replay, defaults="update")
            return
        if self.rows.get(key, _MISSING) is None and replay.record_id in self.deletes[resource.name]:
            self.write()  # the key was deleted earlier in this page: delete before re-inserting
        cs = self._changeset(action, None, params, replay)
        prepare(cs, action, replay, defaults="create")
        values = cs.attributes
        self.inserts[resource.name][replay.record_id] = values
        self.rows[key] = values

    def update(
        self,
        action: ActionDef,
        values: dict[str, Any],
        params: Mapping[str, Any],
        replay: Replaying,
        *,
        defaults: str = "update",
    ) -> None:
        resource = action.resource
        cs = self._changeset(action, values, params, replay)
        prepare(cs, action, replay, defaults=defaults)
        changes = cs.attributes
        values.update(changes)
        if replay.record_id not in self.inserts[resource.name]:
            self.updates[resource.name].setdefault(replay.record_id, set()).update(changes)

    def destroy(self, action: ActionDef, values: dict[str, Any], replay: Replaying) -> None:
        resource = action.resource
        if action.soft_attribute is not None:
            self.update(action, values, {}, replay, defaults="destroy")
            return
        prepare(self._changeset(action, values, {}, replay), action, replay, defaults="destroy")
        record_id = replay.record_id
        if self.dependents[resource.name]:
            # Deleting this row makes the database change or delete others (ON DELETE): write
            # everything up to it, delete it, and read those others again when next needed.
            self.write()
            self.rows[(resource.name, record_id)] = None
            self.deletes[resource.name][record_id] = None
            self.write()
            stale = set(self.dependents[resource.name])
            for cached in [key for key in self.rows if key[0] in stale]:
                del self.rows[cached]
            return
        self.rows[(resource.name, record_id)] = None
        self.updates[resource.name].pop(record_id, None)
        if self.inserts[resource.name].pop(record_id, None) is None:
            self.deletes[resource.name][record_id] = None

    def _changeset(
        self,
        action: ActionDef,
        values: dict[str, Any] | None,
        params: Mapping[str, Any],
        replay: Replaying,
    ) -> FoldChangeset:
        cs = make_changeset(
            self.session, action, None, params, None, None, None, replay, FoldChangeset
        )
        assert isinstance(cs, FoldChangeset)
        if values is not None:
            cs._values = values
            cs._load = self.loader(action.resource, replay.record_id)
        return cs

    # --- writing ----------------------------------------------------------------------------

    def write(self) -> None:
        """Write what is pending: INSERTs parents first, UPDATEs, then DELETEs children first."""
        connection = self.session.connection()
        for resource in self.order:
            table: Table = resource.model.__table__
            for rows in self._insert_batches(resource):
                connection.execute(insert(table), rows)
            self.inserts[resource.name] = {}
        for resource in self.order:
            params = self._update_params(resource)
            if params:
                connection.execute(self._update_statement(resource, params[0]), params)
            self.updates[resource.name] = {}
        for resource in reversed(self.order):
            key = resource.model.__table__.c[resource.primary_key]
            ids = list(self.deletes[resource.name])
            for start in range(0, len(ids), _IN_CHUNK):
                connection.execute(delete(key.table).where(key.in_(ids[start : start + _IN_CHUNK])))
            self.deletes[resource.name] = {}

    def _insert_batches(self, resource: ResourceDef) -> Iterable[list[dict[str, Any]]]:
        """The page's new rows of ``resource``, in as few executemany batches as can be.

        Every row sets the columns without defaults (see :func:`nullable_columns`). A table that
        references itself keeps event order, so a parent row is inserted before its children.
        """
        table: Table = resource.model.__table__
        rows = list(self.inserts[resource.name].values())
        for row in rows:
            for name in self.nullable[resource.name]:
                row.setdefault(name, None)
        self_referencing = any(fk.column.table is table for fk in table.foreign_keys)
        return _runs(rows) if self_referencing else _shapes(rows)

    def _update_params(self, resource: ResourceDef) -> list[dict[str, Any]]:
        """One parameter set per updated row, all setting the union of the changed columns.

        Every row the page updates is known whole, so a row that changed fewer columns sets the
        others to the values they already have, and the table needs a single executemany.
        """
        pending = self.updates[resource.name]
        columns = sorted(set().union(*pending.values()))
        params = []
        for record_id in pending:
            values = self.rows[(resource.name, record_id)]
            assert values is not None  # a destroyed row is no longer pending
            params.append({"_pk": record_id, **{f"_v_{n}": values[n] for n in columns}})
        return params

    @staticmethod
    def _update_statement(resource: ResourceDef, params: Mapping[str, Any]) -> Any:
        table: Table = resource.model.__table__
        columns = [name.removeprefix("_v_") for name in params if name != "_pk"]
        return (
            update(table)
            .where(table.c[resource.primary_key] == bindparam("_pk"))
            .values({name: bindparam(f"_v_{name}") for name in columns})
        )


def _runs(rows: Iterable[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    """Consecutive rows with the same columns: one executemany each, in event order."""
    run: list[dict[str, Any]] = []
    shape: frozenset[str] | None = None
    for row in rows:
        columns = frozenset(row)
        if columns != shape and run:
            yield run
            run = []
        shape = columns
        run.append(row)
    if run:
        yield run


def _shapes(rows: Iterable[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    """Rows grouped by the columns they set: one executemany each."""
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(frozenset(row), []).append(row)
    return groups.values()


def fold_page(session: Session, routed: Routed) -> tuple[Counter[str], list[str]]:
    """Fold one page of routed events and write its net effect."""
    applied: Counter[str] = Counter()
    warnings: list[str] = []
    resources = {
        t.resource.name: t.resource
        for _, ts in routed
        if not isinstance(ts, ReplayError)
        for t in ts
    }
    page = PageFold(session, resources.values())
    page.load(touched_records(routed))
    for event, targets in routed:
        if isinstance(targets, ReplayError):
            raise targets
        for target in targets:
            label = f"{target.resource.name}.{target.name}"
            try:
                warning = _fold_event(page, event, target)
            except Exception as error:
                raise ReplayError.of_event(event, label, error) from error
            if warning:
                warnings.append(warning)
            else:
                applied[label] += 1
    page.write()
    return applied, warnings


def _fold_event(
    page: PageFold,
    event: Row[Any],
    target: ActionDef,
) -> str | None:
    params, replay = replay_input(event, target)
    if event.action_type == "create":
        page.create(target, params, replay)
        return None
    values = page.row(target.resource, event.record_id)
    if values is None:
        return not_found(event, target)
    if event.action_type == "update":
        page.update(target, values, params, replay)
    else:
        page.destroy(target, values, replay)
    return None


def touched_records(routed: Routed) -> dict[str, tuple[ResourceDef, set[Any]]]:
    """The rows the page reads: updated, destroyed or upserted, and not created by the page."""
    wanted: dict[str, tuple[ResourceDef, set[Any]]] = {}
    created: set[tuple[str, Any]] = set()
    for event, targets in routed:
        if isinstance(targets, ReplayError):
            continue
        for target in targets:
            key = (target.resource.name, event.record_id)
            if event.action_type == "create" and not target.upsert_keys:
                created.add(key)
            elif key not in created:
                wanted.setdefault(key[0], (target.resource, set()))[1].add(event.record_id)
    return wanted


def replay_input(event: Row[Any], target: ActionDef) -> tuple[dict[str, Any], Replaying]:
    """What the event asks of ``target``: its decoded input, and the values replay forces."""
    resource = target.resource
    changed = dict(event.changed_attributes or {})
    # Replay forces the event's record_id as the key: the recorded one is not decoded twice.
    forced = {k: v for k, v in changed.items() if k != resource.primary_key}
    replaying = Replaying(event.record_id, decode_attributes(resource, forced), was_erased(event))
    if event.action_type == "destroy":
        return {}, replaying  # destroy arguments are not replayed (AshEvents does the same)
    raw = dict(event.data or {})
    if target.strategy == "as_arguments":
        raw.update(changed)
    params = decode_input(target, raw)
    return params, replaying


def not_found(event: Row[Any], target: ActionDef) -> str:
    """The warning for an update or destroy whose record is gone (replay goes on)."""
    return (
        f"record {event.record_id} not found when replaying {event.action_type} "
        f"event {event.id} into {target.resource.name}.{target.name}"
    )


def decode_input(action: ActionDef, raw: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-native event values back to the Python types of the target action's inputs (values
    for anything else are dropped)."""
    return _decode(action.decoders, raw)


def decode_attributes(resource: ResourceDef, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The same for a resource's attributes."""
    return _decode(resource.decoders, raw)


def _decode(decoders: Mapping[str, Decoder | None], raw: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name in decoders:
            decode = decoders[name]
            out[name] = value if decode is None or value is None else decode(value)
    return out

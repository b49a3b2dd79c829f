"""Replay: rebuild every tracked table from the event log, inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Connection, Row, func, select, true
from sqlalchemy.orm import Session

from . import _snapshots
from ._clear import blocked_clear
from ._engine import (
    ActionDef,
    EventLogDef,
    atomic,
    run_create,
    run_destroy,
    run_update,
)
from ._fold import Routed, eligible, fold_page, not_found, replay_input, touched_records
from ._privacy import ERASE_ACTION, SubjectKeys, drop_erased, reveal_page
from ._upcast import Upcasters, upcast_page
from .errors import ReplayError

ProgressFn = Callable[[int, int], None]
# "<package>.replay", next to "<package>.actions" (observe.py): one logger per kind of writer.
LOGGER = logging.getLogger(f"{__name__.rpartition('.')[0]}.replay")
_EVENT_COLUMNS = (
    "id",
    "resource",
    "action",
    "action_type",
    "version",
    "record_id",
    "data",
    "changed_attributes",
)


class Archived(Protocol):
    """Events read from archive files (``_archive``), replayed before the log's own."""

    last_event_id: Any  # the last archived event: the log's events after it follow
    count: int

    def pages(
        self, last_event_id: Any, point_in_time: dt.datetime | None, batch_size: int
    ) -> Iterator[Sequence[Row[Any]]]: ...


@dataclass(frozen=True, slots=True)
class Route:
    """A replay override: events of (resource, action) at one of ``versions`` go to ``targets``."""

    resource: str
    action: str
    versions: frozenset[int]
    targets: tuple[ActionDef, ...]


@dataclass
class ReplayResult:
    """What a replay did."""

    applied: int = 0
    by_target: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    last_event_id: Any = None

    def __str__(self) -> str:
        lines = [f"replayed {self.applied} events in {self.elapsed:.2f}s"]
        lines += [f"  {target}: {count}" for target, count in sorted(self.by_target.items())]
        lines += [f"  warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)


def run_replay(
    session: Session,
    *,
    log: EventLogDef,
    actions: Mapping[tuple[str, str], ActionDef],
    routes: Sequence[Route],
    clear: Callable[[Session], None],
    last_event_id: Any = None,
    point_in_time: dt.datetime | None = None,
    on_progress: ProgressFn | None = None,
    batch_size: int = 1000,
    logger: logging.Logger | None = None,
    upcasters: Mapping[tuple[str, str], Upcasters] | None = None,
    source: Session | Connection | None = None,
    snapshots: _snapshots.SnapshotTables | None = None,
    archived: Archived | None = None,
) -> ReplayResult:
    """Rebuild the tables of ``log`` from its events; the events are read through ``source``
    (another database, see ``_rehearse``) when given, else through ``session``, which every
    write goes through.

    With ``snapshots`` (an archived log), replay starts from the latest snapshot of archived
    events and applies the events after it. With ``archived`` (a replay from archive files), it
    starts from nothing and applies the archived events, then the log's events after them."""
    started = time.perf_counter()
    logger = logger or LOGGER
    result = ReplayResult()
    table = log.table
    # last_event_id wins over point_in_time, as in AshEvents.
    if last_event_id is not None:
        cutoff: ColumnElement[bool] = table.c.id <= last_event_id
    elif point_in_time is not None:
        cutoff = table.c.occurred_at <= point_in_time
    else:
        cutoff = true()
    keys = None
    reader = session if source is None else source
    if log.subject_keys is not None:
        keys = SubjectKeys(log.table, reader)
    start = None
    if archived is not None:
        cutoff = cutoff & (table.c.id > archived.last_event_id)
    elif snapshots is not None:
        start = _snapshots.start(reader, snapshots, last_event_id, point_in_time)
        if start is not None:
            cutoff = cutoff & (table.c.id > start.last_event_id)
    total = reader.scalar(select(func.count()).select_from(table).where(cutoff)) or 0
    pages: Iterable[Sequence[Row[Any]]] = _pages(reader, log, cutoff, batch_size)
    if archived is not None:
        total += archived.count
        pages = itertools.chain(archived.pages(last_event_id, point_in_time, batch_size), pages)
    models = {action.resource.model for action in actions.values()}
    resources = {action.resource.name: action.resource for action in actions.values()}
    targets = [*actions.values(), *(t for route in routes for t in route.targets)]
    # Fold pages in memory and write them with executemany, unless something would notice that
    # the unit of work is bypassed (a hook allowed on replay, an ORM listener): then each page is
    # flushed through the ORM instead.
    fold = eligible(session, targets)
    with atomic(session):
        _clear(session, log, clear, models)
        _forget(session, models)
        if start is not None and snapshots is not None:
            _snapshots.load(session, reader, snapshots, start)
        for stored in pages:
            # Upcasting comes first: routes match the version the upcasters reached.
            page = upcast_page(
                stored if keys is None else reveal_page(keys, stored), upcasters or {}
            )
            for part in _erasures(page):
                if not isinstance(part, list):  # an erase event: it drops records (_privacy.py)
                    drop_erased(session, part, resources)
                    continue
                routed = [(event, _route(event, actions, routes)) for event in part]
                try:
                    with session.begin_nested():
                        if fold:
                            applied, warnings = fold_page(session, routed)
                        else:
                            applied, warnings = _replay_page(session, routed)
                except Exception:
                    # A batched write failed somewhere in the page: replay it again through the
                    # ORM, event by event, so that the error names the event that caused it.
                    logger.debug(
                        "replaying the page after event %s event by event",
                        result.last_event_id,
                        exc_info=True,
                    )
                    with atomic(session, flush_each=True), session.begin_nested():
                        applied, warnings = _replay_page(session, routed)
                    if fold:
                        _forget(session, models)  # later pages are folded: these go stale
                result.by_target.update(applied)
                for warning in warnings:
                    logger.warning(warning)
                result.warnings.extend(warnings)
            for event in page:
                result.applied += 1
                result.last_event_id = event.id
                if on_progress is not None:
                    on_progress(result.applied, total)
        _reset_sequences(session, actions)
        if fold:
            _forget(session, models)  # records code loaded mid-fold may be stale
    result.elapsed = time.perf_counter() - started
    return result


def _erasures(page: Sequence[Any]) -> Iterator[list[Any] | Any]:
    """The page in runs of ordinary events, and its erase events one by one between them."""
    run: list[Any] = []
    for event in page:
        if event.action_type == ERASE_ACTION:
            if run:
                yield run
                run = []
            yield event
        else:
            run.append(event)
    if run:
        yield run


def _clear(
    session: Session, log: EventLogDef, clear: Callable[[Session], None], models: set[type[Any]]
) -> None:
    """Run ``clear`` in a SAVEPOINT of its own, so that after a failure the database can still be
    asked which rows blocked it."""
    try:
        with session.begin_nested():
            clear(session)
    except Exception as error:
        step = getattr(clear, "__name__", "clear_records")
        cleared = {model.__table__.name for model in models}
        raise blocked_clear(session, log.name, step, cleared, error) from error


def _reset_sequences(session: Session, actions: Mapping[tuple[str, str], ActionDef]) -> None:
    """Replay wrote database-generated keys explicitly; move PostgreSQL sequences past them."""
    if session.connection().dialect.name != "postgresql":
        return
    resources = {action.resource.name: action.resource for action in actions.values()}
    for resource in resources.values():
        key = resource.attributes[resource.primary_key]
        if not key.generated:
            continue
        table = resource.model.__table__
        column = table.c[resource.primary_key]
        session.execute(
            select(
                func.setval(
                    func.pg_get_serial_sequence(table.name, column.name),
                    select(func.coalesce(func.max(column), 0) + 1).scalar_subquery(),
                    False,
                )
            )
        )


def _forget(session: Session, models: set[type[Any]]) -> None:
    for instance in list(session.identity_map.values()):
        if type(instance) in models:
            session.expunge(instance)


def _replay_page(session: Session, routed: Routed) -> tuple[Counter[str], list[str]]:
    """Apply one page of events through the ORM, with the records it changes loaded up front."""
    applied: Counter[str] = Counter()
    warnings: list[str] = []
    made = _prefetch(session, routed)
    for event, targets in routed:
        if isinstance(targets, ReplayError):
            raise targets
        for target in targets:
            label = f"{target.resource.name}.{target.name}"
            try:
                warning = _apply(session, event, target, made)
            except Exception as error:
                raise ReplayError.of_event(event, label, error) from error
            if warning:
                warnings.append(warning)
            else:
                applied[label] += 1
    session.flush()
    return applied, warnings


def _route(
    event: Row[Any], actions: Mapping[tuple[str, str], ActionDef], routes: Sequence[Route]
) -> tuple[ActionDef, ...] | ReplayError:
    """The event's targets, or the error to raise when the page reaches it."""
    try:
        return _targets(event, actions, routes)
    except ReplayError as error:
        return error


def _prefetch(session: Session, routed: Routed) -> dict[tuple[type[Any], Any], Any]:
    """Load the records the page's updates and destroys touch, except those the page creates
    itself: one IN query per table, instead of one SELECT (and one autoflush) per event."""
    loaded: dict[tuple[type[Any], Any], Any] = {}
    for resource, ids in touched_records(routed).values():
        missing = []
        for record_id in ids:
            record = session.identity_map.get(session.identity_key(resource.model, record_id))
            if record is None:
                missing.append(record_id)
            else:
                loaded[(resource.model, record_id)] = record
        if missing:
            key = getattr(resource.model, resource.primary_key)
            for record in session.scalars(select(resource.model).where(key.in_(missing))):
                loaded[(resource.model, getattr(record, resource.primary_key))] = record
    return loaded


def _pages(
    reader: Session | Connection, log: EventLogDef, cutoff: ColumnElement[bool], batch_size: int
) -> Iterator[Sequence[Row[Any]]]:
    """Events in id order, in keyset-paginated pages so memory stays bounded."""
    table = log.table
    # What replay reads of an event: not its metadata or actor, which it does not apply.
    columns = [table.c[name] for name in _EVENT_COLUMNS]
    if log.subject_keys is not None:
        columns.append(table.c.subject)
    after: Any = None
    while True:
        query = select(*columns).where(cutoff).order_by(table.c.id).limit(batch_size)
        if after is not None:
            query = query.where(table.c.id > after)
        page = reader.execute(query).all()
        if page:
            yield page
        if len(page) < batch_size:
            return
        after = page[-1].id


def _targets(
    event: Row[Any], actions: Mapping[tuple[str, str], ActionDef], routes: Sequence[Route]
) -> tuple[ActionDef, ...]:
    for route in routes:
        if (
            route.resource == event.resource
            and route.action == event.action
            and event.version in route.versions
        ):
            return route.targets
    target = actions.get((event.resource, event.action))
    if target is None:
        raise ReplayError.of_event(
            event,
            f"{event.resource}.{event.action}",
            LookupError(
                "no such action to replay into; declare a replay_override routing it "
                "to an existing action"
            ),
        )
    return (target,)


def _apply(
    session: Session, event: Row[Any], target: ActionDef, made: dict[tuple[type[Any], Any], Any]
) -> str | None:
    """Replay one event into one target action; a missing record is a warning, not an error."""
    resource = target.resource
    params, replaying = replay_input(event, target)
    if event.action_type == "create":
        made[(resource.model, event.record_id)] = run_create(
            session, target, params, replaying=replaying
        )
        return None
    record = made.get((resource.model, event.record_id))
    if record is None:
        record = session.get(resource.model, event.record_id)
    if record is None:
        return not_found(event, target)
    if event.action_type == "update":
        run_update(session, target, record, params, replaying=replaying)
    else:
        run_destroy(session, target, record, params, replaying=replaying)
        if target.soft_attribute is None:
            made.pop((resource.model, event.record_id), None)
    return None

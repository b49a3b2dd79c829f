"""Test helpers: the logic behind the generated ``testing`` module, which types it per package.

:func:`capture` lists the events a block wrote through one session, :func:`assert_event` finds
events by resource, action, actor and parts of their maps (and explains a miss), and
:func:`assert_replays` replays every log inside the caller's transaction and compares the result
with the tables as they are. Nothing here imports pytest: failures are ``AssertionError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, select
from sqlalchemy.orm import Session, object_session

from . import observe
from ._compare import RowDiff, TableReport, compare_rows, find_last_events
from ._engine import ActionDef, EventLogDef
from ._privacy import ERASED, SubjectKeys
from ._replay import ReplayResult
from ._support import to_json
from ._verify import VerifyResult
from .errors import ReplayError

E = TypeVar("E")
SENSITIVE = "[sensitive]"
_CLOSEST = 3  # events shown when none matches
_CHUNK = 500  # ids per IN list


class _NoActor:
    def __repr__(self) -> str:
        return "NO_ACTOR"


NO_ACTOR: Any = _NoActor()  # assert_event(actor=NO_ACTOR): no actor column is filled


@dataclass(frozen=True)
class LogUnderTest:
    """What the helpers need of one event log: its definition, replay, actions and tables."""

    log: EventLogDef
    replay: Callable[..., ReplayResult]
    actions: Mapping[tuple[str, str], ActionDef]
    tracked: Sequence[Table]


class CapturedEvents(list[E]):
    """The events a ``capture_events`` block wrote, as rows of their logs' models, in the order
    they were written; filled in when the block ends."""

    def __str__(self) -> str:
        if not self:
            return "no events"
        return "\n".join(describe(event, i) for i, event in enumerate(self))


# --- capture ------------------------------------------------------------------------------------


@contextmanager
def capture(session: Session, logs: Sequence[LogUnderTest]) -> Iterator[CapturedEvents[Any]]:
    """Collect the events written through ``session`` while the block runs.

    Every write path reports its events (see ``observe.py``); when the block ends, the reported
    events are read back from their logs, and those whose rows are gone (an action that failed,
    a SAVEPOINT rolled back) are left out. A block that raises captures nothing.
    """
    events: CapturedEvents[Any] = CapturedEvents()
    written: list[tuple[str, Any]] = []

    def collect(event: observe.WrittenEvent) -> None:
        if event.session is session:
            written.append((event.log, event.id))

    with observe.on_event(collect):
        yield events
    events.extend(_visible(session, logs, written))


def _visible(
    session: Session, logs: Sequence[LogUnderTest], written: list[tuple[str, Any]]
) -> list[Any]:
    by_name = {entry.log.name: entry.log for entry in logs}
    found: dict[tuple[str, Any], Any] = {}
    for name, log in by_name.items():
        ids = list(dict.fromkeys(i for n, i in written if n == name))
        model = log.model
        for start in range(0, len(ids), _CHUNK):
            query = select(model).where(model.id.in_(ids[start : start + _CHUNK]))
            # Fresh from the database: an id reused after a rollback (SQLite) holds a new event.
            rows = session.scalars(query.execution_options(populate_existing=True))
            found.update(((name, row.id), row) for row in rows)
    # An id written twice (SQLite reuses the id of a rolled-back row) is the later event.
    order = list(dict.fromkeys(reversed(written)))
    return [found[key] for key in reversed(order) if key in found]


# --- assert_event -------------------------------------------------------------------------------


def assert_event(
    events: Iterable[E],
    logs: Sequence[LogUnderTest],
    *,
    resource: str | None = None,
    action: str | None = None,
    actor: Any = None,
    record_id: Any = None,
    version: int | None = None,
    data: Mapping[str, Any] | None = None,
    changed: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    count: int | None = None,
) -> list[E]:
    """The events that match every criterion given; an ``AssertionError`` explaining the closest
    events when there is none (or not ``count`` of them)."""
    listed = list(events)
    asked = _Asked(resource, action, actor, record_id, version, data, changed, metadata)
    by_model = {entry.log.model: entry for entry in logs}
    hidden = asked.hidden(logs)
    matches: list[E] = []
    near: list[tuple[int, int, int, Any, list[str]]] = []
    for position, event in enumerate(listed):
        entry = by_model.get(type(event))
        if entry is None:
            raise TypeError(f"{type(event).__name__} is not an event log of this package")
        differences = asked.differences(event, entry, hidden)
        if differences:
            named = sum(d.startswith(("resource:", "action:")) for d in differences)
            near.append((named, len(differences), position, event, differences))
        else:
            matches.append(event)
    if (count is None and matches) or (count is not None and len(matches) == count):
        return matches
    wanted = "at least 1 event" if count is None else f"{count} event{'s' * (count != 1)}"
    lines = [f"expected {wanted} matching {asked.describe(hidden)}"]
    if matches:
        lines.append(f"found {len(matches)}:")
        lines += ["  " + describe(e, listed.index(e)) for e in matches]
    elif not listed:
        lines.append("found no events at all")
    else:
        lines.append(f"none of the {len(listed)} events matches; the closest:")
        # Closest first: the same resource and action, then the fewest differences.
        for *_, position, event, differences in sorted(near)[:_CLOSEST]:
            lines.append("  " + describe(event, position))
            lines += [f"      {d}" for d in differences]
    raise AssertionError("\n".join(lines))


def describe(event: Any, position: int) -> str:
    """One line naming an event: never its maps."""
    return (
        f"#{position + 1} {type(event).__name__} id={event.id}: {event.resource}.{event.action}"
        f" v{event.version}, record {event.record_id}"
    )


@dataclass(frozen=True)
class _Asked:
    resource: str | None
    action: str | None
    actor: Any
    record_id: Any
    version: int | None
    data: Mapping[str, Any] | None
    changed: Mapping[str, Any] | None
    metadata: Mapping[str, Any] | None

    def differences(self, event: Any, entry: LogUnderTest, asked: frozenset[str]) -> list[str]:
        """What differs between ``event`` and the criteria, one line each: values of the
        event's sensitive keys, and of the keys sensitive in what was ``asked``, masked."""
        out: list[str] = []
        for name in ("resource", "action", "version"):
            expected = getattr(self, name)
            if expected is not None and getattr(event, name) != expected:
                out.append(f"{name}: expected {expected!r}, got {getattr(event, name)!r}")
        if self.record_id is not None and to_json(event.record_id) != to_json(self.record_id):
            out.append(f"record_id: expected {self.record_id!r}, got {event.record_id!r}")
        if self.actor is not None:
            for column, expected in _actor_columns(self.actor, entry.log).items():
                got = getattr(event, column)
                if to_json(got) != to_json(expected):
                    out.append(f"actor {column}: expected {expected!r}, got {got!r}")
        hidden = sensitive_names(entry.actions, event.resource, event.action) | asked
        data, changed = _opened(event, entry.log)
        for label, wanted, stored in (
            ("data", self.data, data),
            ("changed_attributes", self.changed, changed),
            ("metadata", self.metadata, event.metadata_),
        ):
            mask = hidden if label != "metadata" else frozenset()
            out += _map_differences(label, wanted, stored or {}, mask)
        return out

    def hidden(self, logs: Sequence[LogUnderTest]) -> frozenset[str]:
        """Keys sensitive in any action the criteria could match."""
        names: set[str] = set()
        for entry in logs:
            for resource, action in entry.actions:
                if self.resource in (None, resource) and self.action in (None, action):
                    names |= sensitive_names(entry.actions, resource, action)
        return frozenset(names)

    def describe(self, hidden: frozenset[str]) -> str:
        """The criteria, sensitive values masked."""
        parts = [
            f"{name}={getattr(self, name)!r}"
            for name in ("resource", "action", "record_id", "version")
            if getattr(self, name) is not None
        ]
        if self.actor is NO_ACTOR:
            parts.append("no actor")
        elif isinstance(self.actor, Mapping):
            parts.append(f"actor {dict(self.actor)!r}")
        elif self.actor is not None:
            parts.append(f"actor {type(self.actor).__name__}")
        for label, asked in (("data", self.data), ("changed", self.changed)):
            if asked is not None:
                parts.append(f"{label} containing {_masked(asked, hidden)!r}")
        if self.metadata is not None:
            parts.append(f"metadata containing {dict(self.metadata)!r}")
        return ", ".join(parts) or "anything"


def _opened(event: Any, log: EventLogDef) -> tuple[Any, Any]:
    """The event's data and changed attributes, personal values opened (``ERASED`` when erased;
    see _privacy.py) when the event is in a session to read its subject's key through."""
    session = object_session(event)
    subject = getattr(event, "subject", None)
    if log.subject_keys is None or subject is None or session is None:
        return event.data, event.changed_attributes
    keys = SubjectKeys(log.table, session)
    return (
        keys.reveal(subject, event.data or {}, ERASED),
        keys.reveal(subject, event.changed_attributes or {}, ERASED),
    )


def _actor_columns(actor: Any, log: EventLogDef) -> dict[str, Any]:
    """The actor columns of ``log`` as an event of ``actor`` fills them."""
    columns = [a.column for a in log.actors]
    if actor is NO_ACTOR:
        return dict.fromkeys(columns)
    if isinstance(actor, Mapping):
        unknown = set(actor) - set(columns)
        if unknown:
            raise TypeError(f"{log.name} has no actor column {min(unknown)!r}")
        return dict(actor)
    for declared in log.actors:
        if isinstance(actor, declared.actor_class):
            expected = dict.fromkeys(columns)
            expected[declared.column] = getattr(actor, declared.key)
            return expected
    kinds = ", ".join(a.actor_class.__name__ for a in log.actors) or "none"
    raise TypeError(
        f"actor {type(actor).__name__} is no actor type of {log.name} ({kinds}): pass the actor "
        "object, {column: value}, or NO_ACTOR"
    )


def _map_differences(
    label: str, asked: Mapping[str, Any] | None, stored: Mapping[str, Any], hidden: frozenset[str]
) -> list[str]:
    if asked is None:
        return []
    out = []
    for key, value in asked.items():
        expected = to_json(value)
        if key not in stored:
            shown = SENSITIVE if key in hidden and value is not None else repr(value)
            out.append(f"{label}[{key!r}]: expected {shown}, missing")
        elif stored[key] != expected:
            if key in hidden:
                out.append(f"{label}[{key!r}]: {SENSITIVE} differs")
            else:
                out.append(f"{label}[{key!r}]: expected {expected!r}, got {stored[key]!r}")
    return out


def _masked(values: Mapping[str, Any], hidden: frozenset[str]) -> dict[str, Any]:
    return {k: SENSITIVE if k in hidden and v is not None else v for k, v in values.items()}


def sensitive_names(
    actions: Mapping[tuple[str, str], ActionDef], resource: str, action: str
) -> frozenset[str]:
    """Keys of an event's maps whose values are sensitive: the resource's sensitive attributes
    and the action's sensitive arguments (every action's, for an action no longer declared), as
    ``eventspec events`` masks them."""
    candidates = [d for (r, a), d in actions.items() if r == resource]
    known = actions.get((resource, action))
    names: set[str] = set()
    for definition in [known] if known is not None else candidates:
        names |= {n for n, attr in definition.resource.attributes.items() if attr.sensitive}
        names |= {n for n, arg in definition.arguments.items() if arg.sensitive}
    return frozenset(names)


# --- assert_replays -----------------------------------------------------------------------------


def assert_replays(session: Session, logs: Sequence[LogUnderTest], *, max_rows: int = 10) -> None:
    """Replay every log and compare each tracked table with its rows as they were; then undo
    the replay. Runs inside the session's transaction, on its connection, so it sees what the
    test wrote and did not commit; the session and its objects are left untouched."""
    session.flush()
    connection = session.connection()
    before = {table: _rows(connection, table) for entry in logs for table in entry.tracked}
    result = ReplayResult()
    reports: list[TableReport] = []
    # Its own session on the same connection, inside a SAVEPOINT that closing it rolls back:
    # replay expunges the objects of the tables it rebuilds, and those are the test's.
    with Session(bind=connection, join_transaction_mode="create_savepoint") as rehearsal:
        for entry in logs:
            try:
                replayed = entry.replay(rehearsal)
            except ReplayError as error:
                raise AssertionError(f"the event log does not replay: {error}") from error
            result.applied += replayed.applied
            result.elapsed += replayed.elapsed
            result.by_target.update(replayed.by_target)
            result.warnings += replayed.warnings
            result.last_event_id = replayed.last_event_id
        for entry in logs:
            names = {d.resource.model.__table__.key: d.resource for d in entry.actions.values()}
            for table in entry.tracked:
                resource = names.get(table.key)
                after = _rows(connection, table)
                report = compare_rows(
                    table,
                    resource.name if resource is not None else table.name,
                    iter(before[table]),
                    iter(after),
                    max_rows,
                )
                find_last_events(connection, report, entry.log.table)
                if resource is not None:
                    hidden = {n for n, a in resource.attributes.items() if a.sensitive}
                    for row in report.rows:
                        _mask_row(row, hidden)
                reports.append(report)
    verdict = VerifyResult(result, compared=True, tables=reports)
    if not verdict.identical:
        raise AssertionError(f"the event log does not replay to the current state:\n{verdict}")


def _rows(connection: Connection, table: Table) -> list[tuple[Any, Sequence[Any]]]:
    """Every row of ``table`` as ``(key, row)``, in key order."""
    columns = list(table.columns)
    keys = [columns.index(c) for c in table.primary_key.columns]
    rows: list[tuple[Any, Sequence[Any]]] = [
        (tuple(row[i] for i in keys) if len(keys) > 1 else row[keys[0]], row)
        for row in connection.execute(select(*columns))
    ]
    rows.sort(key=lambda pair: pair[0])
    return rows


def _mask_row(row: RowDiff, hidden: set[str]) -> None:
    for name in hidden & row.columns.keys():
        row.columns[name] = (SENSITIVE, SENSITIVE)

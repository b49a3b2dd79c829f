"""``eventspec doctor``'s checks: each a small function returning one ``Check`` (or a few).

A check never raises for a problem it is there to find: an unreachable database, a missing table
or a stale file is a FAIL line, not a traceback. Checks read the database only through SQL on the
tables the specs name, so they work even when the generated package is out of date.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    and_,
    case,
    column,
    create_engine,
    exists,
    func,
    select,
    table,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.types import Uuid

from .. import ir
from ..diagnostics import render_all
from ..loader import load_project
from ..migrations import SnapshotError
from ..plan import drift, make_plan
from .database import redact

Status = Literal["OK", "WARN", "FAIL"]
RANK: dict[Status, int] = {"OK": 0, "WARN": 1, "FAIL": 2}  # also the exit code of the worst


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    data: dict[str, Any] = field(default_factory=dict)  # machine-readable details, for --json


def specs(config_path: Path) -> tuple[Check, ir.Project | None]:
    """The project loads and every spec is valid (what ``eventspec validate`` checks)."""
    if not config_path.exists():
        return Check("specs", "FAIL", f"{config_path} not found: pass --config PATH"), None
    project, diagnostics = load_project(config_path)
    if diagnostics or project is None:
        first = render_all(diagnostics[:1]).splitlines()[0] if diagnostics else "cannot load"
        count = len(diagnostics)
        detail = f"{count} error{'s' if count != 1 else ''}: {first}; run `eventspec validate`"
        return Check("specs", "FAIL", detail), None
    count = len(project.resources) + len(project.event_logs) + len(project.embedded)
    return Check("specs", "OK", f"{count} specs valid ({config_path})"), project


def generated(project: ir.Project) -> Check:
    """The committed package, migrations and lock are what the specs generate now."""
    name = "generated code"
    try:
        changes = drift(make_plan(project))
    except (SnapshotError, OSError) as error:
        return Check(name, "FAIL", str(error))
    if not changes:
        return Check(name, "OK", "up to date with the specs")
    stale = [*changes.changed, *changes.missing, *changes.extra]
    listed = ", ".join(path.as_posix() for path in stale[:3]) + (", ..." if len(stale) > 3 else "")
    detail = f"{len(stale)} file{'s' if len(stale) != 1 else ''} out of date ({listed}): run "
    detail += "`eventspec generate`"
    data = {
        "changed": [p.as_posix() for p in changes.changed],
        "missing": [p.as_posix() for p in changes.missing],
        "extra": [p.as_posix() for p in changes.extra],
    }
    return Check(name, "FAIL", detail, data)


def database_url(project: ir.Project | None, flag: str | None) -> str | None:
    configured = project.database_url if project is not None else None
    return flag or os.environ.get("EVENTSPEC_DATABASE_URL") or configured


def database(url: str | None) -> tuple[Check, Engine | None]:
    """The database answers ``SELECT 1``. A SQLite file that does not exist is not created."""
    name = "database"
    if not url:
        detail = "no database URL: pass --database-url, set EVENTSPEC_DATABASE_URL or database_url"
        return Check(name, "FAIL", detail), None
    try:
        parsed = make_url(url)
        shown = redact(url)
        file = parsed.database if parsed.get_backend_name() == "sqlite" else None
        if file and file != ":memory:" and not file.startswith("file:") and not Path(file).exists():
            return Check(name, "FAIL", f"{shown}: the file {file} does not exist"), None
        engine = create_engine(parsed)
    except (ArgumentError, NoSuchModuleError, ValueError, OSError) as error:
        return Check(name, "FAIL", f"cannot use the database URL: {first_line(error)}"), None
    except ImportError as error:  # the URL names a driver that is not installed
        detail = f"cannot use the database URL: {error} (is its driver installed?)"
        return Check(name, "FAIL", detail), None
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        engine.dispose()
        return Check(name, "FAIL", f"{shown}: {first_line(error)}"), None
    return Check(name, "OK", f"reachable ({shown})"), engine


def migrations(project: ir.Project, engine: Engine) -> Check:
    """The database's ``alembic_version`` is the head of the project's migrations folder."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    name = "migrations"
    folder = project.root / project.migrations
    try:
        script = ScriptDirectory(folder)
        heads = set(script.get_heads())
        known = {revision.revision for revision in script.walk_revisions()}
    except (CommandError, OSError, SyntaxError, ImportError) as error:
        return Check(name, "FAIL", f"cannot read {project.migrations.as_posix()}: {error}")
    if not heads:
        return Check(name, "WARN", f"no migrations in {project.migrations.as_posix()}")
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as error:
        return Check(name, "FAIL", f"cannot read alembic_version: {first_line(error)}")
    data = {"database": sorted(current), "head": sorted(heads)}
    head = ", ".join(sorted(heads))
    if current == heads:
        return Check(name, "OK", f"at head ({head})", data)
    if not current:
        detail = f"the database has no migration applied (head {head}): run `alembic upgrade head`"
    elif current - known:
        unknown = ", ".join(sorted(current - known))
        detail = f"the database is at {unknown}, which {project.migrations.as_posix()} lacks"
        detail += f" (head {head})"
    else:
        at = ", ".join(sorted(current))
        detail = f"the database is at {at}, not at head {head}: run `alembic upgrade head`"
    return Check(name, "FAIL", detail, data)


def events(log: ir.EventLog, connection: Connection) -> Check:
    """How many events per resource and action, and the newest one (never a problem)."""
    events = _log_table(log)
    counts = connection.execute(
        select(events.c.resource, events.c.action, func.count())
        .group_by(events.c.resource, events.c.action)
        .order_by(events.c.resource, events.c.action)
    ).all()
    total = sum(count for _, _, count in counts)
    name = f"events {log.name}"
    if not total:
        return Check(name, "OK", "no events yet", {"total": 0, "counts": []})
    newest = connection.execute(
        select(events.c.id, events.c.occurred_at, events.c.resource, events.c.action)
        .order_by(events.c.id.desc())
        .limit(1)
    ).one()
    per = [{"resource": r, "action": a, "events": int(n)} for r, a, n in counts]
    when = _instant(newest.occurred_at)
    detail = f"{total} event{'s' if total != 1 else ''}, newest id {newest.id}: "
    detail += f"{newest.resource}.{newest.action} at {when}\n"
    detail += ", ".join(f"{r}.{a} {n}" for r, a, n in counts)
    newest_data = {"id": str(newest.id), "occurred_at": when}
    newest_data |= {"resource": newest.resource, "action": newest.action}
    return Check(name, "OK", detail, {"total": total, "counts": per, "newest": newest_data})


def actors(project: ir.Project, log: ir.EventLog, connection: Connection) -> Check | None:
    """Events without an actor where one is expected (None: the log records no actors).

    An action expects an actor when it requires one (``require_actor``), when its changes read
    one (``from_actor``), or when other events of the same action have one: then the ones without
    were written by a caller who forgot it, or before the action required an actor.
    An action none of whose events has an actor (a sign-up, a system job) is only counted.
    """
    if not log.actors:
        return None
    events = _log_table(log)
    nobody = and_(*(events.c[actor.name].is_(None) for actor in log.actors))
    rows = connection.execute(
        select(
            events.c.resource,
            events.c.action,
            func.count(),
            func.sum(case((nobody, 1), else_=0)),
        )
        .group_by(events.c.resource, events.c.action)
        .order_by(events.c.resource, events.c.action)
    ).all()
    expected: list[tuple[str, str, int]] = []
    anonymous: list[tuple[str, str, int]] = []
    for resource, action, total, missing in rows:
        if missing:
            bucket = (
                expected
                if missing < total or _expects_actor(project, log, resource, action)
                else anonymous
            )
            bucket.append((resource, action, int(missing)))
    columns = ", ".join(actor.name for actor in log.actors)
    name = f"actors {log.name}"
    data = {
        "without_actor": [{"resource": r, "action": a, "events": n} for r, a, n in expected],
        "never_with_actor": [{"resource": r, "action": a, "events": n} for r, a, n in anonymous],
    }
    note = ""
    if anonymous:
        note = "\nactions that never have one: " + ", ".join(
            f"{r}.{a} {n}" for r, a, n in anonymous
        )
    if not expected:
        return Check(
            name, "OK", f"every event that expects an actor has one ({columns}){note}", data
        )
    missing_count = sum(n for _, _, n in expected)
    per = ", ".join(f"{r}.{a} {n}" for r, a, n in expected)
    detail = (
        f"{missing_count} event{'s' if missing_count != 1 else ''} without the actor their action"
    )
    detail += f" expects ({columns}): {per}{note}"
    return Check(name, "WARN", detail, data)


def _expects_actor(
    project: ir.Project, log: ir.EventLog, resource_name: str, action_name: str
) -> bool:
    resource = project.resource(resource_name)
    action = resource.action(action_name) if resource is not None else None
    if action is None:
        return False
    return action.requires_actor(log) or any(change.from_actor for change in action.changes)


def records(project: ir.Project, log: ir.EventLog, connection: Connection) -> Check | None:
    """Rows of tracked tables that no event is about: written outside the generated actions.

    Only resources whose tracked actions create records are looked at (a resource whose creates
    are not tracked has rows without events by design). When the primary key and ``record_id``
    have the same kind of type each row is matched to its events; otherwise a table with rows and
    no event at all is reported.
    """
    tracked = [
        resource
        for resource in project.resources_of(log)
        if any(action.type == "create" for action in resource.tracked_actions())
    ]
    if not tracked:
        return None
    found: list[dict[str, Any]] = []
    for resource in tracked:
        rows, orphans = _orphans(resource, log, connection)
        if orphans:
            found.append({"resource": resource.name, "rows": rows, "without_events": orphans})
    name = f"records {log.name}"
    if not found:
        names = ", ".join(resource.name for resource in tracked)
        return Check(name, "OK", f"every row has events ({names})")
    per = ", ".join(f"{f['resource']} {f['without_events']} of {f['rows']}" for f in found)
    detail = f"rows without events, written outside the actions? {per}"
    return Check(name, "WARN", detail, {"without_events": found})


_KINDS = {"uuid": "uuid", "uuidv7": "uuid", "integer": "integer", "big_integer": "integer"}


def _orphans(resource: ir.Resource, log: ir.EventLog, connection: Connection) -> tuple[int, int]:
    """(rows, rows without events) of the resource's table."""
    events = _log_table(log)
    key = resource.primary_key
    rows = table(resource.table, *((column(key.name),) if key else ()))
    total = int(connection.scalar(select(func.count()).select_from(rows)) or 0)
    if not total:
        return 0, 0
    mine = events.c.resource == resource.name
    if key is not None and _KINDS.get(key.type.name, key.type.name) == log.record_id_type:
        about = exists().where(mine, events.c.record_id == rows.c[key.name])
        orphans = connection.scalar(select(func.count()).select_from(rows).where(~about))
        return total, int(orphans or 0)
    any_event = connection.scalar(select(func.count()).select_from(events).where(mine))
    return total, 0 if any_event else total


def _log_table(log: ir.EventLog) -> Any:
    """The event table's columns doctor reads; typed where a value is shown or compared."""
    uuid_id = log.primary_key_type == "uuidv7"
    uuid_record = log.record_id_type == "uuid"
    return table(
        log.table,
        column("id", Uuid()) if uuid_id else column("id"),
        column("record_id", Uuid()) if uuid_record else column("record_id"),
        column("occurred_at", DateTime(timezone=True)),
        *(column(name) for name in ("resource", "action", *(a.name for a in log.actors))),
    )


def _instant(value: Any) -> str:
    """An instant as ISO 8601 in UTC (SQLite hands back the stored UTC time without a zone)."""
    if not isinstance(value, dt.datetime):
        return str(value)
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC).isoformat()


def first_line(error: BaseException) -> str:
    cause = error.orig if isinstance(error, DBAPIError) else error
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(error).__name__

"""``eventspec archive``: move old events of a log to an archive file, after a state snapshot."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .. import ir
from ..log_views import archive_function
from .database import (
    import_generated,
    load,
    parse_event_id,
    parse_instant,
    pick_log,
    progress,
    redact,
    resolve_database_url,
)
from .errors import replay_errors


def run(
    config_path: Path,
    database_url: str | None,
    before: str,
    to: Path,
    *,
    event_log: str | None,
    yes: bool,
    show_traceback: bool = False,
) -> None:
    """Archive the events of the log before ``before`` (an event id or an ISO instant) to ``to``."""
    project = load(config_path)
    log = archived_log(project, event_log)
    url = resolve_database_url(project, database_url)
    cut = parse_before(log, before)
    if to.exists():
        raise click.UsageError(f"{to} exists: an archive file is never overwritten")
    lock = _lock(project, log)
    run_archive: Any = getattr(import_generated(project, "replay"), archive_function(project, log))
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError(
                "archive deletes events from the database; pass --yes to confirm when not "
                "running in a terminal"
            )
        click.confirm(
            f"Move the events of {log.name} before {before} from {redact(url)} to {to}? "
            "The file is then their only copy.",
            abort=True,
        )
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with replay_errors(show_traceback), progress("snapshot") as on_progress:
            result = run_archive(
                engine, before=cut, to=to, event_schema_lock=lock, on_progress=on_progress
            )
    finally:
        engine.dispose()
    click.echo(str(result))


def archived_log(project: ir.Project, name: str | None) -> ir.EventLog:
    """The log to archive (or to replay from archive files): ``--event-log``, else the only
    one with ``archive: true``."""
    if name is None:
        candidates = [log for log in project.event_logs if log.archive]
        if len(candidates) == 1:
            return candidates[0]
    log = pick_log(project, name)
    if not log.archive:
        raise click.UsageError(
            f"{log.name} is not archived: add `archive: true` to its spec, run `eventspec "
            "generate` and apply the migration (it adds the snapshot tables)"
        )
    return log


def parse_before(log: ir.EventLog, value: str) -> Any:
    """An event id of ``log``, else an ISO 8601 instant (UTC when it names no timezone)."""
    try:
        return parse_event_id(log, value)
    except click.BadParameter:
        pass
    try:
        return parse_instant(value)
    except click.BadParameter:
        raise click.BadParameter(
            f"{value!r} is neither an event id of {log.name} nor an ISO 8601 instant",
            param_hint="--before",
        ) from None


def _lock(project: ir.Project, log: ir.EventLog) -> Any:
    """The log's entry of the event-schema lock, stored in the archive's header."""
    from ..contracts.lock import LockError, read_lock

    try:
        return read_lock(project).get(log.name)
    except LockError as error:
        raise click.ClickException(f"the event-schema lock cannot be read: {error}") from error

"""``eventspec replay``: rebuild the tracked tables of one event log from its events."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click

from ..log_views import replay_function
from .database import (
    import_generated,
    load,
    parse_event_id,
    parse_instant,
    pick_log,
    progress,
    redact,
    resolve_database_url,
    session_for,
)
from .errors import replay_errors


def replay(
    config_path: Path,
    database_url: str | None,
    last_event_id: str | None,
    point_in_time: str | None,
    event_log: str | None,
    yes: bool,
    show_traceback: bool = False,
) -> None:
    """Replay in place: clear the tracked tables and rebuild them, in one transaction."""
    project = load(config_path)
    log = pick_log(project, event_log)
    url = resolve_database_url(project, database_url)
    last_id = parse_event_id(log, last_event_id) if last_event_id else None
    instant: dt.datetime | None = parse_instant(point_in_time) if point_in_time else None
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError(
                "replay deletes and rebuilds every tracked record; pass --yes to confirm "
                "when not running in a terminal"
            )
        click.confirm(
            f"Replay {log.name} into {redact(url)}? Tracked tables are cleared first.",
            abort=True,
        )
    module = import_generated(project, "replay")
    run: Any = getattr(module, replay_function(project, log))
    with (
        replay_errors(show_traceback),
        session_for(url) as session,
        progress() as on_progress,
        session.begin(),
    ):
        result = run(session, last_event_id=last_id, point_in_time=instant, on_progress=on_progress)
    click.echo(str(result))

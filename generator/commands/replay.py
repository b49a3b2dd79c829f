"""``eventspec replay``: rebuild the tracked tables of one event log from its events."""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from .. import ir
from ..log_views import rehearse_function, replay_function, verify_function
from .archive import archived_log
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
    into: str | None = None,
    *,
    show_traceback: bool = False,
    archives: Sequence[Path] = (),
) -> None:
    """Replay in place: clear the tracked tables and rebuild them, in one transaction. With
    ``into``: rebuild them into that database instead, from a snapshot of the live one. With
    ``archives``: start from the events of those archive files."""
    project = load(config_path)
    log = archived_log(project, event_log) if archives else pick_log(project, event_log)
    url = resolve_database_url(project, database_url)
    last_id = parse_event_id(log, last_event_id) if last_event_id else None
    instant: dt.datetime | None = parse_instant(point_in_time) if point_in_time else None
    extra = {"archives": list(archives)} if archives else {}
    if into is not None:
        rehearse(project, log, url, into, last_id, instant, yes, show_traceback, extra)
        return
    if not yes:
        _confirm(f"Replay {log.name} into {redact(url)}? Tracked tables are cleared first.")
    module = import_generated(project, "replay")
    run: Any = getattr(module, replay_function(project, log))
    with (
        replay_errors(show_traceback),
        session_for(url) as session,
        progress() as on_progress,
        session.begin(),
    ):
        result = run(
            session,
            last_event_id=last_id,
            point_in_time=instant,
            on_progress=on_progress,
            **extra,
        )
    click.echo(str(result))


def rehearse(
    project: ir.Project,
    log: ir.EventLog,
    url: str,
    into: str,
    last_id: Any,
    instant: dt.datetime | None,
    yes: bool,
    show_traceback: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Rebuild the log's tables into ``into`` from a read-only snapshot of ``url``; confirm first
    when the target already holds rows that the rebuild replaces. ``extra``: more arguments of
    the replay (the archive files to start from)."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError

    module = import_generated(project, "replay")
    run: Any = getattr(module, rehearse_function(project, log))
    if extra:
        run = _rehearsal(project, log, module, extra)
    logs = {table.key for table in module.EVENT_LOG_TABLES}
    replaced = [t for t in module.Base.metadata.sorted_tables if t.key not in logs]
    try:
        target = create_engine(into)
    except ArgumentError as error:
        raise click.BadParameter(str(error), param_hint="--into") from error
    live = create_engine(url)
    try:
        with replay_errors(show_traceback):
            if not yes and import_generated(project, "_rehearse").target_has_rows(target, replaced):
                _confirm(f"Rebuild {log.name} into {redact(into)}? Its rows are replaced.")
            with progress("rehearsing") as on_progress:
                result = run(
                    live,
                    target,
                    last_event_id=last_id,
                    point_in_time=instant,
                    on_progress=on_progress,
                )
    finally:
        live.dispose()
        target.dispose()
    click.echo(str(result))


def _rehearsal(
    project: ir.Project, log: ir.EventLog, module: Any, extra: Mapping[str, Any]
) -> Callable[..., Any]:
    """The generated ``rehearse`` function of ``log``, its replay given ``extra`` arguments."""
    steps = import_generated(project, "_rehearse")
    replay = functools.partial(getattr(module, replay_function(project, log)), **extra)

    def run(live: Any, target: Any, **options: Any) -> Any:
        with steps.snapshot(live) as source:
            return steps.rebuild(
                source,
                target,
                replay=replay,
                metadata=module.Base.metadata,
                tracked=getattr(module, f"{log.name.upper()}_TRACKED"),
                event_logs=module.EVENT_LOG_TABLES,
                **options,
            )

    return run


def _confirm(question: str) -> None:
    if not sys.stdin.isatty():
        raise click.UsageError(
            "replay deletes and rebuilds every tracked record; pass --yes to confirm "
            "when not running in a terminal"
        )
    click.confirm(question, abort=True)


EXIT_DIFFERENT = 1
EXIT_ERROR = 2


def verify(
    config_path: Path,
    database_url: str | None,
    into_url: str | None,
    last_event_id: str | None,
    point_in_time: str | None,
    event_log: str | None,
    *,
    as_json: bool,
    max_rows: int,
    show_traceback: bool = False,
) -> None:
    """Rebuild into a scratch database (or ``into_url``) and compare with the live tables.

    Exit 0 identical (or a partial replay, which is only reported), 1 different, 2 error.
    """
    try:
        project = load(config_path)
        log = pick_log(project, event_log)
        url = resolve_database_url(project, database_url)
        last_id = parse_event_id(log, last_event_id) if last_event_id else None
        instant = parse_instant(point_in_time) if point_in_time else None
        run: Any = getattr(import_generated(project, "replay"), verify_function(project, log))
    except click.ClickException as error:
        error.show()
        sys.exit(EXIT_ERROR)  # not the exception's own code: 1 means "different" here
    from sqlalchemy import create_engine

    live = create_engine(url)
    into = create_engine(into_url) if into_url else None
    try:
        with replay_errors(show_traceback, exit_code=EXIT_ERROR), progress() as on_progress:
            result = run(
                live,
                into=into,
                last_event_id=last_id,
                point_in_time=instant,
                max_rows=max_rows,
                on_progress=on_progress,
            )
    except KeyboardInterrupt:
        click.echo("interrupted: nothing was changed, the scratch database is removed", err=True)
        sys.exit(EXIT_ERROR)
    except Exception as error:  # one line, not a traceback: the database, the replay, the report
        if show_traceback:
            traceback.print_exc()
            sys.exit(EXIT_ERROR)
        click.echo(f"error: {type(error).__name__}: {_one_line(error)}", err=True)
        sys.exit(EXIT_ERROR)
    finally:
        live.dispose()
        if into is not None:
            into.dispose()
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else str(result))
    sys.exit(0 if result.identical or not result.compared else EXIT_DIFFERENT)


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else repr(error)

"""``eventspec erase``: erase a data subject's personal data (crypto-shredding; privacy.md)."""

from __future__ import annotations

from pathlib import Path

import click

from .. import ir
from ..privacy_views import personal_logs
from .database import import_generated, load, pick_log, resolve_database_url
from .reading import reading


def run(
    config_path: Path,
    database_url: str | None,
    event_log: str | None,
    subject: str,
    reason: str,
    by: str | None,
) -> None:
    """Erase ``subject`` in one transaction, then purge what the database files keep of it."""
    project = load(config_path)
    log = _personal_log(project, event_log)
    url = resolve_database_url(project, database_url)
    definition = getattr(import_generated(project, "event_logs"), log.name.upper())
    privacy = import_generated(project, "privacy")
    errors = import_generated(project, "errors")
    runtime = import_generated(project, "_privacy")
    suffix = "" if len(personal_logs(project)) == 1 else f"_{log.module}"
    erase_subject = getattr(privacy, f"erase_subject{suffix}")
    purge = getattr(privacy, f"purge{suffix}")
    with reading(url, errors, definition.table.name) as session:
        with session.begin():
            if by is None:
                done = erase_subject(session, subject, reason=reason)
            else:
                resources = getattr(privacy, f"_RESOURCES{suffix.upper()}")
                done = runtime.erase(
                    session, definition, resources, subject, reason=reason, erased_by=by
                )
        with session.get_bind().connect() as connection:
            purge(connection)
    cleared = ", ".join(f"{n} {name}" for name, n in done.records.items()) or "no records"
    cleared += " cleared"
    dropped = getattr(done, "dropped", {})  # a package generated before on_erase has none
    if dropped:
        deleted = ", ".join(f"{len(ids)} {name}" for name, ids in dropped.items())
        cleared += f"; {deleted} deleted"
    click.echo(
        f"{log.name}: erased subject {done.subject} ({cleared}); its personal values "
        "in every event are now unreadable"
    )


def _personal_log(project: ir.Project, name: str | None) -> ir.EventLog:
    if name is not None:
        log = pick_log(project, name)
        if not log.personal_data:
            raise click.UsageError(f"{log.name} records no personal data")
        return log
    logs = personal_logs(project)
    if not logs:
        raise click.UsageError("no resource of this project declares personal fields")
    if len(logs) > 1:
        names = ", ".join(log.name for log in logs)
        raise click.UsageError(f"several event logs hold personal data ({names}): pass --event-log")
    return logs[0]

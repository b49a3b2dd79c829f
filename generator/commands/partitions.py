"""``eventspec partitions``: create the partitions of partitioned event logs ahead of time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from .database import import_generated, load, parse_instant, redact, resolve_database_url
from .reading import reading


def run(
    config_path: Path, database_url: str | None, ahead: int | None, through: str | None
) -> None:
    """Ensure every partitioned log has its partitions; print what was created and what exists."""
    project = load(config_path)
    logs = [log for log in project.event_logs if log.partitioning is not None]
    if not logs:
        raise click.UsageError("no event log of this project has `partitioning` in its spec")
    url = resolve_database_url(project, database_url)
    module = import_generated(project, "partitions")
    runtime = import_generated(project, "_partitions")
    models = import_generated(project, "models")
    errors = import_generated(project, "errors")
    until = _through(through)
    with reading(url, errors, logs[0].table) as session, session.begin():
        connection = session.connection()
        if connection.dialect.name != "postgresql":
            click.echo(f"{redact(url)} is not PostgreSQL: partitioning does not apply there")
            return
        created = module.ensure_partitions(connection, through=until, ahead=ahead)
        for name in created:
            click.echo(f"created {name}")
        for log in logs:
            table = getattr(models, log.name).__table__
            found = runtime.partitions(connection, table)
            last = found[-1].upper if found else None
            click.echo(f"{log.name}: {len(found)} partitions of {table.name}, up to {last}")
    if not created:
        click.echo("every partition was there already")


def _through(value: str | None) -> dt.datetime | int | None:
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    return parse_instant(value)

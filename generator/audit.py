"""``eventspec events``: the audit trail, from the command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from . import ir

CANONICAL_FIELDS = (
    "id",
    "occurred_at",
    "resource",
    "record_id",
    "action",
    "action_type",
    "version",
    "data",
    "metadata",
    "changed_attributes",
)
ENCRYPTED_FIELDS = frozenset({"data", "metadata", "changed_attributes"})


def visible_fields(log: ir.EventLog, show_all: bool) -> list[str]:
    every = list(CANONICAL_FIELDS) + [actor.name for actor in log.actors]
    if show_all or log.public_fields == "all":
        return every
    public = set(log.public_fields)
    return [name for name in every if name in public]


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="eventspec.yaml",
    show_default=True,
)
@click.option("--database-url", help="Overrides EVENTSPEC_DATABASE_URL and eventspec.yaml.")
@click.option("--event-log", "event_log", help="Which event log (when there are several).")
@click.option("--resource", help="Only events of this resource, e.g. User.")
@click.option("--record-id", help="The full history of one record, in order.")
@click.option("--action", help="Only events of this action.")
@click.option("--actor", help="COLUMN=VALUE, e.g. user_id=5f0c...: events by one actor.")
@click.option("--since", help="Events that occurred at or after this ISO instant.")
@click.option("--until", help="Events that occurred at or before this ISO instant.")
@click.option("--limit", type=click.IntRange(min=1), help="At most N events (the latest).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--all", "show_all", is_flag=True, help="Every field, not only public_fields.")
def events(
    config_path: Path,
    database_url: str | None,
    event_log: str | None,
    resource: str | None,
    record_id: str | None,
    action: str | None,
    actor: str | None,
    since: str | None,
    until: str | None,
    limit: int | None,
    as_json: bool,
    show_all: bool,
) -> None:
    """Show the event log: who changed what, when, and what they sent."""
    from sqlalchemy import select

    from .cli import _load, _pick_log, import_generated, parse_instant, resolve_database_url
    from .cli import session_for

    project = _load(config_path)
    log = _pick_log(project, event_log)
    models = import_generated(project, "models")
    model = getattr(models, log.name)
    table = model.__table__
    fields = visible_fields(log, show_all)
    if not fields:
        raise click.UsageError(
            f"{log.name} declares no public_fields; pass --all to show every field"
        )
    hidden: list[str] = []
    if log.encrypted and not os.environ.get(log.encryption_key_env or ""):
        hidden = [f for f in fields if f in ENCRYPTED_FIELDS]
        fields = [f for f in fields if f not in ENCRYPTED_FIELDS]
    query = select(*(table.c[f] for f in fields))
    if resource:
        query = query.where(table.c.resource == resource)
    if record_id:
        query = query.where(table.c.record_id == _coerce(table.c.record_id, record_id))
    if action:
        query = query.where(table.c.action == action)
    if actor:
        column, _, value = actor.partition("=")
        if column not in {a.name for a in log.actors} or not value:
            names = ", ".join(a.name for a in log.actors) or "none declared"
            raise click.BadParameter(f"use COLUMN=VALUE with an actor column ({names})")
        query = query.where(table.c[column] == _coerce(table.c[column], value))
    if since:
        query = query.where(table.c.occurred_at >= parse_instant(since))
    if until:
        query = query.where(table.c.occurred_at <= parse_instant(until))
    if limit:
        query = query.order_by(table.c.id.desc()).limit(limit)
    else:
        query = query.order_by(table.c.id)
    url = resolve_database_url(project, database_url)
    with session_for(url) as session:
        rows = [dict(row._mapping) for row in session.execute(query)]
    if limit:
        rows.reverse()
    if hidden:
        click.echo(
            f"note: {', '.join(hidden)} hidden: the log is encrypted and "
            f"{log.encryption_key_env} is not set",
            err=True,
        )
    if as_json:
        for row in rows:
            click.echo(json.dumps({k: _plain(v) for k, v in row.items()}, sort_keys=False))
    else:
        _table(fields, rows)


def _coerce(column: Any, value: str) -> Any:
    import uuid

    python_type = column.type.python_type
    if python_type is uuid.UUID:
        return uuid.UUID(value)
    if python_type is int:
        return int(value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict | list | str | int | float | bool) or value is None:
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _cell(value: Any) -> str:
    plain = _plain(value)
    if isinstance(plain, dict | list):
        return json.dumps(plain, separators=(",", ":"))
    return "" if plain is None else str(plain)


def _table(fields: list[str], rows: list[dict[str, Any]]) -> None:
    cells = [[_cell(row[f]) for f in fields] for row in rows]
    widths = [max([len(f)] + [min(len(c[i]), 60) for c in cells]) for i, f in enumerate(fields)]
    out = sys.stdout
    out.write("  ".join(f.ljust(w) for f, w in zip(fields, widths, strict=True)).rstrip() + "\n")
    for row in cells:
        clipped = [c if len(c) <= 60 else c[:57] + "..." for c in row]
        out.write("  ".join(c.ljust(w) for c, w in zip(clipped, widths, strict=True)).rstrip())
        out.write("\n")
    out.write(f"({len(rows)} event{'s' if len(rows) != 1 else ''})\n")

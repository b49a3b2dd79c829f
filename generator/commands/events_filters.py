"""``eventspec events``: its filter options, parsed into conditions before the database is used."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from typing import Any

import click

from .. import ir

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_filters(
    log: ir.EventLog,
    resource: str | None,
    record_id: str | None,
    action: str | None,
    actor: str | None,
    since: str | None,
    until: str | None,
) -> list[tuple[str, str, Any]]:
    """``(column, comparison, value)`` to match, every value parsed before the database is used."""
    conditions: list[tuple[str, str, Any]] = []
    if resource:
        conditions.append(("resource", "==", resource))
    if record_id is not None:
        value = parse_value(
            log.record_id_type, record_id, "--record-id", f"a record id of {log.name}"
        )
        conditions.append(("record_id", "==", value))
    if action:
        conditions.append(("action", "==", action))
    if actor is not None:
        column, value = actor_condition(log, actor)
        conditions.append((column, "==", value))
    if since is not None:
        conditions.append(("occurred_at", ">=", parse_when(since, "--since")))
    if until is not None:
        conditions.append(("occurred_at", "<=", parse_when(until, "--until")))
    return conditions


def actor_condition(log: ir.EventLog, text: str) -> tuple[str, Any]:
    columns = {actor.name: actor for actor in log.actors}
    if not columns:
        raise click.BadParameter(
            f"{log.name} records no actors (it has no persist_actor_primary_key)",
            param_hint="--actor",
        )
    name, sep, value = text.partition("=")
    if not sep and len(columns) == 1:
        name, value = next(iter(columns)), text
    if name not in columns or not value:
        choices = ", ".join(f"{column}=VALUE" for column in columns)
        raise click.BadParameter(f"{text!r}: use {choices}", param_hint="--actor")
    kind = columns[name].attribute_type.name
    return name, parse_value(kind, value, "--actor", f"a {kind} key of the {name} actor column")


def parse_value(kind: str, value: str, option: str, what: str) -> Any:
    try:
        if kind in ("uuid", "uuidv7"):
            return uuid.UUID(value)
        if kind in ("integer", "big_integer"):
            return int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not {what}", param_hint=option) from None
    return value


def parse_when(value: str, option: str) -> dt.datetime:
    """An ISO 8601 date or instant (UTC unless it says otherwise), or a time ago: 30m, 2h, 7d."""
    relative = _RELATIVE.match(value.strip())
    try:
        if relative:
            amount, unit = int(relative[1]), _UNITS[relative[2]]
            return dt.datetime.now(dt.UTC) - dt.timedelta(**{unit: amount})
        parsed = dt.datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        raise click.BadParameter(
            f"{value!r} is neither an ISO 8601 date or time (2025-01-31, 2025-01-31T12:00:00Z) "
            "nor a time ago (30m, 2h, 7d)",
            param_hint=option,
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def notes(
    project: ir.Project,
    log: ir.EventLog,
    rows: Sequence[dict[str, Any]],
    resource: str | None,
    record_id: str | None,
    action: str | None,
) -> None:
    """Hints on stderr for filters that probably do not mean what the user thinks."""
    known = {r.name: r for r in project.resources_of(log)}
    if not rows and resource and resource not in known:
        names = ", ".join(sorted(known)) or "none"
        click.echo(f"note: no resource named {resource} writes to {log.name} ({names})", err=True)
    elif not rows and resource in known and action and known[resource].action(action) is None:
        click.echo(f"note: {resource} has no action named {action}", err=True)
    if record_id is not None and not resource and rows and "resource" in rows[0]:
        seen = sorted({row["resource"] for row in rows})
        if len(seen) > 1:
            click.echo(
                f"note: record id {record_id} matches records of {', '.join(seen)}; "
                "add --resource to see one record's history",
                err=True,
            )

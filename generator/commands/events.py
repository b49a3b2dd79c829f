"""``eventspec events``: the audit trail of an event log, read from the command line."""

from __future__ import annotations

import datetime as dt
import json
import operator
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import click

from .. import ir
from ..options import config_option, database_option, event_log_option

CLIP = 48  # table cells longer than this are clipped (--wide shows them whole)
_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_COMPARE = {"==": operator.eq, ">=": operator.ge, "<=": operator.le}


def display_fields(log: ir.EventLog, show_all: bool) -> list[str]:
    """The fields to show, in reading order: which event, when, what, who, then the payloads."""
    order = [
        *("id", "occurred_at", "resource", "record_id", "action", "action_type", "version"),
        *(actor.name for actor in log.actors),
        *("metadata", "data", "changed_attributes"),
    ]
    visible = set(log.fields if show_all else log.public_field_names)
    return [name for name in order if name in visible]


@click.command()
@config_option
@database_option
@event_log_option()
@click.option("--resource", metavar="NAME", help="Only events of this resource, e.g. User.")
@click.option(
    "--record-id", metavar="ID", help="Only events of this record: its full history, in order."
)
@click.option("--action", metavar="NAME", help="Only events of this action, e.g. update.")
@click.option(
    "--actor", metavar="COLUMN=VALUE", help="Only events by this actor, e.g. user_id=5f0c..."
)
@click.option("--since", metavar="WHEN", help="From this instant on: ISO 8601, or 30m, 2h, 7d ago.")
@click.option("--until", metavar="WHEN", help="Up to this instant: ISO 8601, or 30m, 2h, 7d ago.")
@click.option(
    "--limit", type=click.IntRange(min=1), metavar="N", help="Only the latest N matching events."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, nothing clipped.")
@click.option("--all", "show_all", is_flag=True, help="Every field, not only public_fields.")
@click.option("--wide", is_flag=True, help="Do not clip long table cells.")
@click.option(
    "--upcast",
    is_flag=True,
    help="Next to each shown version, data and changed_attributes, show it as replay reads it "
    "(after upcasters and renamed_from renames): replay_version, replay_data, ...",
)
@click.option(
    "--show-sensitive",
    is_flag=True,
    help="Show values of sensitive attributes and arguments (hidden otherwise, even with --all).",
)
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
    wide: bool,
    upcast: bool,
    show_sensitive: bool,
) -> None:
    """Show the event log: who changed which record, when, from where, and what they sent.

    Events are listed oldest first, in id order (the order they were committed in). Only the
    fields named in the log's public_fields are shown unless --all is given; the data, metadata
    and changed_attributes of an encrypted log need its key in the environment. Values of
    sensitive attributes and arguments in data and changed_attributes are shown as [sensitive]
    unless --show-sensitive is given.

    \b
    The whole history of one record, every field:
      eventspec events --resource User --record-id 5f0c... --all
    """
    from sqlalchemy import select

    from .database import import_generated, load, pick_log, resolve_database_url

    project = load(config_path)
    log = pick_log(project, event_log)
    url = resolve_database_url(project, database_url)
    fields = display_fields(log, show_all)
    if not fields:
        raise click.UsageError(
            f"{log.name} declares no public_fields, so there is nothing to show; "
            "pass --all to show every field"
        )
    conditions = _filters(log, resource, record_id, action, actor, since, until)
    hidden: list[str] = []
    key_env = log.encryption_key_env
    if key_env and not os.environ.get(key_env, "").strip():
        hidden = [name for name in fields if name in ir.ENCRYPTED_FIELDS]
        fields = [name for name in fields if name not in ir.ENCRYPTED_FIELDS]
        if not fields:
            raise click.ClickException(
                f"{', '.join(hidden)} of {log.name} are encrypted and {key_env} is not set"
            )
    if upcast and hidden:
        raise click.ClickException(f"--upcast needs {key_env}: {log.name} is encrypted")
    models = import_generated(project, "models")
    table = getattr(models, log.name).__table__
    masked = not show_sensitive and any(name in _MASKED_MAPS for name in fields)
    # Masking needs to know whose event a row is, shown or not; upcasting reads what replay reads.
    extra = [*(_UPCAST_READS if upcast else ()), *(("resource", "action") if masked else ())]
    needed = [*fields, *dict.fromkeys(name for name in extra if name not in fields)]
    query = select(*(table.c[name] for name in needed))
    for name, compare, value in conditions:
        query = query.where(_COMPARE[compare](table.c[name], value))
    if limit is None:
        query = query.order_by(table.c.id)
    else:  # the latest N, fetched newest first; one more tells whether older ones exist
        query = query.order_by(table.c.id.desc()).limit(limit + 1)
    with reading(url, import_generated(project, "errors"), table.name) as session:
        rows = [dict(row._mapping) for row in session.execute(query)]
    more = limit is not None and len(rows) > limit
    if limit is not None:
        rows = rows[:limit][::-1]
    if upcast:  # before masking: upcasters read the values as stored
        fields = _with_upcast(project, log, fields, rows)
    hidden_values = _mask(project, rows) if masked else set()
    if hidden:
        click.echo(
            f"note: {', '.join(hidden)} not shown: {log.name} is encrypted and {key_env} is not "
            "set; set it to the log's keys to read them",
            err=True,
        )
    if hidden_values:
        click.echo(
            f"note: values of sensitive fields ({', '.join(sorted(hidden_values))}) are shown as "
            f"{SENSITIVE}; --show-sensitive shows them",
            err=True,
        )
    _notes(project, log, rows, resource, record_id, action)
    if as_json:
        for row in rows:
            record = {name: _plain(row[name]) for name in fields}
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    actors = [actor.name for actor in log.actors]
    click.echo(_table(fields, rows, actors, clip=None if wide else CLIP, more=more), nl=False)


# What replay reads of an event, and so what upcasting needs.
_UPCAST_READS = (
    "id",
    "resource",
    "action",
    "action_type",
    "version",
    "record_id",
    "data",
    "changed_attributes",
)
_UPCAST_SHOWN = ("version", "data", "changed_attributes")


def _with_upcast(
    project: ir.Project, log: ir.EventLog, fields: list[str], rows: list[dict[str, Any]]
) -> list[str]:
    """Add ``replay_<field>`` to every row, and after each shown field it belongs to."""
    from types import SimpleNamespace

    from ..log_views import upcasters_constant
    from .database import import_generated

    upcast = import_generated(project, "_upcast").upcast
    upcasters = getattr(import_generated(project, "replay"), upcasters_constant(log), {})
    for row in rows:
        replayed = upcast(SimpleNamespace(**{n: row[n] for n in _UPCAST_READS}), upcasters)
        for name in _UPCAST_SHOWN:
            row[f"replay_{name}"] = getattr(replayed, name)
    out: list[str] = []
    for name in fields:
        out.append(name)
        if name in _UPCAST_SHOWN:
            out.append(f"replay_{name}")
    return out


# --- sensitive values -------------------------------------------------------------------------

SENSITIVE = "[sensitive]"
_MASKED_MAPS = ("data", "changed_attributes", "replay_data", "replay_changed_attributes")


def sensitive_names(project: ir.Project, resource: str, action: str) -> frozenset[str]:
    """Keys of an event's maps whose values are sensitive: the resource's sensitive attributes
    and the action's sensitive arguments (every action's, for an action no longer declared)."""
    spec = project.resource(resource)
    if spec is None:
        return frozenset()
    names = {attr.name for attr in spec.attributes if attr.sensitive}
    known = spec.action(action)
    for candidate in (known,) if known is not None else spec.actions:
        names.update(arg.name for arg in candidate.arguments if arg.sensitive)
    return frozenset(names)


def _mask(project: ir.Project, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Replace sensitive values in ``rows`` (in place); the names of the values replaced."""
    hidden: set[str] = set()
    cache: dict[tuple[str, str], frozenset[str]] = {}
    for row in rows:
        whose = (row["resource"], row["action"])
        if whose not in cache:
            cache[whose] = sensitive_names(project, *whose)
        names = cache[whose]
        for field_name in _MASKED_MAPS:
            values = row.get(field_name)
            if not isinstance(values, dict):
                continue
            for name in names & values.keys():
                if values[name] is not None:  # a null reveals nothing
                    values[name] = SENSITIVE
                    hidden.add(name)
    return hidden


# --- filters ----------------------------------------------------------------------------------


def _filters(
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
        value = _parse(log.record_id_type, record_id, "--record-id", f"a record id of {log.name}")
        conditions.append(("record_id", "==", value))
    if action:
        conditions.append(("action", "==", action))
    if actor is not None:
        column, value = _actor_condition(log, actor)
        conditions.append((column, "==", value))
    if since is not None:
        conditions.append(("occurred_at", ">=", parse_when(since, "--since")))
    if until is not None:
        conditions.append(("occurred_at", "<=", parse_when(until, "--until")))
    return conditions


def _actor_condition(log: ir.EventLog, text: str) -> tuple[str, Any]:
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
    return name, _parse(kind, value, "--actor", f"a {kind} key of the {name} actor column")


def _parse(kind: str, value: str, option: str, what: str) -> Any:
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


def _notes(
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


# --- database ---------------------------------------------------------------------------------


@contextmanager
def reading(url: str, errors: ModuleType, table: str) -> Iterator[Any]:
    """A session on ``url``; database and key problems become one-line errors, not tracebacks.

    ``errors`` is the generated package's ``errors`` module, whose ``EventspecError`` a missing,
    malformed or wrong encryption key raises.
    """
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

    from .database import redact, session_for

    try:
        with session_for(url) as session:
            yield session
    except errors.EventspecError as error:
        raise click.ClickException(str(error)) from error
    except (ArgumentError, NoSuchModuleError) as error:
        raise click.ClickException(f"cannot use the database URL: {error}") from error
    except SQLAlchemyError as error:
        cause = str(error.orig if isinstance(error, DBAPIError) else error).strip()
        message = f"database {redact(url)}: {cause.splitlines()[0] if cause else repr(error)}"
        if table in cause:
            message += " (are its tables created? `alembic upgrade head`)"
        raise click.ClickException(message) from error


# --- output -----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-native value: maps and scalars as they are, UUIDs and instants as strings."""
    if value is None or isinstance(value, dict | list | str | int | float | bool):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        text = value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%fZ")
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""
    else:
        text = str(_plain(value))
    # Stored text is user input: never let it move the cursor or recolour the terminal.
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


def _table(
    fields: list[str],
    rows: Sequence[dict[str, Any]],
    actors: Sequence[str],
    clip: int | None,
    more: bool,
) -> str:
    """An aligned table; the actor columns share one ``actor`` column (``user_id=...``)."""
    if not rows:
        return "no events match\n"
    shown = [name for name in fields if name not in actors]
    if any(name in actors for name in fields):
        shown.insert(next(i for i, name in enumerate(fields) if name in actors), "actor")

    def value(row: dict[str, Any], name: str) -> str:
        if name != "actor":
            return _cell(row[name])
        who = [f"{a}={_cell(row[a])}" for a in actors if a in row and row[a] is not None]
        return ", ".join(who)

    cells = [[value(row, name) for name in shown] for row in rows]
    clipped = False
    if clip is not None:
        for line in cells:
            for i, text in enumerate(line):
                if len(text) > clip:
                    line[i], clipped = text[: clip - 1] + "…", True
    widths = [max(len(name), *(len(line[i]) for line in cells)) for i, name in enumerate(shown)]

    def render(line: Sequence[str]) -> str:
        return "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True))

    out = [render(shown).rstrip(), render(["-" * width for width in widths]).rstrip()]
    out += [render(line).rstrip() for line in cells]
    notes = [f"{len(rows)} event{'s' if len(rows) != 1 else ''}"]
    if more:
        notes = [f"the latest {notes[0]}, older ones match too: raise --limit"]
    if clipped:
        notes.append("long cells clipped: --wide or --json shows them whole")
    out.append(f"({'; '.join(notes)})")
    return "\n".join(out) + "\n"

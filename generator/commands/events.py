"""``eventspec events``: the audit trail of an event log, read from the command line."""

from __future__ import annotations

import json
import operator
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from .. import ir
from ..log_views import upcasters_constant
from .database import import_generated, load, pick_log, resolve_database_url
from .errors import replay_errors
from .events_filters import notes, parse_filters
from .events_follow import follow_mark, tail
from .events_table import CLIP, plain, table
from .reading import reading

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


def run(
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
    follow: bool = False,
    interval: float = 1.0,
) -> None:
    """List the events of one log that match the filters: a table, or JSON lines; with
    ``follow``, then print each new event as it is committed, until interrupted."""
    from sqlalchemy import select

    project = load(config_path)
    log = pick_log(project, event_log)
    url = resolve_database_url(project, database_url)
    fields = display_fields(log, show_all)
    if not fields:
        raise click.UsageError(
            f"{log.name} declares no public_fields, so there is nothing to show; "
            "pass --all to show every field"
        )
    conditions = parse_filters(log, resource, record_id, action, actor, since, until)
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
    if follow and hidden:
        raise click.ClickException(f"--follow reads whole events: set {key_env}")
    models = import_generated(project, "models")
    log_table = getattr(models, log.name).__table__
    masked = not show_sensitive and any(name in _MASKED_MAPS for name in fields)
    # Masking needs to know whose event a row is, shown or not; upcasting reads what replay reads.
    extra = [*(_UPCAST_READS if upcast else ()), *(("resource", "action") if masked else ())]
    if log.personal_data and any(name in _MASKED_MAPS for name in fields):
        extra.append("subject")  # whose key opens the personal values (docs/privacy.md)
    needed = [*fields, *dict.fromkeys(name for name in extra if name not in fields)]
    query = select(*(log_table.c[name] for name in needed))
    for name, compare, value in conditions:
        query = query.where(_COMPARE[compare](log_table.c[name], value))
    if limit is None:
        query = query.order_by(log_table.c.id)
    else:  # the latest N, fetched newest first; one more tells whether older ones exist
        query = query.order_by(log_table.c.id.desc()).limit(limit + 1)
    errors = import_generated(project, "errors")
    with reading(url, errors, log_table.name) as session:
        mark = None
        if follow:  # list up to where every event is committed; follow from there
            mark = follow_mark(project, session, log, models)
            query = query.where(log_table.c.id <= (mark or 0))
        rows = [dict(row._mapping) for row in session.execute(query)]
        if "subject" in needed:
            rows = _revealed(project, log, session, rows)
    more = limit is not None and len(rows) > limit
    if limit is not None:
        rows = rows[:limit][::-1]
    if hidden:
        click.echo(
            f"note: {', '.join(hidden)} not shown: {log.name} is encrypted and {key_env} is not "
            "set; set it to the log's keys to read them",
            err=True,
        )
    view = _Show(project, log, fields, as_json, wide, upcast, masked)
    view.show(rows, more, (resource, record_id, action))
    if follow:
        with reading(url, errors, log_table.name) as session:
            tail(project, log, session, mark, interval, conditions, needed, view.show)


@dataclass(frozen=True)
class _Show:
    """How ``events`` prints rows: upcast, masked, as JSON lines or as a table."""

    project: ir.Project
    log: ir.EventLog
    fields: list[str]
    as_json: bool
    wide: bool
    upcast: bool
    masked: bool

    def show(
        self,
        rows: list[dict[str, Any]],
        more: bool = False,
        filters: tuple[str | None, str | None, str | None] | None = None,
    ) -> None:
        project, log, fields = self.project, self.log, self.fields
        if self.upcast:  # before masking: upcasters read the values as stored
            with replay_errors(show_traceback=False):  # an upcaster that fails: one line
                fields = _with_upcast(project, log, fields, rows)
        hidden_values = _mask(project, rows) if self.masked else set()
        if hidden_values:
            click.echo(
                f"note: values of sensitive fields ({', '.join(sorted(hidden_values))}) are "
                f"shown as {SENSITIVE}; --show-sensitive shows them",
                err=True,
            )
        if filters is not None:  # the first listing, not each followed batch
            notes(project, log, rows, *filters)
        if self.as_json:
            for row in rows:
                record = {name: plain(row[name]) for name in fields}
                click.echo(json.dumps(record, ensure_ascii=False))
            return
        actors = [actor.name for actor in log.actors]
        clip = None if self.wide else CLIP
        click.echo(table(fields, rows, actors, clip=clip, more=more), nl=False)


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


def _revealed(
    project: ir.Project, log: ir.EventLog, session: Any, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Personal values opened with their subject's key, ``<erased>`` where it was erased."""
    privacy = import_generated(project, "_privacy")
    definition = getattr(import_generated(project, "event_logs"), log.name.upper())
    return list(privacy.reveal_rows(privacy.SubjectKeys(definition.table, session), rows, ERASED))


ERASED = "<erased>"


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

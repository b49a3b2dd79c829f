"""What the commands that touch a database share: project, URL, the generated package."""

from __future__ import annotations

import datetime as dt
import importlib
import os
import sys
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import click

from .. import ir
from ..diagnostics import render_all

EXIT_INVALID = 2


def load(config_path: Path, accept_breaking: Collection[str] = ()) -> ir.Project:
    """Load and verify the project; on any error print every diagnostic and exit 2."""
    from ..loader import load_project

    if not config_path.exists():
        raise click.UsageError(
            f"{config_path} not found; run `eventspec init` or pass --config PATH"
        )
    project, diagnostics = load_project(config_path, accept_breaking=accept_breaking)
    if diagnostics or project is None:
        click.echo(render_all(diagnostics), err=True)
        sys.exit(EXIT_INVALID)
    return project


def resolve_database_url(project: ir.Project, flag: str | None) -> str:
    url = flag or os.environ.get("EVENTSPEC_DATABASE_URL") or project.database_url
    if not url:
        raise click.UsageError(
            "no database: pass --database-url, set EVENTSPEC_DATABASE_URL, "
            "or set database_url in eventspec.yaml"
        )
    return url


def import_generated(project: ir.Project, module: str) -> ModuleType:
    """Import ``<package>.<module>`` from the project's output folder."""
    parts = project.package.split(".")
    output = (project.root / project.output).resolve()  # it ends with the package's folders: ES209
    base = output.parents[len(parts) - 1]
    if str(base) not in sys.path:
        sys.path.insert(0, str(base))
    sys.path.insert(0, str(project.root.resolve()))  # for the user's own hook modules
    try:
        return importlib.import_module(f"{project.package}.{module}")
    except ImportError as error:
        raise click.ClickException(
            f"cannot import {project.package}.{module}: {error}; run `eventspec generate` first"
        ) from error


@contextmanager
def session_for(url: str) -> Iterator[Any]:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    engine = create_engine(url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def pick_log(project: ir.Project, name: str | None) -> ir.EventLog:
    if not project.event_logs:
        raise click.UsageError("the project declares no event log")
    if name is None:
        if len(project.event_logs) > 1:
            names = ", ".join(log.name for log in project.event_logs)
            raise click.UsageError(f"several event logs ({names}): pass --event-log NAME")
        return project.event_logs[0]
    log = project.event_log(name)
    if log is None:
        raise click.UsageError(f"no event log named {name!r}")
    return log


def parse_instant(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as error:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date or time") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def parse_event_id(log: ir.EventLog, value: str) -> Any:
    try:
        return uuid.UUID(value) if log.primary_key_type == "uuidv7" else int(value)
    except ValueError as error:
        raise click.BadParameter(f"{value!r} is not an event id of {log.name}") from error


@contextmanager
def progress(label: str = "replaying") -> Iterator[Any]:
    """An ``on_progress(done, total)`` callback drawing click's progress bar on stderr."""
    bars: list[Any] = []

    def on_progress(done: int, total: int) -> None:
        if not bars:
            bar = click.progressbar(length=total, label=label, file=sys.stderr)
            bars.append(bar.__enter__())
        bars[0].update(done - bars[0].pos)

    try:
        yield on_progress
    finally:
        if bars:
            bars[0].__exit__(None, None, None)


def redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)

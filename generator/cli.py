"""The ``eventspec`` command line."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import sys
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import click

from . import ir
from .diagnostics import render_all
from .options import config_option, database_option, event_log_option

EXIT_DRIFT = 1
EXIT_INVALID = 2
SCHEMA_NAMES = ("project", "resource", "event_log")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="eventspec")
def main() -> None:
    """eventspec: declarative event logs and replay for SQLAlchemy.

    Write YAML specs for your resources and event log; `eventspec generate` validates them and
    compiles them into Python code you commit: models, actions that record every change as an
    event, replay, clear-records and alembic migrations.
    """


def _load(config_path: Path, accept_breaking: Collection[str] = ()) -> ir.Project:
    """Load and verify the project; on any error print every diagnostic and exit 2."""
    from .loader import load_project

    if not config_path.exists():
        raise click.UsageError(
            f"{config_path} not found; run `eventspec init` or pass --config PATH"
        )
    project, diagnostics = load_project(config_path, accept_breaking=accept_breaking)
    if diagnostics or project is None:
        click.echo(render_all(diagnostics), err=True)
        sys.exit(EXIT_INVALID)
    return project


def _accept_breaking_option(function: Any) -> Any:
    from .contracts import CODES

    return click.option(
        "--accept-breaking",
        "accept_breaking",
        multiple=True,
        type=click.Choice(CODES),
        metavar="CODE",
        help="Accept the breaking changes of this code (ES301-ES308; repeatable) and drop the "
        "event-schema lock entries they break: only when those recorded events are discarded.",
    )(function)


@main.command()
@config_option
@_accept_breaking_option
def validate(config_path: Path, accept_breaking: tuple[str, ...]) -> None:
    """Check the specs, and compare them with the event-schema lock; print every error with its
    location, exit 2 if there is any."""
    project = _load(config_path, accept_breaking)
    count = len(project.resources) + len(project.event_logs)
    click.echo(f"ok: {count} specs valid ({config_path})")


@main.command()
@config_option
@click.option("--check", is_flag=True, help="Exit 1, with a diff, if generated files are stale.")
@click.option("--dry-run", is_flag=True, help="Print what would change; write nothing.")
@click.option("--name", help="Slug of the new migration, e.g. add_user_status.")
@click.option(
    "--allow-destructive",
    is_flag=True,
    help="Write destructive migration operations (drops, narrowing) instead of commenting them.",
)
@_accept_breaking_option
def generate(
    config_path: Path,
    check: bool,
    dry_run: bool,
    name: str | None,
    allow_destructive: bool,
    accept_breaking: tuple[str, ...],
) -> None:
    """Generate the package, migrations and event-schema lock from the specs (deterministic,
    atomic). A change that would leave recorded events unreplayable is an error (ES301-ES308)."""
    from .migrations import SnapshotError
    from .plan import drift, make_plan, write

    project = _load(config_path, accept_breaking)
    try:
        plan = make_plan(
            project,
            name=name,
            allow_destructive=allow_destructive,
            accept_breaking=accept_breaking,
        )
    except SnapshotError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_INVALID)
    for warning in plan.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    if check or dry_run:
        changes = drift(plan)
        for label, paths in (
            ("changed", changes.changed),
            ("missing", changes.missing),
            ("extra", changes.extra),
        ):
            for path in paths:
                click.echo(f"{label}: {path.as_posix()}")
        if check:
            click.echo("".join(changes.diff), nl=False)
            if changes:
                click.echo("generated files are out of date: run `eventspec generate`", err=True)
                sys.exit(EXIT_DRIFT)
            click.echo("up to date")
        elif not changes:
            click.echo("nothing would change")
        return
    changes = write(plan)
    written = len(changes.changed) + len(changes.missing)
    click.echo(
        f"wrote {written} file{'s' if written != 1 else ''}, removed {len(changes.extra)}"
        f" ({project.output.as_posix()}, {project.migrations.as_posix()})"
    )


@main.command()
@click.argument("name", type=click.Choice(SCHEMA_NAMES), default="resource")
def schema(name: str) -> None:
    """Print the JSON Schema of a spec kind (point your editor's YAML plugin at it)."""
    from .loader import load_schema

    click.echo(json.dumps(load_schema(name), indent=2))


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--package", help="Import path of the generated package (default: <dir>_data).")
def init(directory: Path, package: str | None) -> None:
    """Scaffold a project: eventspec.yaml, an event log, one resource and an alembic env."""
    from .scaffold import ScaffoldError, scaffold

    try:
        created = scaffold(directory, package)
    except (FileExistsError, ScaffoldError) as error:
        raise click.UsageError(str(error)) from error
    for path in created:
        click.echo(f"created {path.as_posix()}")
    click.echo(f"next: cd {directory} && eventspec generate && alembic upgrade head")


# --- commands that touch a database --------------------------------------------------------------


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
    output = (project.root / project.output).resolve()
    if list(output.parts[-len(parts) :]) != parts:
        raise click.UsageError(
            f"output folder {project.output} does not end with the package path "
            f"{'/'.join(parts)}, so {project.package} cannot be imported from it"
        )
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


def _pick_log(project: ir.Project, name: str | None) -> ir.EventLog:
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
    import uuid

    try:
        return uuid.UUID(value) if log.primary_key_type == "uuidv7" else int(value)
    except ValueError as error:
        raise click.BadParameter(f"{value!r} is not an event id of {log.name}") from error


@main.command()
@config_option
@database_option
@click.option("--last-event-id", help="Replay up to and including this event id (wins).")
@click.option("--point-in-time", help="Replay events that occurred up to this ISO instant.")
@event_log_option()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def replay(
    config_path: Path,
    database_url: str | None,
    last_event_id: str | None,
    point_in_time: str | None,
    event_log: str | None,
    yes: bool,
) -> None:
    """Delete the tracked records and rebuild them from the event log.

    Runs in one transaction: on failure nothing changes.
    """
    from .log_views import replay_function

    project = _load(config_path)
    log = _pick_log(project, event_log)
    url = resolve_database_url(project, database_url)
    last_id = parse_event_id(log, last_event_id) if last_event_id else None
    instant = parse_instant(point_in_time) if point_in_time else None
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError(
                "replay deletes and rebuilds every tracked record; pass --yes to confirm "
                "when not running in a terminal"
            )
        click.confirm(
            f"Replay {log.name} into {_redact(url)}? Tracked tables are cleared first.",
            abort=True,
        )
    module = import_generated(project, "replay")
    run = getattr(module, replay_function(project, log))
    with session_for(url) as session, _progress() as on_progress, session.begin():
        result = run(session, last_event_id=last_id, point_in_time=instant, on_progress=on_progress)
    click.echo(str(result))


@contextmanager
def _progress() -> Iterator[Any]:
    bars: list[Any] = []

    def on_progress(done: int, total: int) -> None:
        if not bars:
            bar = click.progressbar(length=total, label="replaying", file=sys.stderr)
            bars.append(bar.__enter__())
        bars[0].update(done - bars[0].pos)

    try:
        yield on_progress
    finally:
        if bars:
            bars[0].__exit__(None, None, None)


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


from .audit import events  # noqa: E402  (registers the `events` command)

main.add_command(events)

from .rotate import rotate_keys  # noqa: E402  (registers `rotate-keys`)

main.add_command(rotate_keys)

if __name__ == "__main__":
    main()

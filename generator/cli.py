"""The ``eventspec`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .commands.database import load
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
    project = load(config_path, accept_breaking)
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

    project = load(config_path, accept_breaking)
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


@main.command()
@config_option
@database_option
@click.option("--last-event-id", help="Replay up to and including this event id (wins).")
@click.option("--point-in-time", help="Replay events that occurred up to this ISO instant.")
@event_log_option()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--into",
    metavar="URL",
    help="Rebuild into this database instead, from a snapshot of the live one (only read); "
    "with --verify, the database to compare from instead of a scratch one.",
)
@click.option(
    "--verify",
    is_flag=True,
    help="Rebuild into a scratch database and compare it with the live tables, row by row; "
    "live is only read. Exit 0 identical, 1 different, 2 error.",
)
@click.option("--json", "as_json", is_flag=True, help="With --verify: print the report as JSON.")
@click.option(
    "--max-rows",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="With --verify: differing rows shown per table.",
)
def replay(
    config_path: Path,
    database_url: str | None,
    last_event_id: str | None,
    point_in_time: str | None,
    event_log: str | None,
    yes: bool,
    into: str | None,
    verify: bool,
    as_json: bool,
    max_rows: int,
) -> None:
    """Delete the tracked records and rebuild them from the event log.

    Runs in one transaction: on failure nothing changes. With --into, the live database is only
    read and the rebuild goes to URL. With --verify, nothing is changed: the replay goes into a
    scratch database (removed afterwards) and is compared with the live tables.
    """
    from .commands import replay as command

    if verify:
        command.verify(
            config_path,
            database_url,
            into,
            last_event_id,
            point_in_time,
            event_log,
            as_json=as_json,
            max_rows=max_rows,
        )
        return
    if as_json:
        raise click.UsageError("--json needs --verify")
    command.replay(config_path, database_url, last_event_id, point_in_time, event_log, yes, into)


from .audit import events  # noqa: E402  (registers the `events` command)

main.add_command(events)

from .rotate import rotate_keys  # noqa: E402  (registers `rotate-keys`)

main.add_command(rotate_keys)

if __name__ == "__main__":
    main()

"""The ``eventspec`` command line: click declarations only.

Each command is one call into its module of the commands layer (``eventspec.commands``), imported
when the command runs so that ``eventspec --help`` does not load the pipeline or SQLAlchemy. The
commands layer never imports this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from . import cli_data
from .commands import errors, schema
from .options import config_option, database_option, event_log_option


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
    from .commands import validate as command

    command.run(config_path, accept_breaking)


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
    from .commands import generate as command

    command.run(config_path, check, dry_run, name, allow_destructive, accept_breaking)


@main.command("schema")
@click.argument("name", type=click.Choice(schema.SCHEMA_NAMES), default="resource")
@click.option(
    "--write",
    "write_to",
    is_flag=False,
    flag_value=schema.SCHEMA_DIR.as_posix(),
    type=click.Path(file_okay=False, path_type=Path),
    metavar="[DIR]",
    help=f"Write all four schemas into DIR (default {schema.SCHEMA_DIR}) instead of printing one.",
)
def schema_command(name: str, write_to: Path | None) -> None:
    """Print the JSON Schema of a spec kind, or write all four for your editor's YAML plugin
    (the specs `eventspec init` writes point at .eventspec/schemas/)."""
    from .commands import schema as command

    command.run(name, write_to)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--package", help="Import path of the generated package (default: <dir>_data).")
def init(directory: Path, package: str | None) -> None:
    """Scaffold a project: eventspec.yaml, an event log, one resource and an alembic env."""
    from .commands import init as command

    command.run(directory, package)


# --- commands that touch a database --------------------------------------------------------------


@main.command()
@config_option
@database_option
@click.option("--last-event-id", help="Replay up to and including this event id (wins).")
@click.option("--point-in-time", help="Replay events that occurred up to this ISO instant.")
@event_log_option()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--traceback", "show_traceback", is_flag=True, help=errors.TRACEBACK_HELP)
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
    "--from-archive",
    "archives",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Start from the events of this archive file (repeat: every file of the log), "
    "not from the latest snapshot.",
)
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
    show_traceback: bool,
    into: str | None,
    verify: bool,
    as_json: bool,
    archives: tuple[Path, ...],
    max_rows: int,
) -> None:
    """Delete the tracked records and rebuild them from the event log.

    Runs in one transaction: on failure nothing changes, and the error (the event, the action it
    replayed into, the cause) is printed on one line; exit status 1. With --into, the live
    database is only read and the rebuild goes to URL. With --verify, nothing is changed: the
    replay goes into a scratch database (removed afterwards) and is compared with the live tables.
    """
    from .commands import replay as command

    if verify:
        if archives:
            raise click.UsageError("--from-archive cannot be combined with --verify")
        command.verify(
            config_path,
            database_url,
            into,
            last_event_id,
            point_in_time,
            event_log,
            as_json=as_json,
            max_rows=max_rows,
            show_traceback=show_traceback,
        )
        return
    if as_json:
        raise click.UsageError("--json needs --verify")
    command.replay(
        config_path,
        database_url,
        last_event_id,
        point_in_time,
        event_log,
        yes,
        into,
        show_traceback=show_traceback,
        archives=archives,
    )


@main.command()
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
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Then keep printing new events as they are committed, until Ctrl-C.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.01),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="With --follow: how long to wait between polls of an idle log.",
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
    follow: bool,
    interval: float,
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
    New events as they come, one JSON object per line:
      eventspec events --follow --limit 10 --json
    """
    from .commands import events as command

    command.run(
        config_path,
        database_url,
        event_log,
        resource,
        record_id,
        action,
        actor,
        since,
        until,
        limit,
        as_json,
        show_all,
        wide,
        upcast,
        show_sensitive,
        follow,
        interval,
    )


@main.command()
@config_option
@database_option
@click.option("--json", "as_json", is_flag=True, help="Print the checks as a JSON list.")
def doctor(config_path: Path, database_url: str | None, as_json: bool) -> None:
    """Check a deployed project: the specs, the generated code, the database and its events.

    \b
    Each line is OK, WARN or FAIL:
      specs           the specs are valid
      generated code  the committed code is what the specs generate (`generate --check`)
      database        the database answers
      migrations      the database is at the migrations' head
      events LOG      events per resource and action, and the newest one
      actors LOG      events without an actor, in a log that records actors (WARN)
      records LOG     rows of tracked tables that no event is about (WARN)

    Exit code by the worst line: 0 all OK, 1 a WARN, 2 a FAIL.
    """
    from .commands import doctor as command

    command.run(config_path, database_url, as_json)


if __name__ == "__main__":
    main()


for _command in cli_data.COMMANDS:
    main.add_command(_command)

"""The CLI's commands over the life of the data: archive, erase, partitions and rotate-keys.

Declared here and added to the ``eventspec`` group by ``cli.py``; like it, click declarations over
the commands layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .commands import errors
from .options import config_option, database_option, event_log_option


@click.command()
@config_option
@database_option
@click.option("--before", required=True, metavar="ID|INSTANT", help="An event id or ISO instant.")
@click.option(
    "--to", required=True, type=click.Path(dir_okay=False, path_type=Path), help="New file."
)
@event_log_option("Which event log (default: the one with archive: true).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--traceback", "show_traceback", is_flag=True, help=errors.TRACEBACK_HELP)
def archive(
    config_path: Path, database_url: str | None, before: str, to: Path, **options: Any
) -> None:
    """Move the events before an event id or instant to a gzip JSON Lines archive file.

    First a snapshot of the state they built is stored, where replay starts from then; then the
    file is written, read back and checked; only then are the events deleted. On any failure
    nothing is deleted. Keep the file: it is the only copy of those events
    (`eventspec replay --from-archive FILE` replays from it).
    """
    from .commands import archive as command

    command.run(config_path, database_url, before, to, **options)


@click.command("rotate-keys")
@config_option
@database_option
@event_log_option("Which event log (default: the encrypted one).")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    metavar="N",
    default=500,
    show_default=True,
    help="Events per transaction.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be re-encrypted; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def rotate_keys(
    config_path: Path,
    database_url: str | None,
    event_log: str | None,
    batch_size: int,
    dry_run: bool,
    yes: bool,
) -> None:
    """Re-encrypt every event of an encrypted log with the current (first) key.

    \b
    1. Put the new key first in the log's key variable and keep the old ones after it:
       NEW,OLD. Give every process that reads or writes the log this list.
    2. Run `eventspec rotate-keys`.
    3. Remove the old keys from the variable.

    Each batch is committed on its own; events already under the current key are skipped, so
    an interrupted run is finished by running it again.
    """
    from .commands import rotate_keys as command

    command.run(config_path, database_url, event_log, batch_size, dry_run, yes)


@click.command()
@config_option
@database_option
@click.option("--ahead", type=click.IntRange(min=0), metavar="N", help="Partitions to keep ready.")
@click.option("--through", metavar="ISO|ID", help="Also cover this instant (or id, by id).")
def partitions(
    config_path: Path, database_url: str | None, ahead: int | None, through: str | None
) -> None:
    """Create the missing partitions of every partitioned event log (PostgreSQL).

    Each log gets N partitions (default: its spec's `ahead`) after the one holding now (or its
    highest id). Run it on a schedule, more often than that: an event past the last partition
    is refused. Prints what it created and how far each log's partitions reach.
    """
    from .commands import partitions as command

    command.run(config_path, database_url, ahead, through)


@click.command()
@config_option
@database_option
@event_log_option("Which event log (default: the one holding personal data).")
@click.option("--subject", required=True, help="The data subject, e.g. a user's id.")
@click.option("--reason", required=True, help="Why: recorded in the erase event's metadata.")
@click.option("--by", metavar="WHO", help="Who asked; recorded as erased_by.")
def erase(
    config_path: Path,
    database_url: str | None,
    event_log: str | None,
    subject: str,
    reason: str,
    by: str | None,
) -> None:
    """Erase a data subject: destroy its key, so its personal values become unreadable.

    Nulls the personal attributes of its records and writes an erase event, in one transaction;
    then purges old copies of the bytes (SQLite WAL checkpoint, PostgreSQL VACUUM). The events
    stay, and replay rebuilds the subject's records with null personal attributes.
    See docs/privacy.md.
    """
    from .commands import erase as command

    command.run(config_path, database_url, event_log, subject, reason, by)


COMMANDS = (archive, erase, partitions, rotate_keys)

"""Command-line options shared by the commands that read a project or touch its database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="eventspec.yaml",
    show_default=True,
    help="Project file to use.",
)
database_option = click.option(
    "--database-url",
    metavar="URL",
    help="Database URL; overrides EVENTSPEC_DATABASE_URL and database_url in eventspec.yaml.",
)


def event_log_option(
    help_text: str = "Which event log (when there are several).",
) -> Callable[[F], F]:
    return click.option("--event-log", "event_log", metavar="NAME", help=help_text)

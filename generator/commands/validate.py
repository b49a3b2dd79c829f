"""``eventspec validate``: check the specs and the event-schema lock, write nothing."""

from __future__ import annotations

from pathlib import Path

import click

from .database import load


def run(config_path: Path, accept_breaking: tuple[str, ...]) -> None:
    """Load the project (every error printed, exit 2 on any) and say how many specs are valid."""
    project = load(config_path, accept_breaking)
    count = len(project.resources) + len(project.event_logs) + len(project.embedded)
    click.echo(f"ok: {count} specs valid ({config_path})")

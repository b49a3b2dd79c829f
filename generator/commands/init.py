"""``eventspec init``: scaffold a new project folder."""

from __future__ import annotations

from pathlib import Path

import click

from ..scaffold import ScaffoldError, scaffold


def run(directory: Path, package: str | None) -> None:
    """Create the project files, or a usage error if one exists or the package name is bad."""
    try:
        created = scaffold(directory, package)
    except (FileExistsError, ScaffoldError) as error:
        raise click.UsageError(str(error)) from error
    for path in created:
        click.echo(f"created {path.as_posix()}")
    click.echo(f"next: cd {directory} && eventspec generate && alembic upgrade head")

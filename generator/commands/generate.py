"""``eventspec generate``: write the package, migrations and lock, or check they are current."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..migrations import SnapshotError
from ..plan import drift, make_plan, write
from .database import EXIT_INVALID, load

EXIT_DRIFT = 1


def run(
    config_path: Path,
    check: bool,
    dry_run: bool,
    name: str | None,
    allow_destructive: bool,
    accept_breaking: tuple[str, ...],
) -> None:
    """Plan every output file; write it, or (check, dry_run) only report what would change."""
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

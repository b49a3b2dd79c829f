"""``eventspec schema``: the JSON Schemas of the spec files, printed or written for editors.

``--write`` drops all four into the project (``.eventspec/schemas/`` unless told otherwise), and
``eventspec init`` does the same and starts every spec file it writes with a modeline that points
there, so an editor with the YAML language server checks and completes specs offline, against the
schemas of the eventspec version in use.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path, PurePosixPath

import click

SCHEMA_NAMES = ("project", "resource", "event_log", "embedded")
SCHEMA_DIR = PurePosixPath(".eventspec/schemas")  # relative to the folder of eventspec.yaml


def schema_text(name: str) -> str:
    from ..loader import load_schema

    return json.dumps(load_schema(name), indent=2) + "\n"


def schema_files(folder: PurePosixPath = SCHEMA_DIR) -> dict[Path, str]:
    """The four schema files, keyed by path (under ``folder``)."""
    return {Path(folder, f"{name}.json"): schema_text(name) for name in SCHEMA_NAMES}


def modeline(spec: PurePosixPath, kind: str) -> str:
    """The YAML language server's comment that names the schema of the spec file at ``spec``
    (a path relative to the project folder), relative to that file."""
    target = posixpath.relpath(SCHEMA_DIR / f"{kind}.json", spec.parent.as_posix() or ".")
    return f"# yaml-language-server: $schema={target}\n"


def run(name: str, write_to: Path | None) -> None:
    """Print the schema of ``name``, or write all four into ``write_to``."""
    if write_to is None:
        click.echo(schema_text(name), nl=False)
        return
    for path, text in schema_files(PurePosixPath(write_to.as_posix())).items():
        try:
            if path.exists() and path.read_text(encoding="utf-8") == text:
                click.echo(f"unchanged {path.as_posix()}")
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as error:
            raise click.ClickException(
                f"cannot write {path.as_posix()}: {error.strerror}"
            ) from None
        click.echo(f"wrote {path.as_posix()}")

"""``eventspec schema``: the JSON Schema of a spec kind, for editors' YAML plugins."""

from __future__ import annotations

import json

import click

from ..loader import load_schema


def run(name: str) -> None:
    """Print the schema of ``name`` (project, resource or event_log) as indented JSON."""
    click.echo(json.dumps(load_schema(name), indent=2))

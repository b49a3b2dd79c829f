"""``eventspec init``: a small working project to start from."""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath

import yaml

PROJECT = """\
# eventspec project file: https://github.com/eventspec/eventspec (docs/spec-reference.md)
package: {package}
output: {output}
specs: specs
migrations: migrations
database_url: sqlite:///{db}.db
"""

# Event logs in a folder of their own: an editor can map schemas by glob, specs/*.yaml to
# resource.json and specs/event_logs/*.yaml to event_log.json (the loader itself reads ``kind:``).
EVENT_LOG_DIR = PurePosixPath("specs/event_logs")

EVENT_LOG = """\
kind: event_log
name: Event
table: events
persist_actor_primary_key:
  user_id: {{actor: Author}}
public_fields: [id, occurred_at, resource, record_id, action, action_type, version, user_id]
"""

RESOURCE = """\
kind: resource
name: Author
table: authors
attributes:
  id: {type: uuid, primary_key: true, default: uuid4, writable: false}
  name: {type: string, allow_nil: false, constraints: {max_length: 200}}
  email: {type: string, allow_nil: false}
  created_at: {type: utc_datetime_usec, default: now, writable: false}
  updated_at: {type: utc_datetime_usec, default: now, update_default: now, writable: false}
identities:
  unique_email: [email]
actions:
  create:
    type: create
    accept: [name, email]
    validations:
      - match: {attribute: email, pattern: "^[^@]+@[^@]+$", message: must be an email address}
  update: {type: update, accept: [name]}
  destroy: {type: destroy}
events:
  event_log: Event
  create_timestamp: created_at
  update_timestamp: updated_at
"""


class ScaffoldError(ValueError):
    """An argument of ``init`` that the project could not use; nothing was written."""


def scaffold(directory: Path, package: str | None = None) -> list[Path]:
    """Write the starter files, each spec with a modeline naming its JSON Schema, and the
    schemas; refuse to overwrite an existing project."""
    from .build import package_problem
    from .commands.schema import modeline, schema_files
    from .migrations.scaffold import scaffold_alembic

    if (directory / "eventspec.yaml").exists():
        raise FileExistsError(f"{directory / 'eventspec.yaml'} exists already")
    name = re.sub(r"\W", "_", directory.resolve().name.lower(), flags=re.ASCII).strip("_")
    name = name or "app"
    if not name[0].isalpha():
        name = f"app_{name}"
    package = f"{name}_data" if package is None else package
    problem = package_problem(package)  # the rule eventspec.yaml's package is checked by
    if problem is not None:
        raise ScaffoldError(f"--package {package!r} {problem}")
    output = package.replace(".", "/")
    project = PROJECT.format(package=_yaml(package), output=_yaml(output), db=name)  # name: \w+
    specs = {
        PurePosixPath("eventspec.yaml"): ("project", project),
        EVENT_LOG_DIR / "event.yaml": ("event_log", EVENT_LOG.format()),
        PurePosixPath("specs/author.yaml"): ("resource", RESOURCE),
    }
    files = {Path(rel): modeline(rel, kind) + text for rel, (kind, text) in specs.items()}
    files.update(schema_files())  # what the modelines point at
    files.update(scaffold_alembic(directory, package, "migrations"))
    created = []
    for rel, text in sorted(files.items()):
        path = directory / rel
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        created.append(path)
    return created


def _yaml(text: str) -> str:
    """``text`` as a YAML scalar: plain when YAML reads it back as the same string."""
    try:
        if yaml.safe_load(text) == text and "#" not in text:
            return text
    except yaml.YAMLError:
        pass
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar

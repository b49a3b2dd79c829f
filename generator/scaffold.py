"""``eventspec init``: a small working project to start from."""

from __future__ import annotations

import re
from pathlib import Path

PROJECT = """\
# eventspec project file: https://github.com/eventspec/eventspec (docs/spec-reference.md)
package: {package}
output: {output}
specs: specs
migrations: migrations
database_url: sqlite:///{db}.db
"""

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


def scaffold(directory: Path, package: str | None = None) -> list[Path]:
    """Write the starter files; refuse to overwrite an existing project."""
    from .migrations.scaffold import scaffold_alembic

    if (directory / "eventspec.yaml").exists():
        raise FileExistsError(f"{directory / 'eventspec.yaml'} exists already")
    name = re.sub(r"\W", "_", directory.resolve().name.lower()).strip("_") or "app"
    if not name[0].isalpha():
        name = f"app_{name}"
    package = package or f"{name}_data"
    output = package.replace(".", "/")
    files: dict[Path, str] = {
        Path("eventspec.yaml"): PROJECT.format(package=package, output=output, db=name),
        Path("specs/event_log.yaml"): EVENT_LOG.format(),
        Path("specs/author.yaml"): RESOURCE,
    }
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

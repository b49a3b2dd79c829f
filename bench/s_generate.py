"""Scenario 7: ``eventspec generate`` on a generated 200-resource spec, and a no-op check.

Both run the in-process pipeline (``load_project`` + ``render_package``); the generate run
writes every file into an empty output folder, the no-op check renders again and compares each
file with what is on disk. The full CLI plan (``make_plan``, which adds migrations) is timed too
when it works.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from eventspec.loader import load_project
from eventspec.render import environment, render_package

from bench.harness import Contender, Row, measure, rows

CONFIG = """\
package: things.data
output: src/things/data
specs: specs
migrations: migrations
database_url: sqlite:///things.db
"""

EVENT_LOG = """\
kind: event_log
name: Event
table: events
"""

RESOURCE = """\
kind: resource
name: Thing{i:03d}
table: thing_{i:03d}
attributes:
  id: {{type: uuid, primary_key: true, default: uuid4, writable: false}}
  name: {{type: string, allow_nil: false, constraints: {{max_length: 200}}}}
  quantity: {{type: integer, default: 0}}
  status: {{type: enum, values: [draft, active, archived], default: draft}}
  note: text
  created_at: {{type: utc_datetime_usec, default: now, writable: false}}
  updated_at: {{type: utc_datetime_usec, default: now, update_default: now, writable: false}}
{relationships}actions:
  create:
    type: create
    accept: [name, quantity, note{parent_input}]
    validations:
      - present: [name]
  update: {{type: update, accept: [name, quantity, status, note]}}
  archive:
    type: update
    changes:
      - set_attribute: {{attribute: status, value: archived}}
  destroy: {{type: destroy}}
events:
  event_log: Event
  create_timestamp: created_at
  update_timestamp: updated_at
"""


def write_project(folder: Path, resources: int) -> Path:
    """A project of ``resources`` resources, each belonging to the previous one."""
    (folder / "specs").mkdir(parents=True)
    (folder / "eventspec.yaml").write_text(CONFIG)
    (folder / "specs" / "event_log.yaml").write_text(EVENT_LOG)
    for i in range(resources):
        relationships = (
            f"relationships:\n  parent: {{type: belongs_to, destination: Thing{i - 1:03d}}}\n"
            if i
            else ""
        )
        text = RESOURCE.format(
            i=i, relationships=relationships, parent_input=", parent_id" if i else ""
        )
        (folder / "specs" / f"thing_{i:03d}.yaml").write_text(text)
    return folder / "eventspec.yaml"


def _render(config: Path) -> tuple[Path, dict[str, str]]:
    project, diagnostics = load_project(config)
    if project is None:
        raise RuntimeError("\n".join(str(d) for d in diagnostics[:5]))
    return project.root / project.output, render_package(project, environment())


def _write(folder: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _unchanged(folder: Path, files: dict[str, str]) -> bool:
    return all((folder / rel).read_text(encoding="utf-8") == text for rel, text in files.items())


def _full_plan(config: Path) -> Callable[[int], None]:
    from eventspec.plan import drift, make_plan

    def check(_n: int) -> None:
        project, _ = load_project(config)
        assert project is not None
        drift(make_plan(project))

    return check


def run(resources: int, repeats: int, *, detail: bool = True) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="eventspec-bench-generate-") as tmp:
        config = write_project(Path(tmp), resources)
        output, files = _render(config)

        def wipe() -> None:
            shutil.rmtree(output, ignore_errors=True)

        def ensure_written() -> None:
            if not output.exists():
                _write(output, files)

        def generate(_n: int) -> None:
            folder, rendered = _render(config)
            _write(folder, rendered)

        def check(_n: int) -> None:
            folder, rendered = _render(config)
            if not _unchanged(folder, rendered):
                raise RuntimeError("the no-op check found changes: rendering is not deterministic")

        def load_only(_n: int) -> None:
            load_project(config)

        project, _ = load_project(config)
        assert project is not None

        def render_only(_n: int) -> None:
            render_package(project, environment())

        entries = [
            Contender("generate: load + render + write", generate, wipe),
            Contender("no-op check: load + render + compare", check, ensure_written),
        ]
        note = f"{len(files)} files"
        if detail:
            entries.append(Contender("  of which load_project", load_only))
            entries.append(Contender("  of which render_package", render_only))
            try:
                plan = _full_plan(config)
                plan(1)
            except Exception as error:  # the CLI's migration planner may be unfinished
                note += f"; make_plan not timed: {type(error).__name__}: {error}"[:200]
            else:
                entries.append(Contender("CLI plan + drift (make_plan, with migrations)", plan))
        times = measure(entries, n=1, repeats=repeats, warmup=0)
    out = rows(
        f"7 generate ({resources} resources)",
        "-",
        entries,
        times,
        ops=resources,
        unit="resources",
        baseline=None,
    )
    out[0].note = note
    return out

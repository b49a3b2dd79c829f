"""Property: after any sequence of compatible spec changes, replay rebuilds the live state.

A random history is written under version 1 of a spec; then, step by step, the spec evolves in
ways `generate` accepts without a break (a rename with `renamed_from`, a new optional input, a new
action, a version bump whose upcaster moves a dropped input into changed_attributes). After every
step the project is regenerated, migrated with alembic, written to through the new actions, and
replayed: the replayed rows must equal the live ones. On SQLite and PostgreSQL.

`make test` runs a few short examples; `pytest -m slow` runs many longer ones.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import MetaData, create_engine, select
from sqlalchemy.orm import Session

from tests.test_models import unload
from tests.test_rename_replay import Project

WORDS = st.sampled_from(["Acme", "Globex", "Initech", "Hooli", "Umbrella"])
NUMBERS = st.one_of(st.none(), st.integers(min_value=-5, max_value=500))


@dataclass
class Spec:
    """The evolving Org spec: attributes (name -> type, required, renamed_from) and actions."""

    attributes: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "name": {"type": "string", "required": True},
            "size": {"type": "integer", "required": False},
        }
    )
    create: list[str] = field(default_factory=lambda: ["name", "size"])
    update: list[str] = field(default_factory=lambda: ["name", "size"])
    touches: dict[str, list[str]] = field(default_factory=dict)
    version: int = 1
    upcasters: dict[int, list[str]] = field(default_factory=dict)  # from_version: moved keys
    counter: int = 0

    def yaml(self) -> str:
        lines = [
            "kind: resource",
            "name: Org",
            "attributes:",
            "  id: {type: uuid, primary_key: true, default: uuid4, writable: false}",
        ]
        for name, attr in self.attributes.items():
            options = [f"type: {attr['type']}"]
            if attr["required"]:
                options.append("allow_nil: false")
            if attr.get("renamed_from"):
                options.append(f"renamed_from: {attr['renamed_from']}")
            lines.append(f"  {name}: {{{', '.join(options)}}}")
        lines += [
            "actions:",
            f"  create: {{type: create, accept: [{', '.join(self.create)}]}}",
            f"  update: {{type: update, accept: [{', '.join(self.update)}]}}",
            "  destroy: {type: destroy}",
        ]
        lines += [
            f"  {name}: {{type: update, accept: [{', '.join(accept)}]}}"
            for name, accept in self.touches.items()
        ]
        lines += ["events:", "  event_log: Event"]
        if self.version > 1:
            lines.append(f"  current_action_versions: {{create: {self.version}}}")
        if self.upcasters:
            lines += ["  upcasters:", "    create:"]
            for version, keys in sorted(self.upcasters.items()):
                steps = ", ".join(f"{{move: {{key: {k}, to: changed_attributes}}}}" for k in keys)
                lines += [f"      - from_version: {version}", f"        steps: [{steps}]"]
        return "\n".join(lines) + "\n"

    def optional(self, names: list[str]) -> list[str]:
        return [n for n in names if not self.attributes[n]["required"]]

    # --- compatible evolution steps --------------------------------------------------------

    def rename(self, old: str) -> None:
        self.counter += 1
        new = f"{old}_{self.counter}"
        self.attributes = {
            (new if k == old else k): ({**v, "renamed_from": old} if k == old else v)
            for k, v in self.attributes.items()
        }
        for names in (self.create, self.update, *self.touches.values()):
            names[:] = [new if n == old else n for n in names]
        for keys in self.upcasters.values():  # upcaster steps use current names
            keys[:] = [new if k == old else k for k in keys]

    def add_optional(self) -> None:
        self.counter += 1
        name = f"extra_{self.counter}"
        self.attributes[name] = {"type": "integer", "required": False}
        self.create.append(name)
        self.update.append(name)

    def add_action(self, accept: list[str]) -> None:
        self.counter += 1
        self.touches[f"touch_{self.counter}"] = accept

    def bump(self, dropped: str) -> None:
        self.upcasters[self.version] = [dropped]
        self.version += 1
        self.create.remove(dropped)

    def renamable(self) -> list[str]:
        return [n for n, a in self.attributes.items() if not a.get("renamed_from")]


def evolve(data: Any, spec: Spec) -> str:
    choices = ["add_optional", "add_action"]
    if spec.renamable():
        choices.append("rename")
    if spec.optional(spec.create):
        choices.append("bump")
    kind = data.draw(st.sampled_from(choices), label="evolution")
    if kind == "rename":
        spec.rename(data.draw(st.sampled_from(spec.renamable()), label="renamed"))
    elif kind == "add_optional":
        spec.add_optional()
    elif kind == "add_action":
        optional = spec.optional(list(spec.attributes))
        spec.add_action(data.draw(st.lists(st.sampled_from(optional), unique=True, min_size=1)))
    else:
        spec.bump(data.draw(st.sampled_from(spec.optional(spec.create)), label="dropped"))
    return kind


def write_history(data: Any, spec: Spec, project: Project, url: str, length: int) -> None:
    orgs = project.module("actions.org")
    models = project.module("models")
    engine = create_engine(url)
    try:
        for _ in range(data.draw(st.integers(min_value=1, max_value=length), label="ops")):
            with Session(engine) as session, session.begin():
                records = list(session.scalars(select(models.Org).order_by(models.Org.id)))
                kind = data.draw(
                    st.sampled_from(
                        ["create", "update", "touch", "destroy"] if records else ["create"]
                    )
                )
                if kind == "create":
                    orgs.create(session, **values(data, spec, spec.create))
                    continue
                record = records[data.draw(st.integers(0, len(records) - 1))]
                if kind == "update":
                    orgs.update(session, record, **values(data, spec, spec.update))
                elif kind == "touch" and spec.touches:
                    name = data.draw(st.sampled_from(sorted(spec.touches)))
                    getattr(orgs, name)(session, record, **values(data, spec, spec.touches[name]))
                elif kind == "destroy":
                    orgs.destroy(session, record)
    finally:
        engine.dispose()


def values(data: Any, spec: Spec, names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        attr = spec.attributes[name]
        if attr["type"] == "string":
            out[name] = data.draw(WORDS)
        else:
            out[name] = data.draw(NUMBERS)
    return out


def replay_matches_live(project: Project, url: str) -> None:
    models = project.module("models")
    replay = project.module("replay")
    engine = create_engine(url)
    try:
        columns = list(models.Org.__table__.columns)

        def state() -> list[tuple[Any, ...]]:
            with Session(engine) as session:
                return [tuple(r) for r in session.execute(select(*columns).order_by(columns[0]))]

        live = state()
        with Session(engine) as session, session.begin():
            replay.replay(session)
        assert state() == live
    finally:
        engine.dispose()


def reset(url: str) -> None:
    engine = create_engine(url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        metadata.drop_all(engine)
    finally:
        engine.dispose()


def run_evolution(data: Any, url: str, steps: int, length: int) -> None:
    reset(url)
    spec = Spec()
    with tempfile.TemporaryDirectory() as folder:
        project = Project(Path(folder), url, spec.yaml())
        try:
            project.generate()
            project.migrate()
            write_history(data, spec, project, url, length)
            for _ in range(data.draw(st.integers(min_value=1, max_value=steps), label="steps")):
                evolve(data, spec)
                (Path(folder) / "specs" / "org.yaml").write_text(spec.yaml())
                unload(project.package)
                project.generate()  # a compatible change: no ES3xx error
                project.migrate()
                write_history(data, spec, project, url, length)
                replay_matches_live(project, url)
        finally:
            unload(project.package)


COMMON = {
    "deadline": None,
    "derandomize": False,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


@settings(max_examples=3, **COMMON)
@given(data=st.data())
def test_replay_equals_live_state_after_compatible_evolutions(database_url: str, data: Any) -> None:
    run_evolution(data, database_url, steps=3, length=4)


@pytest.mark.slow
@settings(max_examples=40, **COMMON)
@given(data=st.data())
def test_replay_equals_live_state_after_long_compatible_evolutions(
    database_url: str, data: Any
) -> None:
    run_evolution(data, database_url, steps=6, length=10)

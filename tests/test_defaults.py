"""Defaults: a model's own default and its action's default are one rendering, so they agree.

Through the generated code, on both databases: a row the model fills by itself (a plain
``session.add``) holds what the column stores, and what an action writes, for ``now`` of a
second-precision timestamp and for empty and filled containers.
"""

from __future__ import annotations

import datetime as dt
import importlib
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from eventspec import ir
from eventspec.defaults import default_source, literal
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.projects import generated_package

SPEC = """\
kind: event_log
name: Event
---
kind: resource
name: Note
attributes:
  id: {type: uuid, primary_key: true, default: uuid4, writable: false}
  title: string
  stamped_at: {type: utc_datetime, default: now, update_default: now}
  tags: {type: {array: string}, default: []}
  scores: {type: {array: integer}, default: [1, 2]}
  extra: {type: map, default: {}}
actions:
  create: {type: create, accept: [title]}
events: {event_log: Event}
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    name = f"defaults_{uuid.uuid4().hex[:8]}"
    with generated_package(tmp_path_factory.mktemp("defaults"), name, {"notes.yaml": SPEC}):
        yield SimpleNamespace(
            models=importlib.import_module(f"{name}.data.models"),
            notes=importlib.import_module(f"{name}.data.actions.note"),
        )


@pytest.fixture
def notes(package: SimpleNamespace, engine: Engine) -> SimpleNamespace:
    package.models.Base.metadata.create_all(engine)
    return SimpleNamespace(**vars(package), engine=engine)


def test_a_model_default_holds_what_its_column_stores(notes: SimpleNamespace) -> None:
    with Session(notes.engine) as session:
        first, second = notes.models.Note(title="a"), notes.models.Note(title="b")
        session.add_all([first, second])
        session.flush()  # the defaults fill the objects as they fill the rows
        held = (first.stamped_at, first.tags, first.scores, first.extra)
        assert held[0].microsecond == 0, "utc_datetime keeps whole seconds"
        assert first.tags is not second.tags and first.scores is not second.scores
        first.tags.append("mine")
        assert second.tags == [], "each row has a list of its own"
        session.expire_all()
        stored = session.scalars(select(notes.models.Note).where(notes.models.Note.title == "a"))
        row = stored.one()
        assert (row.stamped_at, row.tags, row.scores, row.extra) == (held[0], [], [1, 2], {})


def test_an_action_writes_the_same_defaults(notes: SimpleNamespace) -> None:
    with Session(notes.engine) as session, session.begin():
        note = notes.notes.create(session, title="a")
        made = notes.models.Note(title="b")
        session.add(made)
        session.flush()
        for name in ("tags", "scores", "extra"):
            assert getattr(note, name) == getattr(made, name)
            assert type(getattr(note, name)) is type(getattr(made, name))
        assert note.stamped_at.microsecond == 0 == made.stamped_at.microsecond


def test_one_renderer_serves_models_and_actions() -> None:
    stamp = ir.TypeRef("utc_datetime")
    assert default_source(ir.Default("now"), stamp).text == "utcnow_seconds"
    assert default_source(ir.Default("now"), ir.TypeRef("utc_datetime_usec")).text == "utcnow"
    empty = default_source(ir.Default("literal", ()), ir.TypeRef("array", item=ir.TypeRef("text")))
    assert (empty.text, empty.factory) == ("list", "list")
    full = default_source(ir.Default("literal", (1, 2)), ir.TypeRef("array"))
    assert full.factory == "lambda: [1, 2]"
    one = default_source(ir.Default("literal", 1), ir.TypeRef("integer"))
    assert (one.text, one.factory) == ("1", "lambda: 1")
    day = literal(dt.date(2024, 2, 29), ir.TypeRef("date"))
    assert (day.text, day.imports) == ("datetime.date(2024, 2, 29)", frozenset({("", "datetime")}))

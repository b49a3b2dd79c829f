"""Replay's fast path (``_fold.py``): pages folded in memory must rebuild what the ORM path does.

A project generated for these tests has what the fold has to get right: a table that references
itself (ON DELETE SET NULL), a foreign key with ON DELETE CASCADE, a unique name, and a change
that reads ``changeset.record``. Each test checks the state replay rebuilds against the state the
actions built, and which path wrote each page.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from eventspec.loader import load_project
from eventspec.plan import make_plan, write
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from tests.test_replay import snapshot

SPECS = {
    "folder.yaml": """
        kind: resource
        name: Folder
        attributes:
          id: {type: uuid, primary_key: true, default: uuid4, writable: false}
          name: {type: string, allow_nil: false}
        identities:
          unique_name: [name]
        relationships:
          parent: {type: belongs_to, destination: Folder, on_delete: set_null}
        actions:
          create: {type: create, accept: [name, parent_id]}
          rename: {type: update, accept: [name]}
          destroy: {type: destroy}
        events: {event_log: Event}
    """,
    "note.yaml": """
        kind: resource
        name: Note
        attributes:
          id: {type: uuid, primary_key: true, default: uuid4, writable: false}
          body: {type: string}
          edits: {type: integer, default: 0}
        relationships:
          folder: {type: belongs_to, destination: Folder, on_delete: cascade}
        actions:
          create: {type: create, accept: [body, folder_id]}
          edit:
            type: update
            accept: [body]
            changes:
              - call: PACKAGE.changes:count_edit
          destroy: {type: destroy}
        events: {event_log: Event}
    """,
    "event_log.yaml": """
        kind: event_log
        name: Event
    """,
}

CHANGES = '''
"""Custom changes of the fold tests: one reads ``changeset.record``, as user code may."""

from typing import Any

SEEN: list[Any] = []


def count_edit(changeset: Any) -> None:
    record = changeset.record
    SEEN.append((type(record).__name__, record.body, changeset.replaying))
    changeset.attributes["edits"] = (record.edits or 0) + 1
'''


@pytest.fixture
def shop(tmp_path: Path, engine: Engine) -> Iterator[SimpleNamespace]:
    """A generated package of Folder and Note, its tables created on ``engine``."""
    package = f"foldshop_{uuid.uuid4().hex[:8]}"
    (tmp_path / "specs").mkdir()
    for name, text in SPECS.items():
        spec = textwrap.dedent(text).replace("PACKAGE", package)
        (tmp_path / "specs" / name).write_text(spec, encoding="utf-8")
    (tmp_path / "eventspec.yaml").write_text(
        f"package: {package}.data\noutput: src/{package}/data\nspecs: specs\n"
        "migrations: migrations\n",
        encoding="utf-8",
    )
    project, diagnostics = load_project(tmp_path / "eventspec.yaml")
    assert project is not None, [d.render() for d in diagnostics]
    write(make_plan(project))
    (tmp_path / "src" / package / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "src" / package / "changes.py").write_text(CHANGES, encoding="utf-8")
    sys.path.insert(0, str(tmp_path / "src"))
    try:
        modules = {
            name: importlib.import_module(f"{package}.{name}")
            for name in ("changes", "data.models", "data.replay", "data._replay")
        }
        folders = importlib.import_module(f"{package}.data.actions.folder")
        notes = importlib.import_module(f"{package}.data.actions.note")
    finally:
        sys.path.remove(str(tmp_path / "src"))
    models: ModuleType = modules["data.models"]
    models.Base.metadata.create_all(engine)
    yield SimpleNamespace(
        engine=engine,
        models=models,
        folders=folders,
        notes=notes,
        seen=modules["changes"].SEEN,
        replay=modules["data.replay"].replay,
        orm_pages=_spy_orm_pages(modules["data._replay"]),
    )
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]


def _spy_orm_pages(replay_module: ModuleType) -> list[int]:
    """Count the pages replayed through the ORM path (the fold's fallback)."""
    calls: list[int] = []
    original = replay_module._replay_page

    def spy(session: Session, routed: Any) -> Any:
        calls.append(len(routed))
        return original(session, routed)

    replay_module._replay_page = spy
    return calls


def state(shop: SimpleNamespace) -> dict[str, list[Any]]:
    with Session(shop.engine) as session:
        return snapshot(session, (shop.models.Folder, shop.models.Note))


def replay(shop: SimpleNamespace, **options: Any) -> Any:
    with Session(shop.engine) as session, session.begin():
        return shop.replay(session, **options)


def test_folded_pages_rebuild_parents_children_and_cascades(shop: SimpleNamespace) -> None:
    with Session(shop.engine) as session, session.begin():
        root = shop.folders.create(session, name="root")
        child = shop.folders.create(session, name="child", parent_id=root.id)
        gone = shop.folders.create(session, name="gone", parent_id=root.id)
        kept = shop.notes.create(session, body="kept", folder_id=child.id)
        cascaded = shop.notes.create(session, body="cascaded", folder_id=gone.id)
        shop.notes.edit(session, kept, body="kept, edited")
        shop.folders.rename(session, child, name="child, renamed")
        shop.folders.destroy(session, gone)  # the database deletes `cascaded` with it
        short_lived = shop.notes.create(session, body="short-lived", folder_id=root.id)
        shop.notes.destroy(session, short_lived)
        cascaded_id = cascaded.id
    built = state(shop)
    assert cascaded_id not in {row[0] for row in built["Note"]}

    for batch_size in (1000, 3, 1):  # the whole log in one page, pages across it, event by event
        result = replay(shop, batch_size=batch_size)
        assert state(shop) == built, batch_size
        assert result.applied == 10 and not result.warnings
    assert shop.orm_pages == []  # every page was folded


def test_rows_the_database_changes_on_delete_are_read_again(shop: SimpleNamespace) -> None:
    with Session(shop.engine) as session, session.begin():
        parent = shop.folders.create(session, name="parent")
        child = shop.folders.create(session, name="child", parent_id=parent.id)
        shop.folders.destroy(session, parent)  # the database sets child.parent_id to NULL
        shop.folders.rename(session, child, name="orphan")  # must not bring parent_id back
    built = state(shop)
    assert [row[2] for row in built["Folder"]] == [None]
    for batch_size in (1000, 2):  # created and deleted in one page, or across pages
        result = replay(shop, batch_size=batch_size)
        assert state(shop) == built, batch_size
        assert result.applied == 4 and not result.warnings
    assert shop.orm_pages == []


def test_a_page_the_fold_cannot_write_is_replayed_through_the_orm(shop: SimpleNamespace) -> None:
    # Two rows of an earlier page swap names: the fold sets each row's final name in one
    # executemany, the unique index refuses the first, and that page goes event by event.
    with Session(shop.engine) as session, session.begin():
        a = shop.folders.create(session, name="a")
        b = shop.folders.create(session, name="b")
        shop.folders.create(session, name="c")
        shop.folders.rename(session, a, name="swap")  # page 2
        shop.folders.rename(session, b, name="a")
        shop.folders.rename(session, a, name="b")
        shop.folders.create(session, name="d")  # page 3
    built = state(shop)
    replay(shop, batch_size=3)
    assert state(shop) == built
    assert shop.orm_pages == [3]  # page 2 only: page 3 was folded again


def test_code_reading_the_record_gets_the_orm_object_as_of_its_event(
    shop: SimpleNamespace,
) -> None:
    with Session(shop.engine) as session, session.begin():
        folder = shop.folders.create(session, name="f")
        note = shop.notes.create(session, body="v1", folder_id=folder.id)
        shop.notes.edit(session, note, body="v2")
        shop.notes.edit(session, note, body="v3")
        note_id = note.id
    built = state(shop)
    shop.seen.clear()
    replay(shop)
    assert state(shop) == built and shop.orm_pages == []
    # Each edit saw the real record, with the body (and edit count) the edit before it left.
    assert shop.seen == [("Note", "v1", True), ("Note", "v2", True)]
    with Session(shop.engine) as session:
        assert session.get(shop.models.Note, note_id).edits == 2


def test_orm_listeners_send_replay_through_the_orm(shop: SimpleNamespace) -> None:
    with Session(shop.engine) as session, session.begin():
        folder = shop.folders.create(session, name="f")
        shop.folders.rename(session, folder, name="g")
        brief = shop.folders.create(session, name="brief")
        shop.folders.destroy(session, brief)  # deleted in the page that created it
    built = state(shop)
    inserted: list[str] = []

    def listener(_mapper: Any, _connection: Any, target: Any) -> None:
        inserted.append(target.name)

    event.listen(shop.models.Folder, "before_insert", listener)
    try:
        replay(shop)
    finally:
        event.remove(shop.models.Folder, "before_insert", listener)
    assert state(shop) == built
    assert len(inserted) == 2  # the listener saw the inserts, as it would outside replay
    assert shop.orm_pages == [4]

"""Attribute multitenancy is a boundary: identities, upserts and updates stay inside a tenant.

The scenarios of AshEvents' own tenancy tests, on a project generated for this module: a folder
name is unique per workspace, tenant B's upsert never touches tenant A's folder, the second upsert
in one tenant updates (it is not an ``IntegrityError``), and a tenant given as text is cast to the
tenant attribute's type.
"""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eventspec.loader import load_project
from eventspec.plan import make_plan, write
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

SPECS = {
    "eventspec.yaml": """\
package: {package}
output: src/{folder}
specs: specs
migrations: migrations
database_url: sqlite:///tenancy.db
""",
    "specs/event.yaml": """\
kind: event_log
name: Event
""",
    "specs/folder.yaml": """\
kind: resource
name: Folder
multitenancy: {strategy: attribute, attribute: workspace_id}
attributes:
  id: {type: uuid, primary_key: true, default: uuid4}
  workspace_id: {type: uuid, allow_nil: false}
  name: {type: string, allow_nil: false}
  color: string
identities:
  unique_name: [name]
actions:
  create: {type: create, accept: [name, color]}
  upsert: {type: create, accept: [name, color], upsert: {identity: unique_name}}
  recolor: {type: update, accept: [color]}
  destroy: {type: destroy}
events:
  event_log: Event
""",
    "specs/board.yaml": """\
kind: resource
name: Board
multitenancy: {strategy: attribute, attribute: org_id}
attributes:
  id: {type: uuid, primary_key: true, default: uuid4}
  org_id: {type: big_integer, allow_nil: false}
  title: {type: string, allow_nil: false}
identities:
  unique_title: [org_id, title]
actions:
  create: {type: create, accept: [title]}
  upsert: {type: create, accept: [title], upsert: {identity: unique_title}}
  rename: {type: update, accept: [title]}
events:
  event_log: Event
""",
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """The project above, generated and importable; (its root, its package)."""
    root = tmp_path_factory.mktemp("tenancy")
    package = f"tenancy_{uuid.uuid4().hex[:8]}.data"
    for name, text in SPECS.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            text.replace("{package}", package).replace("{folder}", package.replace(".", "/"))
        )
    project, diagnostics = load_project(root / "eventspec.yaml")
    assert project is not None, [d.render() for d in diagnostics]
    write(make_plan(project))
    (root / "src" / package.split(".")[0] / "__init__.py").touch()
    sys.path.insert(0, str(root / "src"))
    try:
        yield root, package
    finally:
        sys.path.remove(str(root / "src"))
        top = package.split(".")[0]
        for module in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
            del sys.modules[module]


@pytest.fixture
def pkg(generated: tuple[Path, str], engine: Engine) -> Iterator[Any]:
    """The generated modules (models, the actions of both resources, replay); tables created."""
    package = generated[1]
    models = importlib.import_module(f"{package}.models")
    models.Base.metadata.create_all(engine)

    class Modules:
        pass

    modules: Any = Modules()
    modules.models = models
    modules.folders = importlib.import_module(f"{package}.actions.folder")
    modules.boards = importlib.import_module(f"{package}.actions.board")
    modules.replay = importlib.import_module(f"{package}.replay")
    modules.errors = importlib.import_module(f"{package}.errors")
    modules.engine = importlib.import_module(f"{package}._engine")
    yield modules


def session_of(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)


A = uuid.UUID("0000000a-0000-4000-8000-00000000000a")
B = uuid.UUID("0000000b-0000-4000-8000-00000000000b")


def test_identities_are_unique_per_tenant_in_models_and_migrations(
    generated: tuple[Path, str],
) -> None:
    root, package = generated
    models = (root / "src" / package.replace(".", "/") / "models.py").read_text()
    assert 'UniqueConstraint("workspace_id", "name", name="uq_folders_unique_name")' in models
    # Named in the spec already: not repeated.
    assert 'UniqueConstraint("org_id", "title", name="uq_boards_unique_title")' in models
    (migration,) = (root / "migrations" / "versions").glob("*.py")
    assert 'sa.UniqueConstraint("workspace_id", "name", name="uq_folders_unique_name")' in (
        migration.read_text()
    )


def test_the_same_name_in_two_tenants(pkg: Any, engine: Engine) -> None:
    folders, Folder = pkg.folders, pkg.models.Folder
    with session_of(engine) as session, session.begin():
        a = folders.create(session, name="inbox", tenant=A)
        b = folders.create(session, name="inbox", tenant=B)
        with pytest.raises(IntegrityError):
            folders.create(session, name="inbox", tenant=A)
    assert (a.workspace_id, b.workspace_id) == (A, B)
    with session_of(engine) as session:
        assert session.scalar(select(func.count()).select_from(Folder)) == 2


def test_an_upsert_stays_in_its_tenant(pkg: Any, engine: Engine) -> None:
    folders, Folder, Event = pkg.folders, pkg.models.Folder, pkg.models.Event
    with session_of(engine) as session, session.begin():
        a = folders.upsert(session, name="x", color="red", tenant=A)
        b = folders.upsert(session, name="x", color="blue", tenant=B)  # never tenant A's record
        again = folders.upsert(session, name="x", color="green", tenant=A)  # updates, no error
    assert a.id != b.id and again.id == a.id
    with session_of(engine) as session:
        rows = session.execute(select(Folder.workspace_id, Folder.color)).all()
        assert sorted(rows, key=lambda row: str(row[0])) == [(A, "green"), (B, "blue")]
        events = session.scalars(select(Event).order_by(Event.id)).all()
        assert [(e.record_id, e.action_type) for e in events] == [
            (a.id, "create"),
            (b.id, "create"),
            (a.id, "create"),
        ]
        assert events[1].changed_attributes["workspace_id"] == str(B)
    with session_of(engine) as session, session.begin():  # the log replays to the same state
        pkg.replay.replay(session)
    with session_of(engine) as session:
        assert sorted(
            session.execute(select(Folder.workspace_id, Folder.color)).all(),
            key=lambda row: str(row[0]),
        ) == [(A, "green"), (B, "blue")]


def test_a_tenant_given_as_text_is_the_same_tenant(pkg: Any, engine: Engine) -> None:
    folders, boards, errors = pkg.folders, pkg.boards, pkg.errors
    with session_of(engine) as session, session.begin():
        folder = folders.create(session, name="docs", tenant=str(A))
        assert folder.workspace_id == A
        folders.recolor(session, folder, color="red", tenant=str(A))
        folders.recolor(session, folder, color="blue", tenant=A)
        assert folders.upsert(session, name="docs", tenant=str(A)).id == folder.id
        with pytest.raises(errors.ValidationError, match="another tenant"):
            folders.recolor(session, folder, color="black", tenant=str(B))
        with pytest.raises(errors.ValidationError, match="not a valid uuid"):
            folders.create(session, name="bad", tenant="acme")
        board = boards.create(session, title="Plan", tenant="42")
        assert board.org_id == 42
        boards.rename(session, board, title="Plan B", tenant=42)
        assert boards.upsert(session, title="Plan B", tenant="42").id == board.id
        with pytest.raises(errors.ValidationError, match="another tenant"):
            boards.rename(session, board, title="Stolen", tenant="43")
        with pytest.raises(errors.ValidationError, match="not a valid big_integer"):
            boards.create(session, title="Bad", tenant="4.2")
    with session_of(engine) as session:
        assert session.get_one(pkg.models.Folder, folder.id).color == "blue"
        assert session.get_one(pkg.models.Board, board.id).title == "Plan B"


def test_a_tenant_is_required_on_every_action(pkg: Any, engine: Engine) -> None:
    folders, errors = pkg.folders, pkg.errors
    with session_of(engine) as session, session.begin():
        folder = folders.create(session, name="kept", tenant=A)
        required = pytest.raises(errors.ValidationError, match="a tenant is required")
        with required:
            folders.upsert(session, name="kept")
        with required:
            folders.recolor(session, folder, color="red")
        with required:
            folders.destroy(session, folder)
        with required:
            folders.create_many(session, [{"name": "many"}])
        with pytest.raises(errors.ValidationError, match="another tenant"):
            folders.destroy(session, folder, tenant=B)
        folders.destroy(session, folder, tenant=A)


def test_cast_tenant_by_type(pkg: Any) -> None:
    engine_module = pkg.engine
    resource = pkg.folders.RESOURCE
    assert engine_module.cast_tenant(resource, str(A).upper()) == A
    boards = pkg.boards.RESOURCE
    assert engine_module.cast_tenant(boards, "-7") == -7
    for bad in (True, 1.5, "", "+-5", "4.2", uuid.uuid4()):
        with pytest.raises(pkg.errors.ValidationError, match="not a valid big_integer"):
            engine_module.cast_tenant(boards, bad)

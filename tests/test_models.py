"""models.py: rendered from IR built by hand, imported, mapped, and created on both databases."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from eventspec import ir
from eventspec.diagnostics import Origin, Source
from eventspec.render import environment
from eventspec.render_models import render_models
from eventspec.typemap import TABLE, UTC_DATETIME_DB, sa_type
from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session, configure_mappers

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "templates" / "runtime"
VENV_BIN = Path(sys.executable).parent


def origin(file: str = "specs/accounts.yaml") -> Origin:
    return Origin(Source(Path(file), None, file))


def attr(name: str, type_: str | ir.TypeRef, **kwargs: object) -> ir.Attribute:
    ref = type_ if isinstance(type_, ir.TypeRef) else ir.TypeRef(type_)
    return ir.Attribute(name, ref, origin(), **kwargs)  # type: ignore[arg-type]


def rel(name: str, type_: str, destination: str, **kwargs: object) -> ir.Relationship:
    return ir.Relationship(name, type_, destination, origin(), **kwargs)  # type: ignore[arg-type]


def uuid_pk() -> ir.Attribute:
    return attr("id", "uuid", primary_key=True, allow_nil=False, default=ir.Default("uuid4"))


def sample_project(root: Path, package: str = "sample.data") -> ir.Project:
    """Every column type, every default kind, every relationship shape, two event logs."""
    now = ir.Default("now")
    org = ir.Resource(
        "Org",
        "orgs",
        origin("specs/orgs.yaml"),
        attributes=(
            uuid_pk(),
            attr("name", "string", allow_nil=False, constraints=ir.Constraints(max_length=200)),
            attr("settings", "map", default=ir.Default("literal", {})),
            attr("created_at", "utc_datetime_usec", allow_nil=False, default=now),
        ),
        relationships=(
            rel("members", "has_many", "User", destination_attribute="org_id"),
            rel("notes", "has_many", "Note", destination_attribute="org_ref"),
        ),
        description="An organisation.\n\nIt owns users and notes.",
    )
    user = ir.Resource(
        "User",
        "users",
        origin("specs/users.yaml"),
        attributes=(
            uuid_pk(),
            attr("email", "string", allow_nil=False, constraints=ir.Constraints(max_length=320)),
            attr("given_name", "string"),
            attr(
                "status",
                ir.TypeRef("enum", ("active", "archived")),
                allow_nil=False,
                default=ir.Default("literal", "active"),
            ),
            attr("score", "integer", allow_nil=False, default=ir.Default("literal", 0)),
            attr("visits", "big_integer"),
            attr("balance", "decimal", default=ir.Default("literal", "1.50")),
            attr("rating", "float", default=ir.Default("literal", 2)),
            attr("admin", "boolean", allow_nil=False, default=ir.Default("literal", False)),
            attr("born", "date"),
            attr("wakes_at", "time"),
            attr("bio", "text"),
            attr("avatar", "binary"),
            attr("tags", ir.TypeRef("array", item=ir.TypeRef("string"))),
            attr("token", "uuidv7", default=ir.Default("uuidv7")),
            attr("last_seen", "naive_datetime", default=now),
            attr("created_at", "utc_datetime", allow_nil=False, default=now),
            attr(
                "updated_at", "utc_datetime_usec", allow_nil=False, default=now, update_default=now
            ),
            attr("org_id", "uuid", belongs_to="org"),
            attr("manager_id", "uuid", belongs_to="manager"),
        ),
        relationships=(
            rel("org", "belongs_to", "Org", source_attribute="org_id", on_delete="set_null"),
            rel("manager", "belongs_to", "User", source_attribute="manager_id"),
            rel("reports", "has_many", "User", destination_attribute="manager_id"),
            rel("roles", "has_many", "UserRole", destination_attribute="user_id"),
            rel("profile", "has_one", "Profile", destination_attribute="user_id"),
        ),
        identities=(ir.Identity("unique_email", ("email",), origin()),),
    )
    role = ir.Resource(
        "UserRole",
        "user_roles",
        origin("specs/users.yaml"),
        attributes=(
            attr("id", "big_integer", primary_key=True, allow_nil=False),
            attr("user_id", "uuid", allow_nil=False, belongs_to="user"),
            attr("role", "string", allow_nil=False),
        ),
        relationships=(rel("user", "belongs_to", "User", allow_nil=False, on_delete="cascade"),),
        identities=(ir.Identity("unique_role", ("user_id", "role"), origin()),),
    )
    profile = ir.Resource(
        "Profile",
        "profiles",
        origin("specs/users.yaml"),
        attributes=(uuid_pk(), attr("user_id", "uuid", allow_nil=False, belongs_to="user")),
        relationships=(rel("user", "belongs_to", "User", allow_nil=False),),
    )
    note = ir.Resource(
        "Note",
        "notes",
        origin("specs/orgs.yaml"),
        attributes=(uuid_pk(), attr("org_ref", "uuid"), attr("body", "text", allow_nil=False)),
    )
    events = ir.EventLog(
        "Event",
        "events",
        origin("specs/events.yaml"),
        actors=(
            ir.ActorKey("user_id", "User", ir.TypeRef("uuid"), origin()),
            ir.ActorKey("system_actor", "accounts.actors:System", ir.TypeRef("string"), origin()),
        ),
    )
    audit = ir.EventLog(
        "AuditEvent",
        "audit_events",
        origin("specs/events.yaml"),
        primary_key_type="uuidv7",
        record_id_type="string",
        encryption_key_env="SAMPLE_EVENT_KEYS",
        actors=(ir.ActorKey("user_id", "User", ir.TypeRef("uuid"), origin(), allow_nil=False),),
    )
    return ir.Project(
        package=package,
        root=root,
        output=Path("src") / Path(*package.split(".")),
        specs=Path("specs"),
        migrations=Path("migrations"),
        origin=origin("eventspec.yaml"),
        resources=tuple(sorted((org, user, role, profile, note), key=lambda r: r.name)),
        event_logs=(audit, events),
    )


def write_package(project: ir.Project, base: Path) -> Path:
    """Render models.py next to the runtime modules; return the package folder."""
    parts = project.package.split(".")
    folder = base.joinpath(*parts)
    folder.mkdir(parents=True, exist_ok=True)
    for depth in range(1, len(parts) + 1):
        base.joinpath(*parts[:depth], "__init__.py").touch()
    for module in RUNTIME.glob("*.py"):
        if module.name != "__init__.py":
            shutil.copy(module, folder / module.name)
    (folder / "models.py").write_text(render_models(project, environment()), encoding="utf-8")
    return folder


def import_models(base: Path, package: str) -> ModuleType:
    sys.path.insert(0, str(base))
    try:
        return importlib.import_module(f"{package}.models")
    finally:
        sys.path.remove(str(base))


def unload(package: str) -> None:
    top = package.split(".")[0]
    for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
        del sys.modules[name]


@pytest.fixture
def models(tmp_path: Path) -> Iterator[ModuleType]:
    package = f"sample_{uuid.uuid4().hex[:8]}.data"
    project = sample_project(tmp_path, package)
    write_package(project, tmp_path / "src")
    module = import_models(tmp_path / "src", package)
    try:
        yield module
    finally:
        unload(package)


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    first = render_models(sample_project(tmp_path), environment())
    assert first == render_models(sample_project(tmp_path), environment())
    # Three file names would make the line too long for ruff: the folder is named instead.
    assert first.splitlines()[0] == (
        "# Code generated by eventspec from the 3 spec files in specs/. DO NOT EDIT."
    )


def test_rendered_module_passes_ruff_and_mypy(tmp_path: Path) -> None:
    package = "sample.data"
    folder = write_package(sample_project(tmp_path, package), tmp_path)
    models = folder / "models.py"
    settings = ["--config", str(ROOT / "pyproject.toml")]
    for command in (
        [str(VENV_BIN / "ruff"), "check", "--no-cache", *settings, str(models)],
        [
            str(VENV_BIN / "ruff"),
            "format",
            "--check",
            "--diff",
            "--no-cache",
            *settings,
            str(models),
        ],
        [
            str(VENV_BIN / "mypy"),
            "--strict",
            "--no-incremental",
            "--config-file",
            "/dev/null",
            "-p",
            package,
        ],
    ):
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_mapping_configures(models: ModuleType) -> None:
    configure_mappers()
    assert models.__all__ == sorted(models.__all__)
    users = models.User.__table__
    assert users.c.email.type.length == 320
    assert not users.c.email.nullable and users.c.given_name.nullable
    assert users.c.status.type.name == "users_status"
    assert {c.name for c in users.constraints} >= {"uq_users_unique_email", "pk_users"}
    events = models.Event.__table__
    assert models.Event.metadata_.property.columns[0].name == "metadata"
    assert {i.name for i in events.indexes} == {
        "ix_events_resource_record_id",
        "ix_events_occurred_at",
        "ix_events_user_id",
        "ix_events_system_actor",
    }
    assert type(models.AuditEvent.__table__.c.data.type).__name__ == "EncryptedJSON"


def test_the_type_table_has_one_row_per_spec_type() -> None:
    assert set(TABLE) == {*ir.SCALAR_TYPES, "array", "embedded"}


def test_utc_datetime_descriptor_matches_runtime(models: ModuleType) -> None:
    support = sys.modules[models.__name__.rsplit(".", 1)[0] + "._support"]
    impl = support.UTCDateTime().impl
    expected = sa_type(UTC_DATETIME_DB)
    assert type(impl) is type(expected) and impl.timezone == expected.timezone


def test_create_all_and_round_trip(models: ModuleType, engine: Engine) -> None:
    models.Base.metadata.create_all(engine)
    assert set(inspect(engine).get_table_names()) >= {
        "orgs",
        "users",
        "user_roles",
        "profiles",
        "notes",
        "events",
        "audit_events",
    }
    with Session(engine) as session, session.begin():
        org = models.Org(name="Acme")
        boss = models.User(email="boss@acme.test", org=org)
        worker = models.User(email="w@acme.test", org=org, manager=boss, tags=["a", "b"])
        worker.roles.append(models.UserRole(role="admin"))
        session.add_all([org, boss, worker])
        session.flush()
        session.add(models.Note(org_ref=org.id, body="x"))
        event = models.Event(
            record_id=uuid.uuid4(),
            resource="User",
            action="create",
            action_type="create",
            metadata_={"source": "test"},
        )
        session.add(event)
    with Session(engine) as session:
        worker = session.scalars(
            select(models.User).where(models.User.email == "w@acme.test")
        ).one()
        assert worker.status == "active" and worker.score == 0 and worker.admin is False
        assert worker.manager.email == "boss@acme.test"
        assert [u.email for u in worker.manager.reports] == ["w@acme.test"]
        assert worker.org.name == "Acme" and worker.created_at.tzinfo is not None
        assert worker.created_at.microsecond == 0
        assert [r.role for r in worker.roles] == ["admin"]
        assert worker.tags == ["a", "b"]
        event = session.scalars(select(models.Event)).one()
        assert event.version == 1 and event.metadata_ == {"source": "test"}
        assert event.data == {} and event.occurred_at.tzinfo is not None
        org = session.scalars(select(models.Org)).one()
        assert [n.body for n in org.notes] == ["x"]

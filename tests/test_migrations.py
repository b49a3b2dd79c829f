"""Offline migrations: generated from snapshots, applied with alembic on SQLite and PostgreSQL.

Every step of a spec's life (initial, additive, altering and renaming, destructive) is generated,
upgraded, compared with the models (``compare_metadata`` must find nothing), downgraded to base and
upgraded again.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import os
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from eventspec import ir
from eventspec.migrations import SnapshotError, codeop, plan_migrations, scaffold_alembic
from eventspec.migrations.plan import MigrationPlan
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import inspect, text
from sqlalchemy.dialects import postgresql, sqlite

from tests.engines import create_engine
from tests.test_models import VENV_BIN, attr, origin, rel, unload, uuid_pk, write_package

ROOT = Path(__file__).resolve().parent.parent


def enum(*values: str) -> ir.TypeRef:
    return ir.TypeRef("enum", values)


def step_project(
    root: Path, package: str, step: int, extra: tuple[ir.Attribute, ...] = ()
) -> ir.Project:
    """The spec at each step of its life (see the module docstring), plus ``extra`` user
    attributes."""
    literal = ir.Default
    user_attrs = [
        uuid_pk(),
        attr("email", "string", allow_nil=False, constraints=ir.Constraints(max_length=100)),
        attr("name", "string"),
        attr(
            "status",
            enum("active", "archived"),
            allow_nil=False,
            default=literal("literal", "active"),
        ),
        attr("legacy", "text"),
    ]
    identities: tuple[ir.Identity, ...] = ()
    actors = [ir.ActorKey("user_id", "User", ir.TypeRef("uuid"), origin())]
    tags = step in (2, 3)
    if step >= 2:
        user_attrs += [
            attr("nickname", "string"),
            attr("score", "integer", allow_nil=False, default=literal("literal", 0)),
            attr("tier", enum("free", "pro")),
        ]
        identities = (ir.Identity("unique_email", ("email",), origin()),)
        actors.append(ir.ActorKey("system_actor", "x.y:System", ir.TypeRef("string"), origin()))
    if step >= 3:
        user_attrs = [
            replace(a, constraints=ir.Constraints(max_length=320)) if a.name == "email" else a
            for a in user_attrs
        ]
        user_attrs = [
            replace(a, type=enum("active", "archived", "suspended")) if a.name == "status" else a
            for a in user_attrs
        ]
        user_attrs = [
            replace(a, name="full_name", renamed_from="name") if a.name == "name" else a
            for a in user_attrs
        ]
        user_attrs = [
            replace(a, allow_nil=False, default=literal("literal", "anon"))
            if a.name == "nickname"
            else a
            for a in user_attrs
        ]
    if step >= 4:
        user_attrs = [a for a in user_attrs if a.name != "legacy"]
        user_attrs = [
            replace(a, constraints=ir.Constraints(max_length=200)) if a.name == "email" else a
            for a in user_attrs
        ]
        user_attrs = [replace(a, type=enum("free")) if a.name == "tier" else a for a in user_attrs]
    user = ir.Resource(
        "User", "users", origin(), attributes=(*user_attrs, *extra), identities=identities
    )
    post_table, post_class = ("articles", "Article") if step >= 3 else ("posts", "Post")
    post = ir.Resource(
        post_class,
        post_table,
        origin(),
        attributes=(
            attr("id", "integer", primary_key=True, allow_nil=False),
            attr("user_id", "uuid", allow_nil=False, belongs_to="user"),
            attr("title", "string", allow_nil=False),
            attr("kind", enum("note", "story")),  # its type is renamed with the table
        ),
        relationships=(rel("user", "belongs_to", "User", allow_nil=False, on_delete="cascade"),),
        renamed_from="posts" if step >= 3 else None,
    )
    resources = [user, post]
    if tags:
        resources.append(
            ir.Resource(
                "Tag",
                "tags",
                origin(),
                attributes=(
                    uuid_pk(),
                    attr("user_id", "uuid", belongs_to="user"),
                    attr("label", "string", allow_nil=False),
                    attr("mood", enum("happy", "sad")),
                ),
                relationships=(rel("user", "belongs_to", "User"),),
            )
        )
    log = ir.EventLog("Event", "events", origin("specs/events.yaml"), actors=tuple(actors))
    return ir.Project(
        package=package,
        root=root,
        output=Path("src", *package.split(".")),
        specs=Path("specs"),
        migrations=Path("migrations"),
        origin=origin("eventspec.yaml"),
        resources=tuple(sorted(resources, key=lambda r: r.name)),
        event_logs=(log,),
    )


class Workspace:
    """A project folder: generated package, alembic scaffold, migrations written by the plan."""

    def __init__(self, root: Path, database_url: str) -> None:
        self.root = root
        self.url = database_url
        self.package = f"mig_{uuid.uuid4().hex[:8]}.data"
        files = scaffold_alembic(root, self.package, "migrations")
        files[Path("eventspec.yaml")] = (
            f"package: {self.package}\noutput: src/{self.package.replace('.', '/')}\n"
        )
        for rel_path, content in files.items():
            (root / rel_path).parent.mkdir(parents=True, exist_ok=True)
            (root / rel_path).write_text(content, encoding="utf-8")

    def generate(
        self, step: int, extra: tuple[ir.Attribute, ...] = (), **options: Any
    ) -> MigrationPlan:
        project = step_project(self.root, self.package, step, extra)
        unload(self.package)
        write_package(project, self.root / "src")
        plan = plan_migrations(project, **options)
        for rel_path, content in plan.files.items():
            (self.root / rel_path).parent.mkdir(parents=True, exist_ok=True)
            (self.root / rel_path).write_text(content, encoding="utf-8")
        for rel_path in plan.removed:
            (self.root / rel_path).unlink()
        return plan

    def alembic(self, action: str, target: str) -> None:
        config = Config(str(self.root / "alembic.ini"))
        config.cmd_opts = argparse.Namespace(x=[f"database_url={self.url}"])
        config.attributes["configure_logger"] = False
        unload(self.package)
        getattr(command, action)(config, target)

    def models(self) -> ModuleType:
        unload(self.package)
        sys.path.insert(0, str(self.root / "src"))
        try:
            return importlib.import_module(f"{self.package}.models")
        finally:
            sys.path.remove(str(self.root / "src"))

    def differences(self) -> list[Any]:
        models = self.models()
        engine = create_engine(self.url)
        try:
            with engine.connect() as connection:
                context = MigrationContext.configure(
                    connection, opts={"compare_type": True, "compare_server_default": False}
                )
                found = compare_metadata(context, models.Base.metadata)
        finally:
            engine.dispose()
            unload(self.package)
        return [d for d in found if not _is_alembic_table(d)]

    def cycle(self) -> None:
        """upgrade head, compare, downgrade base, upgrade head, compare."""
        self.alembic("upgrade", "head")
        assert self.differences() == []
        self.alembic("downgrade", "base")
        self.alembic("upgrade", "head")
        assert self.differences() == []

    def execute(self, sql: str, **params: Any) -> list[Any]:
        engine = create_engine(self.url)
        try:
            with engine.begin() as connection:
                result = connection.execute(text(sql), params)
                return list(result) if result.returns_rows else []
        finally:
            engine.dispose()

    def tables(self) -> set[str]:
        engine = create_engine(self.url)
        try:
            return set(inspect(engine).get_table_names()) - {"alembic_version"}
        finally:
            engine.dispose()


def _is_alembic_table(difference: Any) -> bool:
    return (
        isinstance(difference, tuple)
        and difference[0] == "remove_table"
        and difference[1].name == "alembic_version"
    )


@pytest.fixture
def workspace(tmp_path: Path, database_url: str) -> Workspace:
    return Workspace(tmp_path, database_url)


def revision_text(plan: MigrationPlan) -> str:
    return next(t for p, t in plan.files.items() if p.parent.name == "versions")


def test_life_of_a_schema(workspace: Workspace) -> None:
    first = workspace.generate(1)
    assert [p.name for p in first.files if p.suffix == ".py"] == [f"{first.revision}_initial.py"]
    workspace.cycle()
    assert workspace.generate(1).files == {}  # no schema change, no files

    # Additive: columns (one NOT NULL with a default, one enum), a table, an index, a unique.
    added = workspace.generate(2)
    assert added.warnings == []
    workspace.alembic("upgrade", "head")
    user_id = uuid.uuid4()
    workspace.execute(
        "INSERT INTO users (id, email, name, status, score) VALUES (:id, 'a@b.c', 'Ann', "
        "'active', 5)",
        id=user_id.hex if workspace.url.startswith("sqlite") else str(user_id),
    )
    workspace.execute("INSERT INTO posts (id, user_id, title) SELECT 1, id, 'Hello' FROM users")

    # Altering and renaming keeps the data of renamed columns and tables.
    altered = workspace.generate(3)
    source = revision_text(altered)
    assert 'new_column_name="full_name"' in source
    assert 'op.rename_table("posts", "articles")' in source
    assert "ADD VALUE IF NOT EXISTS 'suspended'" in source
    assert "ALTER TYPE posts_kind RENAME TO articles_kind" in source
    assert "UPDATE users SET nickname = 'anon' WHERE nickname IS NULL" in source
    assert altered.removed == [Path("migrations/snapshots/posts.json")]
    workspace.alembic("upgrade", "head")
    assert workspace.differences() == []
    assert workspace.execute("SELECT full_name, nickname FROM users") == [("Ann", "anon")]
    assert workspace.execute("SELECT title FROM articles") == [("Hello",)]
    workspace.execute("UPDATE users SET status = 'suspended'")
    workspace.alembic("downgrade", "base")
    workspace.alembic("upgrade", "head")
    assert workspace.differences() == []

    # Destructive changes are left commented out, warned about, and not repeated.
    held = workspace.generate(4)
    source = revision_text(held)
    assert '# op.drop_column("users", "legacy")' in source
    assert '# op.drop_table("tags")' in source
    assert "def upgrade() -> None:" in source and "    pass\n" in source
    assert len(held.warnings) == 4, held.warnings
    workspace.alembic("upgrade", "head")
    assert "tags" in workspace.tables()
    again = workspace.generate(4)
    assert again.files == {} and sorted(again.warnings) == sorted(held.warnings)

    # --allow-destructive applies them.
    applied = workspace.generate(4, allow_destructive=True)
    source = revision_text(applied)
    assert 'batch_op.drop_column("legacy")' in source and 'op.drop_table("tags")' in source
    workspace.cycle()
    assert "tags" not in workspace.tables()
    if not workspace.url.startswith("sqlite"):
        types = workspace.execute(
            "SELECT typname FROM pg_type WHERE typtype = 'e' "
            "AND typnamespace = current_schema()::regnamespace ORDER BY typname"
        )
        assert types == [("articles_kind",), ("users_status",), ("users_tier",)]
    assert workspace.generate(4, allow_destructive=True).files == {}


def test_enum_values_with_colons_quotes_and_percents_migrate(workspace: Workspace) -> None:
    """Values such as ':noon' reach the database verbatim: alembic's op.execute() runs text(),
    where an unescaped ':noon' would be a bind parameter."""

    def slot(*values: str) -> tuple[ir.Attribute, ...]:
        default = ir.Default("literal", ":noon")
        return (attr("slot", enum(*values), allow_nil=False, default=default),)

    workspace.generate(1, slot(":noon", "a'b"))
    workspace.alembic("upgrade", "head")
    key = uuid.uuid4().hex
    workspace.execute(f"INSERT INTO users (id, email, status) VALUES ('{key}', 'a@b.c', 'active')")
    added = workspace.generate(1, slot(":noon", "a'b", ":evening", "50%"))
    source = revision_text(added)
    assert "ADD VALUE IF NOT EXISTS '\\\\:evening'" in source
    assert "ADD VALUE IF NOT EXISTS '50%'" in source
    workspace.alembic("upgrade", "head")
    assert workspace.differences() == []
    workspace.execute("UPDATE users SET slot = :value", value=":evening")
    workspace.execute(
        "INSERT INTO users (id, email, status, slot) VALUES (:id, 'b@b.c', 'active', '50%')",
        id=uuid.uuid4().hex,
    )
    assert sorted(workspace.execute("SELECT slot FROM users")) == [("50%",), (":evening",)]
    # Dropping a value recreates the PostgreSQL type and sets the ':noon' default again.
    workspace.execute("DELETE FROM users WHERE slot = '50%'")
    workspace.generate(1, slot(":noon", ":evening"), allow_destructive=True)
    workspace.alembic("upgrade", "head")
    assert workspace.differences() == []
    workspace.execute(
        f"INSERT INTO users (id, email, status) VALUES ('{uuid.uuid4().hex}', 'c@b.c', 'active')"
    )
    assert sorted(workspace.execute("SELECT slot FROM users")) == [(":evening",), (":noon",)]
    workspace.alembic("downgrade", "base")
    workspace.alembic("upgrade", "head")
    assert workspace.differences() == []


@given(st.text(alphabet=":\\\\x_é %'0", max_size=12))
def test_executed_sql_reaches_the_database_verbatim(sql: str) -> None:
    """What codeop.execute renders, run through text() as alembic does, is the SQL it was given."""
    source = codeop.execute(sql).args[0]
    assert isinstance(source, str)
    rendered = ast.literal_eval(source)
    for dialect in (postgresql.psycopg.dialect(), sqlite.dialect()):
        compiled = text(rendered).compile(dialect=dialect)
        assert compiled.params == {}
        out = str(compiled)
        assert (out.replace("%%", "%") if dialect.name == "postgresql" else out) == sql


def test_not_null_without_default_is_added_nullable_first(workspace: Workspace) -> None:
    workspace.generate(1)
    workspace.alembic("upgrade", "head")
    key = uuid.uuid4().hex
    workspace.execute(f"INSERT INTO users (id, email, status) VALUES ('{key}', 'a@b.c', 'active')")
    code = (attr("code", "string", allow_nil=False),)
    held = workspace.generate(1, code)
    source = revision_text(held)
    assert 'batch_op.add_column(sa.Column("code", sa.String(), nullable=True))' in source
    assert '# op.alter_column("users", "code", existing_type=sa.String(), nullable=False)' in source
    assert held.warnings == [
        "users.code: adding a NOT NULL column without a default fails on a table that has rows; "
        "left out of the migration (pending until --allow-destructive)"
    ]
    snapshot = json.loads(held.files[Path("migrations/snapshots/users.json")])
    assert snapshot["deferred"] == ["not_null:code"]
    workspace.alembic("upgrade", "head")  # works although users has a row
    assert [d[0][0] for d in workspace.differences()] == ["modify_nullable"]
    assert workspace.generate(1, code).files == {}
    workspace.execute("UPDATE users SET code = 'x'")
    applied = workspace.generate(1, code, allow_destructive=True)
    assert "nullable=False" in revision_text(applied)
    workspace.alembic("upgrade", "head")
    assert workspace.differences() == []


def test_revisions_are_deterministic(tmp_path: Path) -> None:
    package = "same.data"
    runs = []
    for attempt in range(2):
        root = tmp_path / f"run{attempt}"
        root.mkdir()
        plans = []
        for step in (1, 2, 3):
            project = step_project(root, package, step)
            plan = plan_migrations(project, name="add user status" if step == 2 else None)
            for rel_path, content in plan.files.items():
                (root / rel_path).parent.mkdir(parents=True, exist_ok=True)
                (root / rel_path).write_text(content, encoding="utf-8")
            for rel_path in plan.removed:
                (root / rel_path).unlink()
            plans.append(plan.files)
        runs.append(plans)
    assert runs[0] == runs[1]
    names = [p.name for plan in runs[0] for p in plan if p.suffix == ".py"]
    assert names[1].endswith("_add_user_status.py")
    revisions = [plan for plan in runs[0]]
    second = revision_text(MigrationPlan(revisions[1], []))
    first_id = names[0].split("_", 1)[0]
    assert f'down_revision: str | Sequence[str] | None = "{first_id}"' in second


def test_snapshots_are_sorted_json_with_a_hash(tmp_path: Path) -> None:
    plan = plan_migrations(step_project(tmp_path, "snap.data", 1))
    snapshot = plan.files[Path("migrations/snapshots/users.json")]
    document = json.loads(snapshot)
    assert document["format"] == 1 and document["hash"].startswith("sha256:")
    assert snapshot == json.dumps(document, sort_keys=True, indent=2) + "\n"
    tampered = snapshot.replace('"length": 100', '"length": 101')
    existing = {Path("migrations/snapshots/users.json"): tampered}
    with pytest.raises(SnapshotError, match="hash"):
        plan_migrations(step_project(tmp_path, "snap.data", 1), existing)


def test_revision_files_pass_ruff(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    for step in (1, 2, 3, 4):
        plan = plan_migrations(step_project(root, "lint.data", step), allow_destructive=step == 4)
        for rel_path, content in plan.files.items():
            (root / rel_path).parent.mkdir(parents=True, exist_ok=True)
            (root / rel_path).write_text(content, encoding="utf-8")
        for rel_path in plan.removed:
            (root / rel_path).unlink()
    for rel_path, content in scaffold_alembic(root, "lint.data", "migrations").items():
        (root / rel_path).write_text(content, encoding="utf-8")
    versions = sorted((root / "migrations" / "versions").glob("*.py"))
    assert len(versions) == 4
    targets = [str(p) for p in versions] + [str(root / "migrations" / "env.py")]
    settings = ["--config", str(ROOT / "pyproject.toml"), "--no-cache"]
    for command_line in (
        [str(VENV_BIN / "ruff"), "check", *settings, *targets],
        [str(VENV_BIN / "ruff"), "format", "--check", "--diff", *settings, *targets],
    ):
        result = subprocess.run(command_line, capture_output=True, text=True, cwd=root)
        assert result.returncode == 0, result.stdout + result.stderr


def test_plain_alembic_upgrade_head_from_the_project_root(tmp_path: Path) -> None:
    """The scaffold alone makes ``alembic upgrade head`` work, with the URL from eventspec.yaml
    or from EVENTSPEC_DATABASE_URL (which wins)."""
    workspace = Workspace(tmp_path, "unused")
    settings = tmp_path / "eventspec.yaml"
    settings.write_text(
        settings.read_text() + "database_url: sqlite:///from_file.db  # a comment\n"
    )
    workspace.generate(1)
    unload(workspace.package)
    alembic = str(VENV_BIN / "alembic")
    run = subprocess.run([alembic, "upgrade", "head"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    engine = create_engine(f"sqlite:///{tmp_path / 'from_file.db'}")
    try:
        assert {"users", "posts", "events"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    environment = {**os.environ, "EVENTSPEC_DATABASE_URL": f"sqlite:///{tmp_path / 'env.db'}"}
    run = subprocess.run(
        [alembic, "upgrade", "head"], cwd=tmp_path, capture_output=True, text=True, env=environment
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "env.db").exists()


def test_revisions_do_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from tests.test_migrations import step_project;"
        "from eventspec.migrations import plan_migrations;"
        "plan = plan_migrations(step_project(Path(sys.argv[1]), 'seed.data', 2));"
        "print(''.join(f'{p}\\n{t}' for p, t in sorted(plan.files.items())))"
    )
    outputs = set()
    for seed in ("0", "1", "12345"):
        result = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert result.returncode == 0, result.stderr
        outputs.add(result.stdout)
    assert len(outputs) == 1

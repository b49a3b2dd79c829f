"""A rename with `renamed_from` on an accepted attribute, the whole way a user meets it.

generate, migrate with alembic, write through the actions, rename the attribute, regenerate (no
version bump, no upcaster: the generator derives one), migrate, replay: the events recorded under
the old name rebuild exactly the live rows, under the new column name. SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

from alembic import command
from alembic.config import Config
from click.testing import CliRunner
from eventspec.cli import main
from eventspec.migrations import scaffold_alembic
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from tests.test_models import unload

LOG = "kind: event_log\nname: Event\n"
ORG = """\
kind: resource
name: Org
attributes:
  id: {type: uuid, primary_key: true, default: uuid4, writable: false}
  name: {type: string, allow_nil: false}
  size: integer
actions:
  create: {type: create, accept: [name, size]}
  update: {type: update, accept: [name]}
  destroy: {type: destroy}
events:
  event_log: Event
"""


class Project:
    def __init__(self, root: Path, url: str, org: str = ORG) -> None:
        self.root, self.url = root, url
        self.package = f"ren_{uuid.uuid4().hex[:8]}.data"
        files = scaffold_alembic(root, self.package, "migrations")
        files[Path("eventspec.yaml")] = (
            f"package: {self.package}\noutput: src/{self.package.replace('.', '/')}\n"
        )
        files[Path("specs/event.yaml")] = LOG
        files[Path("specs/org.yaml")] = org
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding="utf-8")
        (root / "src" / self.package.split(".")[0] / "__init__.py").parent.mkdir(parents=True)
        (root / "src" / self.package.split(".")[0] / "__init__.py").touch()

    def generate(self) -> str:
        old = Path.cwd()
        os.chdir(self.root)
        try:
            result = CliRunner().invoke(main, ["generate"], catch_exceptions=False)
        finally:
            os.chdir(old)
        assert result.exit_code == 0, result.output
        return result.output

    def migrate(self) -> None:
        config = Config(str(self.root / "alembic.ini"))
        config.cmd_opts = argparse.Namespace(x=[f"database_url={self.url}"])
        config.attributes["configure_logger"] = False
        unload(self.package)
        command.upgrade(config, "head")

    def module(self, name: str) -> ModuleType:
        sys.path.insert(0, str(self.root / "src"))
        try:
            return importlib.import_module(f"{self.package}.{name}")
        finally:
            sys.path.remove(str(self.root / "src"))


def test_renamed_attribute_replays_old_events_into_the_new_column(
    tmp_path: Path, database_url: str
) -> None:
    project = Project(tmp_path, database_url)
    project.generate()
    project.migrate()
    engine = create_engine(database_url)
    try:
        orgs = project.module("actions.org")
        with Session(engine, expire_on_commit=False) as session, session.begin():
            first = orgs.create(session, name="Acme", size=3)
            second = orgs.create(session, name="Globex")
            orgs.update(session, first, name="Acme Corp")
            gone = orgs.create(session, name="Initech")
            orgs.destroy(session, gone)
        unload(project.package)

        spec = tmp_path / "specs" / "org.yaml"
        spec.write_text(
            ORG.replace(
                "  name: {type: string, allow_nil: false}",
                "  title: {type: string, allow_nil: false, renamed_from: name}",
            ).replace("accept: [name", "accept: [title")
        )
        project.generate()  # compatible: no error, no bump
        project.migrate()  # renames the column, keeps the rows

        models = project.module("models")
        replay = project.module("replay")

        def live() -> list[tuple[Any, ...]]:
            with Session(engine) as session:
                rows = session.execute(select(models.Org.id, models.Org.title, models.Org.size))
                return sorted(tuple(row) for row in rows)

        before = live()
        assert before == sorted([(first.id, "Acme Corp", 3), (second.id, "Globex", None)])
        with Session(engine) as session, session.begin():
            result = replay.replay(session)
        assert result.applied == 5, str(result)
        assert live() == before
    finally:
        engine.dispose()
        unload(project.package)

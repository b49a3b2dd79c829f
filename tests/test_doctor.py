"""`eventspec doctor` on a scaffolded project, on both databases: each check OK, WARN or FAIL."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from click.testing import CliRunner, Result
from eventspec.cli import main
from sqlalchemy import Engine, Uuid, column, insert, select, table
from sqlalchemy.orm import Session

from tests.conftest import FEATURES

PACKAGE = "shop_data"
FEATURES_CONFIG = str(FEATURES / "eventspec.yaml")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def unload() -> None:
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]


class Shop:
    """The project `eventspec init` scaffolds (one Author resource, actors are Authors)."""

    def __init__(self, root: Path, url: str) -> None:
        self.root, self.url = root, url
        self.config = str(root / "eventspec.yaml")

    def cli(self, *args: str) -> Result:
        return run(*args, "--config", self.config)

    def doctor(self, *args: str) -> Result:
        return self.cli("doctor", "--database-url", self.url, *args)

    def checks(self) -> dict[str, dict[str, Any]]:
        result = self.doctor("--json")
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        return {check["name"]: check for check in json.loads(result.stdout)}

    def upgrade(self) -> None:
        config = Config(str(self.root / "alembic.ini"))
        config.cmd_opts = argparse.Namespace(x=[f"database_url={self.url}"])
        config.attributes["configure_logger"] = False
        unload()
        command.upgrade(config, "head")

    def actions(self) -> ModuleType:
        unload()
        return importlib.import_module(f"{PACKAGE}.actions.author")

    def add_attribute(self) -> None:
        spec = self.root / "specs" / "author.yaml"
        text_ = spec.read_text(encoding="utf-8")
        spec.write_text(
            text_.replace("  email: {", "  bio: {type: string}\n  email: {", 1), encoding="utf-8"
        )


@pytest.fixture
def shop(tmp_path: Path, database_url: str) -> Iterator[Shop]:
    assert run("init", str(tmp_path / "shop")).exit_code == 0
    project = Shop(tmp_path / "shop", database_url)
    assert project.cli("generate").exit_code == 0
    sys.path.insert(0, str(project.root))
    try:
        yield project
    finally:
        sys.path.remove(str(project.root))
        unload()


def write_history(shop: Shop, engine: Engine, *, anonymous_update: bool = False) -> None:
    """Ann signs up (no actor yet), then edits her name as herself (and once more, maybe not)."""
    authors = shop.actions()
    with Session(engine, expire_on_commit=False) as session, session.begin():
        ann = authors.create(session, name="Ann", email="ann@example.com")
        authors.update(session, ann, name="Ann B.", actor=ann)
        if anonymous_update:
            authors.update(session, ann, name="Ann C.")


def test_a_healthy_project_is_all_ok(shop: Shop, engine: Engine) -> None:
    shop.upgrade()
    write_history(shop, engine)
    result = shop.doctor()
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    checks = [line for line in lines if line[:4].strip()]  # not continued details, not blank
    assert [line.split()[0] for line in checks[:7]] == ["OK"] * 7
    assert [line[6:20].strip() for line in checks[:7]] == [
        "specs",
        "generated code",
        "database",
        "migrations",
        "events Event",
        "actors Event",
        "records Event",
    ]
    assert lines[-1] == "7 OK, 0 WARN, 0 FAIL"
    checks = shop.checks()
    assert checks["events Event"]["data"]["total"] == 2
    assert checks["events Event"]["data"]["counts"] == [
        {"resource": "Author", "action": "create", "events": 1},
        {"resource": "Author", "action": "update", "events": 1},
    ]
    assert checks["events Event"]["data"]["newest"]["action"] == "update"
    # The sign-up has no actor, but no create event ever has one: counted, not a warning.
    assert checks["actors Event"]["data"]["never_with_actor"] == [
        {"resource": "Author", "action": "create", "events": 1}
    ]


def test_stale_generated_code_fails(shop: Shop) -> None:
    shop.upgrade()
    shop.add_attribute()
    result = shop.doctor()
    assert result.exit_code == 2, result.output
    check = shop.checks()["generated code"]
    assert check["status"] == "FAIL"
    assert "shop_data/models.py" in check["data"]["changed"]
    assert "run `eventspec generate`" in check["detail"]


def test_migrations_not_at_head_fail(shop: Shop, engine: Engine) -> None:
    engine.connect().close()  # an empty database (SQLite: the file exists)
    checks = shop.checks()  # nothing applied yet
    assert checks["migrations"]["status"] == "FAIL"
    assert "no migration applied" in checks["migrations"]["detail"]
    assert checks["events Event"]["status"] == "FAIL"  # its table does not exist yet
    shop.upgrade()
    applied = shop.checks()["migrations"]["data"]["head"]
    shop.add_attribute()
    assert shop.cli("generate", "--name", "add_bio").exit_code == 0
    checks = shop.checks()
    assert checks["generated code"]["status"] == "OK"
    assert checks["migrations"]["status"] == "FAIL"
    assert checks["migrations"]["data"]["database"] == applied
    assert checks["migrations"]["data"]["head"] != applied
    assert "`alembic upgrade head`" in checks["migrations"]["detail"]
    shop.upgrade()
    assert shop.checks()["migrations"]["status"] == "OK"


def test_rows_written_outside_the_actions_warn(shop: Shop, engine: Engine) -> None:
    shop.upgrade()
    write_history(shop, engine)
    with engine.begin() as connection:  # a row no action wrote: no event is about it
        authors = table("authors", column("id", Uuid()), column("name"), column("email"))
        connection.execute(insert(authors).values(id=uuid.uuid4(), name="R", email="r@example.com"))
    result = shop.doctor()
    assert result.exit_code == 1, result.output
    check = shop.checks()["records Event"]
    assert check["status"] == "WARN"
    assert check["data"]["without_events"] == [
        {"resource": "Author", "rows": 2, "without_events": 1}
    ]
    assert "WARN  records Event" in result.stdout


def test_events_without_the_expected_actor_warn(shop: Shop, engine: Engine) -> None:
    shop.upgrade()
    write_history(shop, engine, anonymous_update=True)
    result = shop.doctor()
    assert result.exit_code == 1, result.output
    check = shop.checks()["actors Event"]
    assert check["status"] == "WARN"
    assert check["data"]["without_actor"] == [
        {"resource": "Author", "action": "update", "events": 1}
    ]
    assert "1 event without the actor" in check["detail"]


def test_events_recorded_before_an_actor_was_required_warn(shop: Shop, engine: Engine) -> None:
    shop.upgrade()
    write_history(shop, engine)  # the sign-up has no actor
    spec = shop.root / "specs" / "author.yaml"
    text_ = spec.read_text(encoding="utf-8")
    required = text_.replace("    type: create\n", "    type: create\n    require_actor: true\n")
    spec.write_text(required, encoding="utf-8")
    assert shop.cli("generate").exit_code == 0
    check = shop.checks()["actors Event"]
    assert check["status"] == "WARN"
    assert check["data"]["without_actor"] == [
        {"resource": "Author", "action": "create", "events": 1}
    ]


def test_an_unreachable_database_fails_in_one_line(shop: Shop) -> None:
    if shop.url.startswith("sqlite"):
        shop.url = f"sqlite:///{shop.root / 'missing' / 'no.db'}"
    else:
        shop.url = "postgresql+psycopg://postgres:secret@127.0.0.1:1/nowhere"
    result = shop.doctor()
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    line = next(line for line in result.stdout.splitlines() if line.startswith("FAIL"))
    assert line.split()[1] == "database"
    assert "secret" not in result.output  # the password is redacted
    assert [c["name"] for c in shop.checks().values()] == ["specs", "generated code", "database"]
    assert not (shop.root / "missing").exists()


@pytest.mark.parametrize("command", ["doctor", "events"])
def test_a_url_naming_a_driver_not_installed_is_one_line(command: str) -> None:
    config = str(
        Path(__file__).resolve().parent.parent / "examples" / "accounts" / "eventspec.yaml"
    )
    result = run(command, "--config", config, "--database-url", "mysql://u:secret@host/db")
    assert result.exit_code in (1, 2), result.output
    assert isinstance(result.exception, SystemExit), result.exception
    words = " ".join(result.output.split())  # doctor wraps long details
    assert "No module named 'MySQLdb' (is its driver installed?)" in words
    assert "secret" not in result.output


def test_several_logs_one_encrypted(features: Engine, database_url: str) -> None:
    """The features project: two logs, the Ledger one encrypted and keyed by UUIDv7 ids."""
    from features.data.actions import account as accounts
    from features.data.models import Ledger

    with Session(features, expire_on_commit=False) as session, session.begin():
        ann = accounts.open(session, owner="ann", pin="1234")
        accounts.deposit(session, ann, amount=5)
    with Session(features) as session:
        newest = session.scalars(select(Ledger.id).order_by(Ledger.id.desc()).limit(1)).one()
    result = run("doctor", "--config", FEATURES_CONFIG, "--database-url", database_url, "--json")
    checks = {check["name"]: check for check in json.loads(result.stdout)}
    # Its tables were created without alembic: the one failure, exit 2.
    assert result.exit_code == 2
    assert [n for n, c in checks.items() if c["status"] != "OK"] == ["migrations"]
    ledger = checks["events Ledger"]["data"]
    assert ledger["total"] == 2
    assert ledger["newest"] == {
        "id": str(newest),
        "occurred_at": ledger["newest"]["occurred_at"],
        "resource": "Account",
        "action": "deposit",
    }
    assert checks["records Ledger"]["detail"] == "every row has events (Account)"
    assert checks["events Event"]["detail"] == "no events yet"
    assert "actors Ledger" not in checks  # the Ledger records no actors


def test_invalid_specs_fail_without_a_traceback(tmp_path: Path) -> None:
    assert run("init", str(tmp_path / "shop")).exit_code == 0
    config = tmp_path / "shop" / "eventspec.yaml"
    spec = tmp_path / "shop" / "specs" / "author.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace("type: string", "type: strin", 1))
    result = run("doctor", "--config", str(config), "--json")
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    checks = json.loads(result.stdout)
    assert [(c["name"], c["status"]) for c in checks] == [("specs", "FAIL"), ("database", "FAIL")]
    assert "ES" in checks[0]["detail"] and "run `eventspec validate`" in checks[0]["detail"]
    missing = run("doctor", "--config", str(tmp_path / "nowhere.yaml"))
    assert missing.exit_code == 2 and "FAIL  specs" in missing.stdout

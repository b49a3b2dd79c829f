"""The tests of this folder really run through the async stack, and there are many of them."""

from __future__ import annotations

import importlib
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

HERE = Path(__file__).resolve().parent


def test_the_engine_is_async_and_the_test_runs_in_its_greenlet(accounts: Engine) -> None:
    assert accounts.dialect.is_async
    assert accounts.dialect.driver in ("aiosqlite", "psycopg")
    with Session(accounts) as session:  # a sync Session: works only inside greenlet_spawn
        assert session.execute(text("SELECT 1")).scalar_one() == 1
        driver = session.connection().connection.driver_connection
        assert type(driver).__module__.split(".")[0] in ("aiosqlite", "psycopg")
        assert type(driver).__name__ in ("Connection", "AsyncConnection")


def test_the_sync_tests_are_taken_over() -> None:
    taken = 0
    for path in sorted(HERE.glob("test_*.py")):
        if path.stem == "test_stack":
            continue
        module = importlib.import_module(f"tests.aio.{path.stem}")
        tests = [name for name in vars(module) if name.startswith("test_")]
        assert tests, path.name
        taken += len(tests)
    assert taken >= 80  # test functions; each runs on both databases

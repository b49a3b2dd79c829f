"""The sync action and replay tests, run once more through the async stack, on both databases.

Each test of this folder runs whole (fixture set-up, body and teardown) inside SQLAlchemy's
``greenlet_spawn`` on one event loop, which is what ``AsyncSession.run_sync`` runs a function in,
and the ``engine`` fixture is the sync face of an async engine (aiosqlite, psycopg's async
connection). So every statement the actions, replay and clear-records send goes through the
async driver and the greenlet bridge, exactly as when the ``aio`` modules call them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from _pytest.runner import runtestprotocol
from sqlalchemy import Engine
from sqlalchemy.util import greenlet_spawn

from tests.engines import create_async_engine

HERE = Path(__file__).resolve().parent
_LOOPS: list[asyncio.AbstractEventLoop] = []


def _loop() -> asyncio.AbstractEventLoop:
    """One loop for the process: module fixtures live across tests, their connections with it."""
    if not _LOOPS:
        _LOOPS.append(asyncio.new_event_loop())
    return _LOOPS[0]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    # pytest calls this hook of every conftest for every item: only this folder's run here.
    if HERE not in item.path.parents:
        return None
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    _loop().run_until_complete(greenlet_spawn(runtestprotocol, item, nextitem=nextitem))
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


def pytest_sessionfinish(session: pytest.Session) -> None:
    del session
    for loop in _LOOPS:
        loop.close()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The sync face of an async engine: usable here because the test runs in a greenlet."""
    engine = create_async_engine(database_url)
    try:
        yield engine.sync_engine
    finally:
        engine.sync_engine.dispose()  # in the greenlet: closes the async connections

"""Scenario 8: async create + event, as a ratio to the sync create + event.

Both create one Customer (record + event) per transaction, one transaction after another: the
baseline through the sync action and a ``Session``, the contender through ``<package>.aio`` and
an ``AsyncSession`` on one event loop (aiosqlite, psycopg's async connection). The ratio is what
the asyncio stack costs: the async driver and SQLAlchemy's greenlet bridge (``run_sync``).
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bench.databases import Backend, clear
from bench.harness import Contender, Row, measure, rows
from bench.shop import TABLES, aio_customers, customer_input, customers

BASELINE = "eventspec action, Session (baseline)"
SCENARIO = "8 async create"


def run(backend: Backend, n: int, repeats: int) -> list[Row]:
    engine = backend.engine()
    loop = asyncio.new_event_loop()
    async_engine = backend.async_engine()

    def reset() -> None:
        clear(engine, *TABLES)

    def action(n: int) -> None:
        for i in range(n):
            with Session(engine) as session, session.begin():
                customers.create(session, **customer_input(i))

    async def creates(n: int) -> None:
        for i in range(n):
            async with AsyncSession(async_engine) as session, session.begin():
                await aio_customers.create(session, **customer_input(i))

    def aio_action(n: int) -> None:
        loop.run_until_complete(creates(n))

    entries = [
        Contender(BASELINE, action, reset),
        Contender("eventspec aio action, AsyncSession", aio_action, reset),
    ]
    try:
        times = measure(entries, n=n, repeats=repeats)
    finally:
        loop.run_until_complete(async_engine.dispose())
        loop.close()
        engine.dispose()
    return rows(SCENARIO, backend.name, entries, times, ops=n, unit="tx", baseline=BASELINE)

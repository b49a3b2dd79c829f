"""Scenario 8: following the log, and what the visibility horizon costs PostgreSQL writers.

Reading: a log of N events is read from the start in batches of 500, one transaction per batch,
as a follower does. Baseline: a plain Core ``SELECT ... WHERE id > :c ORDER BY id LIMIT :n``
loop over the same table. Contenders: the generated ``read_after`` (ORM objects, with the
horizon barrier on PostgreSQL), ``read_rows_after`` (``EventRow`` values, same barrier) and
``consume`` (``EventRow`` values; a checkpoint row locked and moved per batch, a handler that
does nothing).

Writing (PostgreSQL): create + event per transaction, with the horizon lock every writer takes
shared, against the same with the horizon patched out of ``_locks.take``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.databases import Backend, clear
from bench.harness import Contender, Row, measure, rows
from bench.shop import TABLES, Event, customer_input, customers
from bench.shop import engine as runtime

BATCH = 500
BASELINE = "Core SELECT id > :c ORDER BY id LIMIT 500 (baseline)"
WRITE_BASELINE = "ablation: create + event, horizon lock patched out"


def run(backend: Backend, n: int, repeats: int) -> list[Row]:
    from benchshop.data import log
    from benchshop.data.models import EventspecCheckpoint

    engine = backend.engine()
    table = Event.__table__
    checkpoints = EventspecCheckpoint.__table__
    paged = select(table).order_by(table.c.id).limit(BATCH)

    clear(engine, *TABLES)
    with Session(engine) as session, session.begin():
        customers.create_many(session, [customer_input(i) for i in range(n)])

    def core(_n: int) -> None:
        checkpoint = 0
        while True:
            with engine.begin() as connection:
                batch = connection.execute(paged.where(table.c.id > checkpoint)).all()
            if not batch:
                return
            checkpoint = batch[-1].id

    def orm(_n: int) -> None:
        checkpoint = None
        while True:
            with Session(engine) as session, session.begin():
                batch = log.read_after(session, checkpoint, BATCH)
                if not batch:
                    return
                checkpoint = batch[-1].id

    def core_rows(_n: int) -> None:
        checkpoint = None
        while True:
            with Session(engine) as session, session.begin():
                batch = log.read_rows_after(session, checkpoint, BATCH)
            if not batch:
                return
            checkpoint = batch[-1].id

    def consumer(_n: int) -> None:
        while True:
            with Session(engine) as session, session.begin():
                if not log.consume(session, "bench", _ignore, limit=BATCH):
                    return

    def reset_checkpoints() -> None:
        clear(engine, checkpoints)

    entries = [
        Contender(BASELINE, core),
        Contender("eventspec read_after (ORM objects)", orm),
        Contender("eventspec read_rows_after (EventRow values)", core_rows),
        Contender("eventspec consume (checkpoint row per batch)", consumer, reset_checkpoints),
    ]
    try:
        times = measure(entries, n=n, repeats=repeats, warmup=0)
        out = rows("9 follow", backend.name, entries, times, ops=n, unit="event", baseline=BASELINE)
        if backend.name == "postgresql":
            out += _writers(backend, engine, n, repeats)
    finally:
        clear(engine, *TABLES)
        engine.dispose()
    return out


def _ignore(_session: Session, _events: list[Any]) -> None:
    return None


def _writers(backend: Backend, engine: Any, n: int, repeats: int) -> list[Row]:
    writes = max(1, n // 10)

    def action(count: int) -> None:
        for i in range(count):
            with Session(engine) as session, session.begin():
                customers.create(session, **customer_input(i))

    def without_horizon(count: int) -> None:
        with _horizon_patched_out():
            action(count)

    def reset() -> None:
        clear(engine, *TABLES)

    entries = [
        Contender(WRITE_BASELINE, without_horizon, reset),
        Contender("eventspec create + event (horizon lock shared)", action, reset),
    ]
    times = measure(entries, n=writes, repeats=repeats)
    return rows(
        "9 follow: writer",
        backend.name,
        entries,
        times,
        ops=writes,
        unit="tx",
        baseline=WRITE_BASELINE,
    )


@contextmanager
def _horizon_patched_out() -> Iterator[None]:
    """``_locks.take`` believes the horizon is held already, so it takes the key lock alone."""
    locks = runtime._locks
    original = locks._is_held

    def is_held(session: Any, connection: Any, key: tuple[int, ...]) -> bool:
        return key == locks._HORIZON or original(session, connection, key)

    locks._is_held = is_held
    try:
        yield
    finally:
        locks._is_held = original

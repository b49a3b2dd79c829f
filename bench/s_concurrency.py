"""Scenario 6 (PostgreSQL): 8 writer threads creating Customers, one per transaction.

With the advisory lock the generated code takes before each event insert (event ids follow commit
order), against the same run with the runtime's ``_locks.take`` monkeypatched to a no-op.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.orm import Session

from bench.databases import Backend, clear
from bench.harness import Contender, Row, measure, rows
from bench.shop import TABLES, customer_input, customers
from bench.shop import engine as runtime

BASELINE = "without the lock (_locks.take patched to a no-op)"


def _no_lock(*_args: Any) -> None:
    return None


def run(backend: Backend, n: int, repeats: int, threads: int) -> list[Row]:
    engine = backend.engine(pool_size=threads, max_overflow=0)

    def writers(n: int) -> None:
        per_thread = max(1, n // threads)
        start = threading.Barrier(threads)
        errors: list[BaseException] = []

        def work(offset: int) -> None:
            try:
                start.wait()
                for i in range(offset, offset + per_thread):
                    with Session(engine) as session, session.begin():
                        customers.create(session, **customer_input(i))
            except BaseException as error:
                errors.append(error)

        pool = [threading.Thread(target=work, args=(t * per_thread,)) for t in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        if errors:
            raise errors[0]

    def unlocked(n: int) -> None:
        original = runtime._locks.take
        runtime._locks.take = _no_lock
        try:
            writers(n)
        finally:
            runtime._locks.take = original

    def reset() -> None:
        clear(engine, *TABLES)

    entries = [
        Contender(BASELINE, unlocked, reset),
        Contender("with pg_advisory_xact_lock (as generated)", writers, reset),
    ]
    try:
        times = measure(entries, n=n, repeats=repeats, warmup=threads * 4)
    finally:
        engine.dispose()
    ops = max(1, n // threads) * threads
    label = f"6 concurrency ({threads} threads)"
    return rows(label, backend.name, entries, times, ops=ops, unit="tx", baseline=BASELINE)

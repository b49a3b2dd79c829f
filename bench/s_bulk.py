"""Scenario 4: N Customers written 100 per transaction.

Baseline: a bare Core ``executemany`` INSERT of the same rows. Contenders: the generated
``create_many`` (one event per record) and the ORM's ``add_all`` without events.
"""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.orm import Session

from bench import roundtrips
from bench.databases import Backend, clear
from bench.harness import Contender, Row, measure, rows
from bench.shop import TABLES, Customer, customer_input, customer_row, customers

BASELINE = "Core executemany (baseline)"


def batches(n: int, size: int) -> list[range]:
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


def run(backend: Backend, n: int, repeats: int, batch: int) -> list[Row]:
    engine = backend.engine()
    stmt = insert(Customer.__table__)

    def reset() -> None:
        clear(engine, *TABLES)

    def core(n: int) -> None:
        for chunk in batches(n, batch):
            with engine.begin() as connection:
                connection.execute(stmt, [customer_row(i) for i in chunk])

    def action(n: int) -> None:
        for chunk in batches(n, batch):
            with Session(engine) as session, session.begin():
                customers.create_many(session, [customer_input(i) for i in chunk])

    def orm(n: int) -> None:
        for chunk in batches(n, batch):
            with Session(engine) as session, session.begin():
                session.add_all([Customer(**customer_input(i)) for i in chunk])

    entries = [
        Contender(BASELINE, core, reset),
        Contender(f"eventspec create_many ({batch}/tx, + events)", action, reset),
        Contender(f"ORM add_all ({batch}/tx, no events)", orm, reset),
    ]
    try:
        times = measure(entries, n=n, repeats=repeats, warmup=batch)
        out = rows("4 bulk", backend.name, entries, times, ops=n, unit="records", baseline=BASELINE)
        if backend.name == "postgresql":
            roundtrips.annotate(out, entries, [engine], transactions=2, per_transaction=batch)
    finally:
        engine.dispose()
    return out

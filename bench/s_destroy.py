"""Scenario 3b: destroy one Customer per transaction.

Baseline: a bare Core DELETE by primary key. The generated action and the ORM load the row with
``session.get`` first, as an application holding only the id must. Every run starts from the same
N freshly created rows (and, for the action, their create events: replay must find them).
"""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, delete
from sqlalchemy.orm import Session

from bench import roundtrips
from bench.databases import Backend, clear
from bench.harness import Contender, Row, measure, rows
from bench.shop import TABLES, Customer, customer_input, customers

BASELINE = "Core DELETE by id (baseline)"
SCENARIO = "3b destroy"


def run(backend: Backend, n: int, repeats: int) -> list[Row]:
    engine = backend.engine()
    table = Customer.__table__
    ids: list[uuid.UUID] = []

    def populate() -> None:
        clear(engine, *TABLES)
        with Session(engine) as session, session.begin():
            made = customers.create_many(session, [customer_input(i) for i in range(n)])
            ids[:] = [record.id for record in made]

    stmt = delete(table).where(table.c.id == bindparam("pk"))

    def core(n: int) -> None:
        for i in range(n):
            with engine.begin() as connection:
                connection.execute(stmt, {"pk": ids[i]})

    def action(n: int) -> None:
        for i in range(n):
            with Session(engine) as session, session.begin():
                record = session.get_one(Customer, ids[i])
                customers.destroy(session, record)

    def orm(n: int) -> None:
        for i in range(n):
            with Session(engine) as session, session.begin():
                session.delete(session.get_one(Customer, ids[i]))

    entries = [
        Contender(BASELINE, core, populate),
        Contender("eventspec action (get + destroy + event)", action, populate),
        Contender("ORM get + delete + commit (no event)", orm, populate),
    ]
    try:
        times = measure(entries, n=n, repeats=repeats)
        out = rows(SCENARIO, backend.name, entries, times, ops=n, unit="tx", baseline=BASELINE)
        if backend.name == "postgresql":
            roundtrips.annotate(out, entries, [engine])
    finally:
        engine.dispose()
    return out

"""Scenario 3: update one Customer per transaction (its name; ``updated_at`` follows).

Baseline: a bare Core UPDATE by primary key. The generated action, the ORM and Continuum load the
row with ``session.get`` first, as an application holding only the id must; eventsourcing loads
the aggregate from its store. Every run starts from the same N freshly created rows.
"""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import Session

from bench import continuum_rival as continuum
from bench import eventsourcing_rival as es
from bench import roundtrips
from bench.databases import Backend, clear
from bench.harness import Contender, Row, measure, rows
from bench.shop import TABLES, Customer, customer_input, customer_row, customers, utcnow

BASELINE = "Core UPDATE by id (baseline)"


def new_name(i: int) -> str:
    return f"Customer {i} renamed"


def run(backend: Backend, n: int, repeats: int) -> list[Row]:
    engine = backend.engine()
    versioned_engine = continuum.attach(backend.engine())
    store = es.Store(backend)
    table = Customer.__table__
    ids: list[uuid.UUID] = []
    versioned_ids: list[uuid.UUID] = []
    aggregate_ids: list[uuid.UUID] = []

    def populate() -> None:
        clear(engine, *TABLES)
        fresh = [customer_row(i) for i in range(n)]
        with engine.begin() as connection:
            connection.execute(insert(table), fresh)
        ids[:] = [row["id"] for row in fresh]

    def populate_versioned() -> None:
        clear(versioned_engine, *continuum.TABLES)
        records = [continuum.VersionedCustomer(**customer_input(i)) for i in range(n)]
        with continuum.ContinuumSession(versioned_engine) as session, session.begin():
            session.add_all(records)
            session.flush()
            versioned_ids[:] = [record.id for record in records]

    def populate_aggregates() -> None:
        app = store.reset()
        aggregates = [es.CustomerAggregate(**customer_input(i)) for i in range(n)]
        for start in range(0, n, 1000):
            app.save(*aggregates[start : start + 1000])
        aggregate_ids[:] = [aggregate.id for aggregate in aggregates]

    stmt = update(table).where(table.c.id == bindparam("pk"))

    def core(n: int) -> None:
        for i in range(n):
            with engine.begin() as connection:
                connection.execute(
                    stmt, {"pk": ids[i], "name": new_name(i), "updated_at": utcnow()}
                )

    def action(n: int) -> None:
        for i in range(n):
            with Session(engine) as session, session.begin():
                record = session.get(Customer, ids[i])
                customers.update(session, record, name=new_name(i))

    def orm(n: int) -> None:
        for i in range(n):
            with Session(engine) as session, session.begin():
                record = session.get(Customer, ids[i])
                assert record is not None
                record.name = new_name(i)

    def versioned(n: int) -> None:
        for i in range(n):
            with continuum.ContinuumSession(versioned_engine) as session, session.begin():
                record = session.get(continuum.VersionedCustomer, versioned_ids[i])
                assert record is not None
                record.name = new_name(i)

    def eventsourced(n: int) -> None:
        app = store.app
        assert app is not None
        for i in range(n):
            aggregate = app.repository.get(aggregate_ids[i])
            aggregate.rename(new_name(i))
            app.save(aggregate)

    entries = [
        Contender(BASELINE, core, populate),
        Contender("eventspec action (get + update + event)", action, populate),
        Contender("ORM get + set + commit (no event)", orm, populate),
        Contender("SQLAlchemy-Continuum (get + set)", versioned, populate_versioned),
        Contender(
            f"eventsourcing ({es.persistence(backend)}; get + save)",
            eventsourced,
            populate_aggregates,
        ),
    ]
    try:
        times = measure(entries, n=n, repeats=repeats)
        out = rows("3 update", backend.name, entries, times, ops=n, unit="tx", baseline=BASELINE)
        if backend.name == "postgresql":
            roundtrips.annotate(out, entries[:-1], [engine, versioned_engine])
    finally:
        store.close()
        engine.dispose()
        versioned_engine.dispose()
    return out

"""Scenarios 1 and 2: create one Customer per transaction.

Baseline: a bare SQLAlchemy Core INSERT of the same row (id, defaults and timestamps computed in
Python, as the generated model does). Contenders: the generated action (record + event), the ORM
without events, SQLAlchemy-Continuum and eventsourcing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from bench import continuum_rival as continuum
from bench import eventsourcing_rival as es
from bench import roundtrips
from bench.databases import Backend, clear
from bench.harness import Contender, Row, measure, rows
from bench.shop import TABLES, Customer, customer_input, customer_row, customers
from bench.shop import engine as runtime

BASELINE = "Core INSERT (baseline)"


@contextlib.contextmanager
def _no_savepoint(_session: Any, **_options: Any) -> Iterator[None]:
    yield


@contextlib.contextmanager
def _no_action_savepoint(_cs: Any, _wire: Any) -> Iterator[Callable[[], bool]]:
    yield lambda: False  # and the writes sent to the driver go without one either


def run(backend: Backend, n: int, repeats: int) -> list[Row]:
    engine = backend.engine()
    versioned_engine = continuum.attach(backend.engine())
    store = es.Store(backend)
    stmt = insert(Customer.__table__)

    def reset() -> None:
        clear(engine, *TABLES)

    def core(n: int) -> None:
        for i in range(n):
            with engine.begin() as connection:
                connection.execute(stmt, customer_row(i))

    def action(n: int) -> None:
        for i in range(n):
            with Session(engine) as session, session.begin():
                customers.create(session, **customer_input(i))

    def action_without_savepoint(n: int) -> None:
        originals = runtime._savepoint, runtime._action_savepoint
        runtime._savepoint, runtime._action_savepoint = _no_savepoint, _no_action_savepoint
        try:
            action(n)
        finally:
            runtime._savepoint, runtime._action_savepoint = originals

    def orm(n: int) -> None:
        for i in range(n):
            with Session(engine) as session, session.begin():
                session.add(Customer(**customer_input(i)))

    def versioned(n: int) -> None:
        for i in range(n):
            with continuum.ContinuumSession(versioned_engine) as session, session.begin():
                session.add(continuum.VersionedCustomer(**customer_input(i)))

    def eventsourced(n: int) -> None:
        app = store.app
        assert app is not None
        for i in range(n):
            app.save(es.CustomerAggregate(**customer_input(i)))

    entries = [
        Contender(BASELINE, core, reset),
        Contender("eventspec action (record + event)", action, reset),
        Contender(
            "ablation: eventspec action, _savepoint patched to a no-op",
            action_without_savepoint,
            reset,
            note="not a supported mode: shows what the per-action SAVEPOINT costs",
        ),
        Contender("ORM add + commit (no event)", orm, reset),
        Contender(
            "SQLAlchemy-Continuum", versioned, lambda: clear(versioned_engine, *continuum.TABLES)
        ),
        Contender(f"eventsourcing ({es.persistence(backend)})", eventsourced, store.reset),
    ]
    try:
        times = measure(entries, n=n, repeats=repeats)
        out = rows("1-2 create", backend.name, entries, times, ops=n, unit="tx", baseline=BASELINE)
        if backend.name == "postgresql":
            roundtrips.annotate(out, entries[:-1], [engine, versioned_engine])
    finally:
        store.close()
        engine.dispose()
        versioned_engine.dispose()
    return out

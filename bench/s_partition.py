"""Scenarios 10-11 (PostgreSQL, opt-in): scaling measurements for docs/scaling.md.

* ``tenants``: 8 writer threads, one create per transaction, on 8 tenants (8 advisory lock keys)
  against all on one tenant (one key): what per-tenant keys lift.
* ``partition``: a log of N events (``--memory-events``; 1,000,000 for the doc), written with
  ``create_many`` in batches of 1,000 and dated across 12 months, into a plain event table and
  into one partitioned by month; then a full replay of each, and two audit reads (the events of
  one record, the events of one month).

Both generate their two small projects (a plain log, a partitioned one) into a temporary folder
with eventspec itself, so nothing here is committed generated code.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from bench.databases import Backend
from bench.harness import Contender, Row, measure, rows

BATCH = 1000
MONTHS = 12

SPEC = """kind: event_log
name: Event
table: {prefix}_events
{partitioning}
---
kind: resource
name: Item
table: {prefix}_items
multitenancy: {{strategy: attribute, attribute: org}}
attributes:
  id: {{type: uuid, primary_key: true, default: uuid4, writable: false}}
  org: {{type: integer, allow_nil: false}}
  name: {{type: string, allow_nil: false}}
  created_at: {{type: utc_datetime_usec, default: now}}
actions:
  create: {{type: create, accept: [name, created_at]}}
events:
  event_log: Event
  create_timestamp: created_at
"""


@contextmanager
def projects() -> Iterator[dict[str, ModuleType]]:
    """Generate ``plain`` and ``parted`` (the same log, partitioned by month) and import them."""
    from eventspec.loader import load_project
    from eventspec.plan import make_plan, write

    with tempfile.TemporaryDirectory(prefix="eventspec-bench-partition-") as folder:
        root = Path(folder)
        for prefix, option in (
            ("plain", ""),
            ("parted", "partitioning: {by: occurred_at, interval: month, ahead: 1}"),
        ):
            project = root / prefix
            (project / "specs").mkdir(parents=True)
            (project / "specs" / "items.yaml").write_text(
                SPEC.format(prefix=prefix, partitioning=option)
            )
            (project / "eventspec.yaml").write_text(
                f"package: bench_{prefix}\noutput: bench_{prefix}\nspecs: specs\n"
                "migrations: migrations\n"
            )
            loaded, diagnostics = load_project(project / "eventspec.yaml")
            assert loaded is not None, [d.render() for d in diagnostics]
            write(make_plan(loaded))
            sys.path.insert(0, str(project))
        try:
            yield {
                prefix: importlib.import_module(f"bench_{prefix}") for prefix in ("plain", "parted")
            }
        finally:
            for prefix in ("plain", "parted"):
                sys.path.remove(str(root / prefix))
                for name in [m for m in sys.modules if m.split(".")[0] == f"bench_{prefix}"]:
                    del sys.modules[name]


def _modules(package: ModuleType) -> dict[str, Any]:
    name = package.__name__
    return {
        part: importlib.import_module(f"{name}.{part}")
        for part in ("models", "actions.item", "replay")
    }


def _reset(engine: Engine, package: ModuleType) -> None:
    models = importlib.import_module(f"{package.__name__}.models")
    models.Base.metadata.drop_all(engine)
    models.Base.metadata.create_all(engine)
    partitions = f"{package.__name__}.partitions"
    if importlib.util.find_spec(partitions) is not None:
        with engine.begin() as connection:
            last = _start() + dt.timedelta(days=31 * MONTHS)
            importlib.import_module(partitions).ensure_partitions(connection, through=last)


def _start() -> dt.datetime:
    now = dt.datetime.now(dt.UTC)
    return dt.datetime(now.year, now.month, 1, tzinfo=dt.UTC)


# --- tenants ------------------------------------------------------------------------------------


def run_tenants(backend: Backend, n: int, repeats: int, threads: int) -> list[Row]:
    engine = backend.engine(pool_size=threads, max_overflow=0)
    with projects() as packages:
        plain = _modules(packages["plain"])
        items = plain["actions.item"]

        def writers(tenant_of: Callable[[int], int]) -> Callable[[int], None]:
            def run(n: int) -> None:
                per_thread = max(1, n // threads)
                start = threading.Barrier(threads)
                errors: list[BaseException] = []

                def work(t: int) -> None:
                    try:
                        start.wait()
                        for i in range(per_thread):
                            with Session(engine) as session, session.begin():
                                items.create(session, name=f"i{t}-{i}", tenant=tenant_of(t))
                    except BaseException as error:
                        errors.append(error)

                pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
                for thread in pool:
                    thread.start()
                for thread in pool:
                    thread.join()
                if errors:
                    raise errors[0]

            return run

        one = "one tenant (one advisory lock key)"
        entries = [
            Contender(one, writers(lambda _t: 1), lambda: _reset(engine, packages["plain"])),
            Contender(
                f"{threads} tenants ({threads} keys)",
                writers(lambda t: t + 1),
                lambda: _reset(engine, packages["plain"]),
            ),
        ]
        try:
            times = measure(entries, n=n, repeats=repeats, warmup=threads * 4)
        finally:
            engine.dispose()
    ops = max(1, n // threads) * threads
    label = f"10 tenant keys ({threads} threads)"
    return rows(label, backend.name, entries, times, ops=ops, unit="tx", baseline=one)


# --- partition ----------------------------------------------------------------------------------


def _write(engine: Engine, modules: dict[str, Any], n: int) -> None:
    items = modules["actions.item"]
    start, span = _start(), dt.timedelta(days=30 * MONTHS)
    for offset in range(0, n, BATCH):
        size = min(BATCH, n - offset)
        inputs = [
            {"name": f"item {i}", "created_at": start + span * (i / n)}
            for i in range(offset, offset + size)
        ]
        with Session(engine) as session, session.begin():
            items.create_many(session, inputs, tenant=1)


def _replay(engine: Engine, modules: dict[str, Any]) -> None:
    with Session(engine) as session, session.begin():
        modules["replay"].replay(session)


def _reads(engine: Engine, modules: dict[str, Any]) -> str:
    """Seconds per audit read: the events of one record (by its index, in every partition), and
    the count of one month's events (pruned to one partition when partitioned)."""
    event = modules["models"].Event
    with Session(engine) as session:
        ids = session.scalars(select(event.record_id).limit(200)).all()
        started = time.perf_counter()
        for record_id in ids:
            session.scalars(
                select(event).where(event.resource == "Item", event.record_id == record_id)
            ).all()
        per_record = (time.perf_counter() - started) / max(1, len(ids))
        lower = _start() + dt.timedelta(days=62)
        upper = lower + dt.timedelta(days=30)
        started = time.perf_counter()
        for _ in range(5):
            session.scalar(
                select(func.count())
                .select_from(event)
                .where(event.occurred_at >= lower, event.occurred_at < upper)
            )
        per_month = (time.perf_counter() - started) / 5
    record, month = f"{per_record * 1e3:.2f} ms", f"{per_month * 1e3:.0f} ms"
    return f"reads: one record's events {record}, one month's count {month}"


def run_partition(backend: Backend, n: int, repeats: int) -> list[Row]:
    engine = backend.engine()
    labels = {"plain": "plain event table", "parted": "partitioned by month"}
    inserts: dict[str, list[float]] = {label: [] for label in labels.values()}
    replays: dict[str, list[float]] = {label: [] for label in labels.values()}
    reads: dict[str, str] = {}
    with projects() as packages:
        modules = {key: _modules(package) for key, package in packages.items()}
        try:
            for repeat in range(repeats):
                order = ["plain", "parted"] if repeat % 2 == 0 else ["parted", "plain"]
                for key in order:
                    _reset(engine, packages[key])
                    with engine.begin() as connection:
                        connection.execute(text("CHECKPOINT"))
                    started = time.perf_counter()
                    _write(engine, modules[key], n)
                    inserts[labels[key]].append(time.perf_counter() - started)
                    with engine.begin() as connection:
                        table = modules[key]["models"].Event.__table__.name
                        connection.execute(text(f"ANALYZE {table}"))
                    started = time.perf_counter()
                    _replay(engine, modules[key])
                    replays[labels[key]].append(time.perf_counter() - started)
                    reads[labels[key]] = _reads(engine, modules[key])
                    _drop(engine, packages[key])
        finally:
            engine.dispose()
    contenders = [Contender(label, lambda _n: None) for label in labels.values()]
    baseline = labels["plain"]
    out = rows(
        f"11 partition insert ({n} events)",
        backend.name,
        contenders,
        inserts,
        ops=n,
        unit="event",
        baseline=baseline,
    )
    out += rows(
        f"11 partition replay ({n} events)",
        backend.name,
        contenders,
        replays,
        ops=n,
        unit="event",
        baseline=baseline,
    )
    for row in out[-2:]:
        row.note = reads[row.contender]
    return out


def _drop(engine: Engine, package: ModuleType) -> None:
    importlib.import_module(f"{package.__name__}.models").Base.metadata.drop_all(engine)

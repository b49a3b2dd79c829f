"""Scenario 5: replay a mixed log of N events, against a hand-written Core fold and the floor.

The log is written once through the generated actions (500 operations per transaction). Each
contender then rebuilds the three tables in one transaction and commits; each must leave exactly
the state the actions built, or the run fails.
"""

from __future__ import annotations

import time
from collections import Counter

from sqlalchemy.orm import Session

from bench import fold
from bench.databases import Backend, clear
from bench.harness import Contender, Row, measure, rows
from bench.shop import TABLES, replay, replay_upcasting
from bench.workload import build_log

BASELINE = "hand-written Core fold (baseline)"
REPLAY = "eventspec replay()"
UPCAST = "upcasting: eventspec replay(), one upcaster step on every event"
FLOOR = "bulk insert of the final rows (floor)"


def describe(mix: Counter[str]) -> str:
    total = sum(mix.values()) or 1
    parts = [f"{mix[k] * 100 / total:.0f}% {k}" for k in ("create", "update", "destroy")]
    return "log: " + ", ".join(parts) + " over Customer/Order/LineItem"


def run(backend: Backend, n: int, repeats: int) -> list[Row]:
    engine = backend.engine()
    try:
        clear(engine, *TABLES)
        started = time.perf_counter()
        mix = build_log(engine, n)
        built = time.perf_counter() - started
        with engine.connect() as connection:
            expected = fold.snapshot(connection)

        def check(who: str) -> None:
            with engine.connect() as connection:
                if fold.snapshot(connection) != expected:
                    raise AssertionError(f"{who} did not rebuild the state the actions built")

        def run_replay(_n: int) -> None:
            with Session(engine) as session, session.begin():
                result = replay(session)
            if result.applied != n or result.warnings:
                raise AssertionError(f"replay applied {result.applied} of {n}: {result.warnings}")

        def run_upcast(_n: int) -> None:
            with Session(engine) as session, session.begin():
                result = replay_upcasting(session)
            if result.applied != n or result.warnings:
                raise AssertionError(f"replay applied {result.applied} of {n}: {result.warnings}")

        def run_fold(_n: int) -> None:
            with engine.begin() as connection:
                fold.fold(connection)

        def run_floor(_n: int) -> None:
            with engine.begin() as connection:
                fold.floor(connection, expected)

        entries = [
            Contender(BASELINE, run_fold),
            Contender(REPLAY, run_replay, note=describe(mix)),
            Contender(UPCAST, run_upcast, note="a set_default step on every event"),
            Contender(FLOOR, run_floor),
        ]
        for entry in entries:  # correctness first: every contender must rebuild the same state
            entry.run(n)
            check(entry.name)
        times = measure(entries, n=n, repeats=repeats, warmup=0)
    finally:
        engine.dispose()
    out = rows("5 replay", backend.name, entries, times, ops=n, unit="events", baseline=BASELINE)
    out.append(
        Row(
            "5 replay",
            backend.name,
            "writing the log through the actions (500 ops/tx)",
            built,
            n,
            "events",
            note="one run, for scale",
        )
    )
    return out

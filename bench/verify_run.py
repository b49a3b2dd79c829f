"""Scenario 5, verify: ``replay --verify`` against an in-place replay of the same log.

``python -m bench.verify_run URL SYNCHRONOUS REPEATS`` runs, in one fresh process, a first
``verify()`` of the log already in the database at URL (untimed: its resident-set growth is
measured, from the fresh process), then an in-place ``replay()`` and a ``verify()`` (scratch
database, rebuild, row-by-row comparison) interleaved REPEATS times, timed. It prints one JSON
line: the seconds of each timed run and the resident-set growth of the first verify. A thread
samples the resident set every 20 ms, so the comparison (which reports no progress) counts too.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from bench.databases import Backend
from bench.memory import rss_now
from bench.shop import Event, VerifyResult, replay, verify


class Sampler:
    """The largest resident set seen while the block runs."""

    def __init__(self) -> None:
        self.peak = rss_now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_now())

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_now())


def settle(engine: Engine) -> None:
    """On PostgreSQL, write the dirty buffers out before a timed run (untimed): DROP DATABASE,
    which ends every verify, forces a checkpoint, and would otherwise also pay for the writes of
    the replay before it, which an in-place replay leaves to the background checkpointer."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("CHECKPOINT"))


def check(result: VerifyResult) -> None:
    if not result.identical:
        raise AssertionError(f"verify found differences:\n{result}")


def main() -> None:
    url, synchronous, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
    name = "sqlite" if url.startswith("sqlite") else "postgresql"
    engine = Backend(name, url, Path("."), synchronous).engine()
    with engine.connect() as connection:  # connect and warm up before the baseline reading
        events = connection.execute(select(func.count()).select_from(Event.__table__)).scalar()
    replays: list[float] = []
    verifies: list[float] = []
    # An untimed verify first, from the fresh process: its resident-set growth is its own, before
    # any replay ran in the process. It also warms both paths' statement caches up.
    before = rss_now()
    with Sampler() as sampler:
        check(verify(engine))
    peak = sampler.peak
    for _ in range(repeats):
        settle(engine)
        started = time.perf_counter()
        with Session(engine) as session, session.begin():
            replay(session)
        replays.append(time.perf_counter() - started)
        settle(engine)
        started = time.perf_counter()
        check(verify(engine))
        verifies.append(time.perf_counter() - started)
    engine.dispose()
    print(
        json.dumps(
            {
                "events": events,
                "replay": replays,
                "verify": verifies,
                "rss_before": before,
                "rss_peak": peak,
            }
        )
    )


if __name__ == "__main__":
    main()

"""Scenario 5, verify: ``replay --verify`` against an in-place replay of the same log.

``python -m bench.verify_run URL SYNCHRONOUS REPEATS`` runs, in one fresh process, an in-place
``replay()`` and a ``verify()`` (scratch database, rebuild, row-by-row comparison) of the log
already in the database at URL, interleaved REPEATS times, and prints one JSON line: the seconds of
each run, and the resident-set growth during the first verify run (which starts from the fresh
process, before any replay ran in it). The resident set is sampled every
20 ms by a thread, so the comparison (which reports no progress) is sampled as well as the replay.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.databases import Backend
from bench.memory import rss_now
from bench.shop import Event, replay, verify


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


def main() -> None:
    url, synchronous, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
    name = "sqlite" if url.startswith("sqlite") else "postgresql"
    engine = Backend(name, url, Path("."), synchronous).engine()
    with engine.connect() as connection:  # connect and warm up before the baseline reading
        events = connection.execute(select(func.count()).select_from(Event.__table__)).scalar()
    replays: list[float] = []
    verifies: list[float] = []
    before = rss_now()
    peak = before
    for repeat in range(repeats):
        # verify first: the first run starts from the fresh process, so its growth is its own.
        started = time.perf_counter()
        with Sampler() as sampler:
            result = verify(engine)
        verifies.append(time.perf_counter() - started)
        if repeat == 0:
            peak = sampler.peak
        if not result.identical:
            raise AssertionError(f"verify found differences:\n{result}")
        started = time.perf_counter()
        with Session(engine) as session, session.begin():
            replay(session)
        replays.append(time.perf_counter() - started)
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

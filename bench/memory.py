"""Scenario 5, memory: peak RSS growth of ``replay()`` on a large log, in a fresh process.

``python -m bench.memory URL SYNCHRONOUS`` replays the log already in the database at URL and
prints one JSON line. The parent (``s_memory``) builds the log and starts this process, so what
is measured is the replay alone, not the benchmark that ran before it. The resident set is
sampled every 1,000 events from ``/proc/self/statm`` (``ru_maxrss`` elsewhere, which also counts
the import-time peak); the growth reported is its largest sample minus its value before.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.databases import Backend
from bench.shop import Event, replay

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_now() -> int:
    """The current resident set in bytes (Linux), else the peak so far."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE
    except OSError:
        return rss_peak()


def rss_peak() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def main() -> None:
    url, synchronous = sys.argv[1], sys.argv[2]
    name = "sqlite" if url.startswith("sqlite") else "postgresql"
    engine = Backend(name, url, Path("."), synchronous).engine()
    with engine.connect() as connection:  # connect and warm up before the baseline reading
        events = connection.execute(select(func.count()).select_from(Event.__table__)).scalar()
    before = rss_now()
    sampled = [before]
    rates: list[float] = []
    started = last = time.perf_counter()

    def progress(applied: int, _total: int) -> None:
        nonlocal last
        if applied % 1000 == 0:
            sampled.append(rss_now())
        if applied % 10_000 == 0:
            now = time.perf_counter()
            rates.append(10_000 / (now - last))
            last = now

    with Session(engine) as session, session.begin():
        result = replay(session, on_progress=progress)
    elapsed = time.perf_counter() - started
    sampled.append(rss_now())
    peak = max(sampled)
    engine.dispose()
    print(
        json.dumps(
            {
                "events": events,
                "applied": result.applied,
                "seconds": elapsed,
                "rss_before": before,
                "rss_peak": peak,
                "rate_per_10k": [round(rate) for rate in rates],
            }
        )
    )


if __name__ == "__main__":
    main()

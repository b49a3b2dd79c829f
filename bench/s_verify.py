"""Scenario 5, verify: ``replay --verify`` of a log as a ratio to an in-place replay of it.

The log is built here through the generated actions; ``python -m bench.verify_run`` then times
both in one fresh process (interleaved) and samples its resident set during the verify runs.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from bench.config import ROOT
from bench.databases import Backend, clear
from bench.harness import Row
from bench.shop import TABLES
from bench.workload import build_log

MB = 1024 * 1024
REPLAY = "eventspec replay() in place (baseline)"
VERIFY = "eventspec verify(): scratch database, rebuild, row-by-row comparison"


def run(backend: Backend, events: int, repeats: int) -> list[Row]:
    engine = backend.engine()
    try:
        clear(engine, *TABLES)
        build_log(engine, events, per_transaction=1000)
    finally:
        engine.dispose()
    completed = subprocess.run(
        [sys.executable, "-m", "bench.verify_run", backend.url, backend.synchronous, str(repeats)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    measured = json.loads(completed.stdout.strip().splitlines()[-1])
    replay = statistics.median(measured["replay"])
    verify = statistics.median(measured["verify"])
    growth = (measured["rss_peak"] - measured["rss_before"]) / MB
    return [
        Row(
            "5 replay verify",
            backend.name,
            REPLAY,
            replay,
            events,
            "events",
            None,
            1.0,
            samples=measured["replay"],
        ),
        Row(
            "5 replay verify",
            backend.name,
            VERIFY,
            verify,
            events,
            "events",
            REPLAY,
            verify / replay,
            note=f"peak RSS growth {growth:.1f} MB over the process before the first run",
            samples=measured["verify"],
            extra={"rss_growth_mb": growth},
        ),
    ]

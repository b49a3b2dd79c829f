"""Scenario 5, memory: build a large log through the actions, replay it in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from bench.config import ROOT
from bench.databases import Backend, clear
from bench.harness import Row
from bench.shop import TABLES
from bench.workload import build_log

MB = 1024 * 1024


def run(backend: Backend, events: int, *, progress: bool = False) -> list[Row]:
    engine = backend.engine()
    try:
        clear(engine, *TABLES)
        started = time.perf_counter()

        def report(written: int) -> None:
            if progress and written % 50_000 == 0:
                rate = written / (time.perf_counter() - started)
                print(f"  memory log: {written}/{events} events ({rate:.0f}/s)", file=sys.stderr)

        build_log(engine, events, per_transaction=1000, on_progress=report)
    finally:
        engine.dispose()
    completed = subprocess.run(
        [sys.executable, "-m", "bench.memory", backend.url, backend.synchronous],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    measured = json.loads(completed.stdout.strip().splitlines()[-1])
    growth = (measured["rss_peak"] - measured["rss_before"]) / MB
    note = (
        f"peak RSS growth {growth:.1f} MB (fresh process; {measured['rss_before'] / MB:.0f} MB "
        f"before, {measured['rss_peak'] / MB:.0f} MB peak)"
    )
    rates = measured["rate_per_10k"]
    if len(rates) >= 2:
        note += f"; events/s per 10k: first {rates[0]:,}, last {rates[-1]:,}"
    return [
        Row(
            "5 replay memory",
            backend.name,
            f"eventspec replay() of {events:,} events",
            measured["seconds"],
            measured["applied"],
            "events",
            note=note,
            extra={"rss_growth_mb": growth},
        )
    ]

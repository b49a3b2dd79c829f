"""Command-line options and environment variables of ``python -m bench``."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")
SCENARIOS = (
    "create",
    "update",
    "destroy",
    "bulk",
    "replay",
    "memory",
    "verify",
    "concurrency",
    "generate",
    "async",
    "follow",
)
# Run only when named in --scenarios (minutes at the sizes docs/scaling.md reports).
OPT_IN = ("tenants", "partition")


@dataclass(frozen=True)
class Config:
    n: int  # transactions (scenarios 1-3), records (4), events in the replayed log (5)
    repeats: int
    quick: bool
    full: bool
    output: Path
    backends: tuple[str, ...]
    scenarios: tuple[str, ...]
    pg_url: str
    memory_events: int
    sqlite_synchronous: str
    batch: int = 100
    threads: int = 8
    resources: int = 200

    def describe(self) -> str:
        mode = "quick" if self.quick else "full" if self.full else "default"
        return (
            f"mode {mode}; N = {self.n}; repeats = {self.repeats} (medians reported); "
            f"bulk batch = {self.batch}; memory log = {self.memory_events} events; "
            f"writer threads = {self.threads}; generate = {self.resources} resources; "
            f"SQLite synchronous = {self.sqlite_synchronous}"
        )


def _int_env(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


def parse(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark eventspec's generated code against bare SQLAlchemy and friends; "
        "writes a Markdown report.",
    )
    parser.add_argument("--n", type=int, help="operations per run (env BENCH_N; default 20000)")
    parser.add_argument(
        "--repeats", type=int, help="repeats per run (env BENCH_REPEATS; default 5)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: N=200, 1 repeat")
    parser.add_argument(
        "--full", action="store_true", help="replay memory measured on a 1,000,000-event log"
    )
    parser.add_argument(
        "--memory-events", type=int, help="events in the replay-memory log (overrides --full)"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown report")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated: sqlite,postgresql"
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated: {','.join(SCENARIOS)} (default all); opt-in: {','.join(OPT_IN)}",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL),
        help="PostgreSQL server to create the benchmark database on (env BENCH_PG_URL)",
    )
    parser.add_argument(
        "--sqlite-synchronous",
        default="NORMAL",
        choices=("OFF", "NORMAL", "FULL"),
        help="PRAGMA synchronous for every SQLite connection (WAL mode; default NORMAL)",
    )
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    n = args.n or _int_env("BENCH_N") or (200 if quick else 20000)
    repeats = args.repeats or _int_env("BENCH_REPEATS") or (1 if quick else 5)
    if args.memory_events:
        memory = args.memory_events
    elif args.full:
        memory = 1_000_000
    else:
        memory = 2_000 if quick else 100_000
    backends = tuple(b for b in args.backends.split(",") if b)
    scenarios = tuple(s for s in args.scenarios.split(",") if s)
    for name in backends:
        if name not in BACKENDS:
            parser.error(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
    for name in scenarios:
        if name not in SCENARIOS + OPT_IN:
            known = ", ".join(SCENARIOS + OPT_IN)
            parser.error(f"unknown scenario {name!r}; choose from {known}")
    if n < 1 or repeats < 1:
        parser.error("--n and --repeats must be positive")
    return Config(
        n=n,
        repeats=repeats,
        quick=quick,
        full=bool(args.full),
        output=args.output,
        backends=backends,
        scenarios=scenarios,
        pg_url=args.pg_url,
        memory_events=memory,
        sqlite_synchronous=args.sqlite_synchronous,
    )

"""The Markdown report: machine and versions, targets met or missed, every measured row."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import importlib.util
import os
import platform
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.config import Config
from bench.harness import Row


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _pool_version() -> str:
    version = _version("psycopg-pool")
    spec = importlib.util.find_spec("psycopg_pool")
    if spec is None or spec.origin is None or spec.origin.startswith(sys.prefix):
        return version
    return f"{version}, from {Path(spec.origin).parent.parent} (not part of the bench extra)"


def _package_state() -> str:
    """Whether bench/project/src is what the generator renders now (runtime included)."""
    from bench.regen import render

    try:
        folder, files = render()
    except Exception as error:  # the generator is being worked on; the report must still come
        return f"could not render the bench package to compare: {type(error).__name__}: {error}"
    stale = [rel for rel, text in files.items() if not _same(folder / rel, text)]
    if not stale:
        return "bench/project/src is up to date with the generator"
    return f"STALE ({', '.join(sorted(stale)[:3])}...): run `python -m bench.regen`"


def _same(path: Path, text: str) -> bool:
    return path.exists() and path.read_text(encoding="utf-8") == text


def machine(servers: dict[str, str], load: Sequence[str]) -> list[tuple[str, str]]:
    return [
        ("CPUs", f"{os.cpu_count()} x {_cpu_model()}"),
        ("OS", platform.platform()),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("SQLAlchemy", _version("SQLAlchemy")),
        ("psycopg", _version("psycopg")),
        ("SQLite library", sqlite3.sqlite_version),
        ("PostgreSQL server", servers.get("postgresql", "not measured")),
        ("eventspec", f"{_version('eventspec')}; {_package_state()}"),
        ("eventsourcing", _version("eventsourcing")),
        ("SQLAlchemy-Continuum", _version("SQLAlchemy-Continuum")),
        ("psycopg_pool", _pool_version()),
        ("load average (1 min) at start, end", " / ".join(load)),
    ]


@dataclass
class Target:
    goal: str
    backend: str
    measured: str
    met: bool | None  # None: not measured

    @property
    def status(self) -> str:
        return "—" if self.met is None else "met" if self.met else "**missed**"


def _find(rows: Sequence[Row], scenario: str, backend: str, contender: str) -> Row | None:
    for row in rows:
        same_place = row.scenario.startswith(scenario) and row.backend == backend
        if same_place and row.contender.startswith(contender):
            return row
    return None


# The goals of the second performance round (issue #17), per backend: the most an action may
# cost as a ratio to its bare SQLAlchemy Core baseline, and what replay must reach.
WRITE_GOALS: tuple[tuple[str, str, str, dict[str, float]], ...] = (
    ("1-2 create", "eventspec", "create + event", {"sqlite": 2.5, "postgresql": 1.5}),
    ("3 update", "eventspec", "update + event", {"sqlite": 3.0, "postgresql": 1.7}),
    ("4 bulk", "eventspec", "create_many + events", {"sqlite": 2.5, "postgresql": 2.0}),
)
REPLAY_SPEED = {"sqlite": 1.2, "postgresql": 2.0}
REPLAY_FLOOR = {"sqlite": 4.0, "postgresql": 1.5}


def _write_targets(rows: Sequence[Row], backend: str) -> list[Target]:
    out: list[Target] = []
    for scenario, contender, what, goals in WRITE_GOALS:
        row = _find(rows, scenario, backend, contender)
        if row is None or row.ratio is None or backend not in goals:
            continue
        goal, base = goals[backend], row.baseline or "its baseline"
        out.append(
            Target(f"{what} ≤ {goal:g}x {base}", backend, f"{row.ratio:.2f}x", row.ratio <= goal)
        )
    action = _find(rows, "1-2 create", backend, "eventspec")
    orm = _find(rows, "1-2 create", backend, "ORM add")
    if backend == "sqlite" and action and orm:
        ratio = action.seconds / orm.seconds
        goal_text = "create + event ≤ 1.2x the ORM add + commit with no event"
        out.append(Target(goal_text, backend, f"{ratio:.2f}x", ratio <= 1.2))
    rival = _find(rows, "1-2 create", backend, "eventsourcing (eventsourcing.postgres")
    if backend == "postgresql" and action and action.ratio and rival and rival.ratio:
        measured = f"{action.ratio:.2f}x vs {rival.ratio:.2f}x"
        out.append(
            Target(
                "create + event beats eventsourcing's ratio",
                backend,
                measured,
                action.ratio < rival.ratio,
            )
        )
    core = _find(rows, "1-2 create", backend, "Core INSERT")
    if action and core and "round_trips" in action.extra and "round_trips" in core.extra:
        mine, bare = action.extra["round_trips"], core.extra["round_trips"]
        goal_text = "round trips per create transaction ≤ a bare INSERT's (BEGIN, 1, COMMIT)"
        out.append(Target(goal_text, backend, f"{mine:g} vs {bare:g}", mine <= bare))
    return out


def targets(rows: Sequence[Row], backends: Sequence[str], config: Config) -> list[Target]:
    out: list[Target] = []
    for backend in backends:
        out.extend(_write_targets(rows, backend))
        replayed = _find(rows, "5 replay", backend, "eventspec replay()")
        folded = _find(rows, "5 replay", backend, "hand-written")
        floor = _find(rows, "5 replay", backend, "bulk insert")
        if replayed and folded and floor:
            speed = folded.seconds / replayed.seconds
            least = REPLAY_SPEED[backend]
            out.append(
                Target(
                    f"replay ≥ {least:g}x the hand-written Core fold (events/s)",
                    backend,
                    f"{speed:.2f}x ({replayed.rate:,.0f} vs {folded.rate:,.0f} events/s)",
                    speed >= least,
                )
            )
            over = replayed.seconds / floor.seconds
            most = REPLAY_FLOOR[backend]
            out.append(
                Target(
                    f"replay ≤ {most:g}x the floor (bulk insert of the final rows)",
                    backend,
                    f"{over:.1f}x ({replayed.seconds:.3f} s vs {floor.seconds:.3f} s)",
                    over <= most,
                )
            )
        upcast = _find(rows, "5 replay", backend, "upcasting:")
        if replayed and upcast:
            ratio = upcast.seconds / replayed.seconds
            out.append(
                Target(
                    "replay with one upcaster step per event ≤ 1.15x replay without",
                    backend,
                    f"{ratio:.2f}x ({upcast.seconds:.3f} s vs {replayed.seconds:.3f} s)",
                    ratio <= 1.15,
                )
            )
        unlocked = _find(rows, "6 concurrency", backend, "without")
        locked = _find(rows, "6 concurrency", backend, "with pg_advisory")
        if unlocked and locked:
            out.append(
                Target(
                    "8 writers: throughput with the ordering lock ÷ without (no target)",
                    backend,
                    f"{locked.rate / unlocked.rate:.2f} ({locked.rate:,.0f} vs "
                    f"{unlocked.rate:,.0f} tx/s)",
                    None,
                )
            )
        plain = _find(rows, "9 follow", backend, "Core SELECT")
        # The follower (consume) and its reader hand out EventRow values: #16's target. ORM
        # objects cost what SQLAlchemy's loading costs, reported without a target.
        for reader, goal in (
            ("eventspec consume", "≥ 0.8x"),
            ("eventspec read_rows_after", "≥ 0.8x"),
            ("eventspec read_after", "(ORM objects; no target)"),
        ):
            follower = _find(rows, "9 follow", backend, reader)
            if plain and follower:
                speed = plain.seconds / follower.seconds
                out.append(
                    Target(
                        f"follower {reader.split()[1]} {goal} a plain id > :c LIMIT loop "
                        "(events/s)",
                        backend,
                        f"{speed:.2f}x ({follower.rate:,.0f} vs {plain.rate:,.0f} events/s)",
                        speed >= 0.8 if goal.startswith("≥") else None,
                    )
                )
        horizon = _find(rows, "9 follow: writer", backend, "eventspec")
        if horizon and horizon.ratio is not None:
            out.append(
                Target(
                    "create + event with the horizon lock ÷ without (no target)",
                    backend,
                    f"{horizon.ratio:.2f}x",
                    None,
                )
            )
        memory = _find(rows, "5 replay memory", backend, "eventspec")
        if memory:
            growth = memory.extra["rss_growth_mb"]
            scaled = memory.ops < 1_000_000
            where = f" at {memory.ops:,} events (1M needs --full)" if scaled else ""
            out.append(
                Target(
                    "replay memory < 150 MB for 1,000,000 events",
                    backend,
                    f"{growth:.0f} MB{where}",
                    growth < 150,
                )
            )
        checked = _find(rows, "5 replay verify", backend, "eventspec verify()")
        if checked and checked.ratio is not None:
            growth = checked.extra["rss_growth_mb"]
            out.append(
                Target(
                    "replay --verify ≤ 1.5x an in-place replay of the same log",
                    backend,
                    f"{checked.ratio:.2f}x at {checked.ops:,} events; peak RSS +{growth:.0f} MB",
                    checked.ratio <= 1.5,
                )
            )
        asynchronous = _find(rows, "8 async create", backend, "eventspec aio")
        if asynchronous and asynchronous.ratio is not None:
            # The target is PostgreSQL's: aiosqlite's thread hop per statement is SQLite's own.
            postgres = backend == "postgresql"
            out.append(
                Target(
                    "async create + event ≤ 1.3x the sync create + event (PostgreSQL; per tx)"
                    if postgres
                    else "async create + event ÷ the sync create + event (no target)",
                    backend,
                    f"{asynchronous.ratio:.2f}x",
                    asynchronous.ratio <= 1.3 if postgres else None,
                )
            )
    generated = _find(rows, "7 generate", "-", "generate:")
    if generated:
        out.append(
            Target(
                f"generate for {config.resources} resources ≤ 2 s",
                "-",
                f"{generated.seconds:.2f} s",
                generated.seconds <= 2,
            )
        )
    return out


def _seconds(value: float) -> str:
    return f"{value:.3f}" if value < 100 else f"{value:.0f}"


def _row(row: Row) -> str:
    per_op = row.seconds / row.ops * 1e6 if row.ops else 0.0
    ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "—"
    cells = [
        row.scenario,
        row.backend,
        row.contender,
        _seconds(row.seconds),
        f"{row.rate:,.0f} {row.unit}/s",
        f"{per_op:,.0f}",
        ratio,
        f"{trips:g}" if (trips := row.extra.get("round_trips")) is not None else "—",
        row.note.replace("|", "\\|"),
    ]
    return "| " + " | ".join(cells) + " |"


def render(
    config: Config,
    argv: Sequence[str],
    rows: Sequence[Row],
    servers: dict[str, str],
    notes: Sequence[str],
    elapsed: float,
    load: Sequence[str],
) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["python -m bench", *argv])
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{command}` on {now} in {elapsed:.0f} s; rerun `make bench` to refresh it.",
        "",
        config.describe() + ".",
        "",
        "## Machine and versions",
        "",
        "| | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in machine(servers, load)),
        "",
        "## Targets",
        "",
        "| target | backend | measured | status |",
        "|---|---|---|---|",
        *(
            f"| {t.goal} | {t.backend} | {t.measured} | {t.status} |"
            for t in targets(rows, config.backends, config)
        ),
        "",
        "## Results",
        "",
        "Median of the repeats; `x baseline` is this row's time divided by the baseline's "
        "(the first row of its scenario and backend); lower is better.",
        "",
        "| scenario | backend | contender | median s | throughput | µs/op | x baseline "
        "| round trips/tx | note |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
        *(_row(row) for row in rows),
        "",
        *_separately(),
        "## How it is measured",
        "",
        *METHOD,
    ]
    if notes:
        lines += ["", "## Notes from this run", "", *(f"- {note}" for note in notes)]
    return "\n".join(lines) + "\n"


SEPARATELY = Path(__file__).resolve().parent / "separately.md"


def _separately() -> list[str]:
    """The measurements too long for a run (``bench/separately.md``), as they are written."""
    if not SEPARATELY.exists():
        return []
    return [*SEPARATELY.read_text(encoding="utf-8").rstrip("\n").splitlines(), ""]


METHOD = [
    "- The machine may be shared with other work; its load average at the start and end of the "
    "run is in the table above. Ratios come from contenders interleaved in one process, so they "
    "hold up better under load than the absolute times do.",
    "- Every contender of a scenario runs in the same process; each is warmed up once, then the "
    "repeats run with the contenders' order rotated. Tables are emptied (or refilled) before "
    "every timed run, outside the timing.",
    "- SQLite: one database file in WAL mode; every connection (eventsourcing's own included) "
    "gets the same `PRAGMA synchronous`. PostgreSQL: a database created for the run and "
    "dropped after it, over TCP on localhost.",
    "- Scenarios 1-3 open a new `Session` (or `engine.begin()`) per transaction, as a request "
    "handler would. The Core baseline computes the same id, default and timestamps in Python.",
    "- Update (3): the generated action, the ORM and Continuum first load the row with "
    "`session.get`; the Core baseline updates by primary key without reading it. Destroy (3b) "
    "likewise: `session.get`, then the action or `session.delete`; the baseline deletes by key.",
    "- SQLAlchemy-Continuum runs with default options; the listeners `make_versioned` puts on "
    "every Engine, Mapper and Session are moved onto Continuum's own engine, model and Session "
    "subclass so they do not slow the other contenders.",
    "- eventsourcing: one `Application.save` of a `CustomerAggregate` per transaction; updates "
    "load the aggregate with `repository.get`. The PostgreSQL rows use `eventsourcing.postgres` "
    "only when `psycopg_pool` is installed, else POPO (in memory; the row says which).",
    "- Replay (5): the log is written once through the generated actions; the fold, replay and "
    "floor each rebuild the tables in one committed transaction and are checked to produce "
    "exactly the state the actions built before they are timed.",
    "- Replay memory: the log is built in this process, then `python -m bench.memory` replays it "
    "in a fresh process, samples its resident set every 1,000 events and reports the largest "
    "growth over the value before the replay (Python heap, driver buffers, SQLite page cache). "
    "Only the first selected backend is measured; 1,000,000 events only with `--full`.",
    "- Replay verify: a log of the replay-memory size is built, then `python -m bench.verify_run` "
    "runs `verify()` (scratch database, rebuild, row-by-row comparison) and an in-place `replay()` "
    "of it, interleaved, in one fresh process; the ratio is the medians'. A thread samples the "
    "resident set every 20 ms during a first, untimed `verify()`, run before anything else in "
    "the process; the growth is bounded because both tables are streamed in key order "
    "(server-side cursors, 1,000 rows per fetch) and only `max_rows` differing rows are kept. "
    "On PostgreSQL a `CHECKPOINT` runs (untimed) before every timed run of either: the DROP "
    "DATABASE ending a verify forces a checkpoint, which would otherwise also flush the writes "
    "of the in-place replay before it.",
    "- Concurrency (6): 8 threads, a pool of 8 connections; the run without the lock "
    "monkeypatches the generated runtime's `_locks.take` to a no-op.",
    "- Generate (7): in process, `load_project` + `render_package` on a generated spec of "
    "resources each belonging to the previous one; the no-op check renders again and compares "
    "with the files on disk.",
    "- Async create (8): one Customer per transaction, one transaction after another, through "
    "the sync action and a `Session` (the baseline) and through `<package>.aio` and an "
    "`AsyncSession` on one event loop (aiosqlite; psycopg's async connection, a pool of 10). "
    "The ratio is the cost of the async driver and SQLAlchemy's greenlet bridge: aiosqlite runs "
    "each statement on a thread of its own, so SQLite pays more than PostgreSQL.",
]

"""``python -m bench``: run every scenario on SQLite and PostgreSQL, write the Markdown report."""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack

from bench import config as options
from bench import (
    report,
    s_async,
    s_bulk,
    s_concurrency,
    s_create,
    s_destroy,
    s_follow,
    s_generate,
    s_memory,
    s_partition,
    s_replay,
    s_update,
    s_verify,
)
from bench.continuum_rival import METADATA as CONTINUUM_METADATA
from bench.databases import Backend, create_all, postgres_backend, server_version, sqlite_backend
from bench.harness import Row
from bench.shop import Base


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _backend(config: options.Config, name: str) -> AbstractContextManager[Backend]:
    if name == "sqlite":
        return sqlite_backend(config.sqlite_synchronous)
    return postgres_backend(config.pg_url)


def _scenarios(
    config: options.Config, backend: Backend
) -> Iterator[tuple[str, Callable[[], list[Row]]]]:
    n, repeats = config.n, config.repeats
    wanted = set(config.scenarios)
    if "create" in wanted:
        yield "1-2 create", lambda: s_create.run(backend, n, repeats)
    if "update" in wanted:
        yield "3 update", lambda: s_update.run(backend, n, repeats)
    if "destroy" in wanted:
        yield s_destroy.SCENARIO, lambda: s_destroy.run(backend, n, repeats)
    if "bulk" in wanted:
        yield "4 bulk", lambda: s_bulk.run(backend, n, repeats, config.batch)
    if "replay" in wanted:
        yield "5 replay", lambda: s_replay.run(backend, n, repeats)
    if "memory" in wanted and backend.name == config.backends[0]:
        yield "5 replay memory", lambda: s_memory.run(backend, config.memory_events, progress=True)
    if "verify" in wanted:
        yield "5 replay verify", lambda: s_verify.run(backend, config.memory_events, repeats)
    if "concurrency" in wanted and backend.name == "postgresql":
        yield "6 concurrency", lambda: s_concurrency.run(backend, n, repeats, config.threads)
    if "async" in wanted:
        yield s_async.SCENARIO, lambda: s_async.run(backend, n, repeats)
    if "follow" in wanted:
        yield "9 follow", lambda: s_follow.run(backend, n, repeats)
    if "tenants" in wanted and backend.name == "postgresql":
        yield "10 tenant keys", lambda: s_partition.run_tenants(backend, n, repeats, config.threads)
    if "partition" in wanted and backend.name == "postgresql":
        events = config.memory_events
        yield "11 partition", lambda: s_partition.run_partition(backend, events, repeats)


def run(config: options.Config) -> tuple[list[Row], dict[str, str], list[str], bool]:
    rows: list[Row] = []
    servers: dict[str, str] = {}
    notes: list[str] = []
    ok = True
    for name in config.backends:
        with ExitStack() as stack:
            try:
                backend = stack.enter_context(_backend(config, name))
            except Exception as error:
                notes.append(f"{name} skipped: could not create the database ({error})"[:300])
                _log(f"[{name}] skipped: {error}")
                ok = False
                continue
            engine = backend.engine()
            create_all(engine, Base.metadata, CONTINUUM_METADATA)
            servers[name] = server_version(engine)
            engine.dispose()
            for label, scenario in _scenarios(config, backend):
                ok = _run_one(f"[{name}] {label}", scenario, rows, notes) and ok
    if "generate" in config.scenarios:

        def generate() -> list[Row]:
            return s_generate.run(config.resources, config.repeats, detail=not config.quick)

        ok = _run_one(f"7 generate ({config.resources} resources)", generate, rows, notes) and ok
    return rows, servers, notes, ok


def _run_one(
    label: str, scenario: Callable[[], list[Row]], rows: list[Row], notes: list[str]
) -> bool:
    _log(f"{label} ...")
    started = time.perf_counter()
    try:
        produced = scenario()
    except Exception as error:
        traceback.print_exc()
        notes.append(f"{label} failed: {type(error).__name__}: {error}"[:500])
        return False
    rows.extend(produced)
    _log(f"{label} done in {time.perf_counter() - started:.1f} s")
    return True


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    config = options.parse(args)
    _log(config.describe())
    started, load = time.perf_counter(), [_load()]
    rows, servers, notes, ok = run(config)
    load.append(_load())
    elapsed = time.perf_counter() - started
    text = report.render(config, args, rows, servers, notes, elapsed, load)
    config.output.parent.mkdir(parents=True, exist_ok=True)
    config.output.write_text(text, encoding="utf-8")
    _log(f"wrote {config.output}")
    sys.exit(0 if ok else 1)

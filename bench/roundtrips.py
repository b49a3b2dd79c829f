"""Round trips to the PostgreSQL server, counted from libpq's protocol trace.

A round trip is a wait: the client sends one or more messages, then reads the server's answer.
``PGconn.trace`` writes every protocol message with its direction (``F`` from the client, ``B``
from the server); the count is how often the direction turns from client to server. Messages
pipelined before one read count once, which is what pipelining saves. ``BEGIN`` and ``COMMIT``
are round trips of their own with psycopg, so a bare INSERT in its own transaction counts 3.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

from psycopg import pq
from sqlalchemy import Engine, event

from bench.harness import Contender, Row


@contextmanager
def _traced(engines: Sequence[Engine]) -> Iterator[list[IO[str]]]:
    """Trace every connection the engines hand out while the block runs."""
    traces: list[IO[str]] = []

    def start(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        # closed by count(), once the trace is read: it outlives this listener
        trace = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        traces.append(trace)
        dbapi_connection.pgconn.trace(trace.fileno())
        dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        record.info["bench_trace"] = trace

    def stop(dbapi_connection: Any, record: Any) -> None:
        if record.info.pop("bench_trace", None) is not None:
            dbapi_connection.pgconn.untrace()  # flushes what libpq buffered

    for engine in engines:
        event.listen(engine, "checkout", start)
        event.listen(engine, "checkin", stop)
    try:
        yield traces
    finally:
        for engine in engines:
            event.remove(engine, "checkout", start)
            event.remove(engine, "checkin", stop)


def _turns(trace: IO[str]) -> int:
    trace.seek(0)
    moves = [line.split("\t", 1)[0] for line in trace]
    moves = [move for move in moves if move in ("F", "B")]
    return sum(pair == ("F", "B") for pair in itertools.pairwise(moves))


def count(contender: Contender, engines: Sequence[Engine], n: int) -> int:
    """Round trips of ``contender.run(n)``, after one warm run (psycopg prepares a statement on its
    fifth use, SQLAlchemy caches compiled statements: neither should be counted)."""
    contender.setup()
    contender.run(n)
    contender.setup()
    with _traced(engines) as traces:
        contender.run(n)
    total = sum(_turns(trace) for trace in traces)
    for trace in traces:
        trace.close()
    return total


def annotate(
    out: list[Row],
    entries: Sequence[Contender],
    engines: Sequence[Engine],
    *,
    transactions: int = 10,
    per_transaction: int = 1,
) -> list[Row]:
    """Add ``round_trips`` per transaction to the rows of ``entries`` (which use ``engines``)."""
    for entry in entries:
        trips = count(entry, engines, transactions * per_transaction) / transactions
        for row in out:
            if row.contender == entry.name:
                row.extra["round_trips"] = trips
    return out

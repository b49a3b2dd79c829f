"""Timing: every contender of a scenario runs in the same process, repeats interleaved."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


def _nothing() -> None:
    return None


@dataclass
class Contender:
    """One way of doing the scenario's work; ``run(n)`` is timed, ``setup()`` before it is not."""

    name: str
    run: Callable[[int], None]
    setup: Callable[[], None] = _nothing
    note: str = ""


@dataclass
class Row:
    """One line of the results table."""

    scenario: str
    backend: str
    contender: str
    seconds: float  # median of the repeats
    ops: int
    unit: str
    baseline: str | None = None
    ratio: float | None = None  # seconds / baseline seconds (lower is better)
    note: str = ""
    samples: list[float] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else float("inf")


def measure(
    contenders: Sequence[Contender],
    *,
    n: int,
    repeats: int,
    warmup: int = 20,
) -> dict[str, list[float]]:
    """Seconds per repeat of each contender.

    Each contender is warmed up once (statement caches, imports), then the repeats run with the
    order rotated, so that no contender always goes first after a table reset.
    """
    for contender in contenders if warmup else ():
        contender.setup()
        contender.run(min(warmup, n))
    times: dict[str, list[float]] = {c.name: [] for c in contenders}
    for repeat in range(repeats):
        shift = repeat % len(contenders)
        for contender in [*contenders[shift:], *contenders[:shift]]:
            contender.setup()
            gc.collect()
            started = time.perf_counter()
            contender.run(n)
            times[contender.name].append(time.perf_counter() - started)
    return times


def rows(
    scenario: str,
    backend: str,
    contenders: Sequence[Contender],
    times: dict[str, list[float]],
    *,
    ops: int,
    unit: str,
    baseline: str | None,
) -> list[Row]:
    """Table rows, the baseline first, each with its ratio to the baseline's median."""
    base = statistics.median(times[baseline]) if baseline else None
    ordered = sorted(contenders, key=lambda c: c.name != baseline)
    out = []
    for contender in ordered:
        median = statistics.median(times[contender.name])
        compared = base is not None and contender.name != baseline
        out.append(
            Row(
                scenario,
                backend,
                contender.name,
                median,
                ops,
                unit,
                baseline=baseline if compared else None,
                ratio=median / base if compared and base else None,
                note=contender.note,
                samples=times[contender.name],
            )
        )
    return out

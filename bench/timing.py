"""Sequential timing helpers: percentiles and interleaved rounds of several variants of one operation."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Stats", "interleave", "percentile"]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Stats:
    """Milliseconds."""

    n: int
    p50: float
    p90: float
    p99: float
    mean: float
    min: float
    max: float

    @classmethod
    def of(cls, samples_s: Sequence[float]) -> Stats:
        ms = [s * 1000 for s in samples_s]
        return cls(
            n=len(ms),
            p50=percentile(ms, 50),
            p90=percentile(ms, 90),
            p99=percentile(ms, 99),
            mean=sum(ms) / len(ms) if ms else math.nan,
            min=min(ms, default=math.nan),
            max=max(ms, default=math.nan),
        )

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in vars(self).items()}


async def interleave(
    variants: Mapping[str, Callable[[], Awaitable[None]]], *, rounds: int, warmup: int, deadline: float
) -> dict[str, list[float]]:
    """Run every variant once per round, rotating their order each round so drift and ordering effects
    spread evenly; returns each variant's wall times (seconds) after the warm-up rounds.

    Stops early (with fewer samples) when ``time.monotonic()`` passes ``deadline``.
    """
    names = list(variants)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for index in range(warmup + rounds):
        if time.monotonic() > deadline:
            break
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            await variants[name]()
            elapsed = time.perf_counter() - started
            if index >= warmup:
                samples[name].append(elapsed)
    return samples

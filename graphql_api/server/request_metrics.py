"""How each request's metrics are recorded: one small interface, the library's own path or the tally.

`Observe` (around every request) calls `started()` and `finished(...)`; the
scrape calls `flush()` before it reads. `RequestMetrics` records through
prometheus-client's public calls per request; the fenced speed-up
`graphql_api._speedups.request_tally.RequestTally` keeps plain numbers and
writes them at `flush()`. `recorder()` picks one per process (the metrics are
the process's), the tally unless `GXRTC_SPEEDUPS=off`.

With several workers, only the worker that answers a scrape flushes before it;
so each worker also flushes every second (`flush_periodically`, a lifespan
task). A scrape then sees the other workers' requests of the last second a
scrape later, and a worker killed outright takes at most its last second's
counts with it (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import os
from typing import Protocol

from prometheus_client import Counter, Gauge, Histogram

from .. import _speedups
from .._speedups.request_tally import RequestTally
from ..core.metrics import MULTIPROCESS_VARIABLE, REQUEST_DURATION, REQUESTS, REQUESTS_IN_FLIGHT

__all__ = ["FLUSH_INTERVAL_SECONDS", "Recorder", "RequestMetrics", "flush_periodically", "recorder"]

FLUSH_INTERVAL_SECONDS = 1.0


class Recorder(Protocol):
    def started(self) -> None: ...

    def finished(self, face: str, operation: str, status: int, duration: float) -> None: ...

    def flush(self) -> None: ...


class RequestMetrics:
    """The library's own path: each request's counter, histogram and gauge calls as it ends."""

    __slots__ = ("_durations", "_in_flight", "_requests", "_series")

    def __init__(self, requests: Counter, durations: Histogram, in_flight: Gauge) -> None:
        self._requests = requests
        self._durations = durations
        self._in_flight = in_flight
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def started(self) -> None:
        self._in_flight.inc()

    def finished(self, face: str, operation: str, status: int, duration: float) -> None:
        self._in_flight.dec()
        key = (face, operation, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (
                self._requests.labels(face, operation, str(status)),
                self._durations.labels(face, operation),
            )
        series[0].inc()
        series[1].observe(duration)

    def flush(self) -> None:
        """Nothing waits: every request is in the library's values as it ends."""


_recorder: Recorder | None = None


def recorder() -> Recorder:
    """This process's recorder of the request metrics, made on first use."""
    global _recorder
    if _recorder is None:
        if _speedups.enabled():
            _recorder = RequestTally(REQUESTS, REQUEST_DURATION, REQUESTS_IN_FLIGHT)
        else:
            _recorder = RequestMetrics(REQUESTS, REQUEST_DURATION, REQUESTS_IN_FLIGHT)
    return _recorder


async def flush_periodically(interval: float = FLUSH_INTERVAL_SECONDS) -> None:
    """With several workers, flush this one's requests every `interval` seconds, and once more when cancelled."""
    if not os.environ.get(MULTIPROCESS_VARIABLE):
        return
    try:
        while True:
            await asyncio.sleep(interval)
            recorder().flush()
    finally:
        recorder().flush()

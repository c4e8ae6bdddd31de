"""The request metrics kept as plain numbers between scrapes, instead of prometheus-client's calls per request.

Replaces, for `gxrtc_requests_total`, `gxrtc_request_duration_seconds` and
`gxrtc_requests_in_flight` (the three every request records), the library's
path of one `labels()` lookup, one counter `inc`, one histogram `observe`
(a sum `inc` and a walk over the bucket bounds) and two gauge calls per
request, each value behind its own lock, or in multiprocess mode a write into
the worker's memory-mapped file. Here a request adds one to a dict entry and
one to a bucket found by bisection; `flush()` adds what accumulated into the
library's values, where a scrape reads them. The server flushes before every
scrape (so one process's figures are exact) and, with several workers, every
second in each worker (`graphql_api.server.request_metrics`).

Everything runs on the worker's one event loop, so the plain numbers need no lock.
Proven equal to the library's own path by tests/unit/speedups/test_request_tally.py
(counts and buckets exact, sums to float rounding), in one process and in
multiprocess mode.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["RequestTally"]


class _Durations:
    __slots__ = ("buckets", "total")

    def __init__(self, size: int) -> None:
        self.buckets = [0] * size
        self.total = 0.0


class RequestTally:
    """A `graphql_api.server.request_metrics.Recorder` that writes into the library's values only at `flush()`."""

    __slots__ = ("_bounds", "_counts", "_durations", "_in_flight", "_in_flight_gauge", "_observed", "_requests")

    def __init__(self, requests: Counter, durations: Histogram, in_flight: Gauge) -> None:
        self._requests = requests
        self._durations = durations
        self._in_flight_gauge = in_flight
        self._bounds = histogram_bounds(durations)
        self._counts: dict[tuple[str, str, int], int] = {}
        self._observed: dict[tuple[str, str], _Durations] = {}
        self._in_flight = 0

    def started(self) -> None:
        self._in_flight += 1

    def finished(self, face: str, operation: str, status: int, duration: float) -> None:
        self._in_flight -= 1
        key = (face, operation, status)
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1
        pair = (face, operation)
        observed = self._observed.get(pair)
        if observed is None:
            observed = self._observed[pair] = _Durations(len(self._bounds))
        # `observe` files a value under the first bound it is <= to: the leftmost insertion point.
        observed.buckets[bisect_left(self._bounds, duration)] += 1
        observed.total += duration

    def flush(self) -> None:
        """Add everything recorded since the last flush into the library's values."""
        counts, self._counts = self._counts, {}
        for (face, operation, status), count in counts.items():
            self._requests.labels(face, operation, str(status)).inc(count)
        observed, self._observed = self._observed, {}
        for (face, operation), durations in observed.items():
            add_to_histogram(self._durations.labels(face, operation), durations.buckets, durations.total)
        self._in_flight_gauge.set(self._in_flight)


# prometheus-client's private attributes, as `_internals` lists them (version 0.26.0).


def histogram_bounds(histogram: Any) -> tuple[float, ...]:
    """A histogram's upper bounds (its children's too), `+Inf` last, as `observe` compares them."""
    return tuple(histogram._upper_bounds)


def add_to_histogram(child: Any, counts: list[int], total: float) -> None:
    """Add observations to a histogram child at once: `counts[i]` of them fell in bucket i (the first bound
    they are <= to, as `observe` files one), summing to `total`. Bucket values are not cumulative inside."""
    child._sum.inc(total)
    buckets = child._buckets
    for index, count in enumerate(counts):
        if count:
            buckets[index].inc(count)

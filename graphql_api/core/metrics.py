"""Every Prometheus metric the service exports, defined once, and their exposition.

The definitions live here (one vocabulary of names and labels for the code,
the dashboard in dev/grafana/ and the rules in dev/prometheus/) and are
recorded with one line at each site. Label values come from bounded sets only:
a face, a route template or a GraphQL root field, a status code, a LiveKit
method, an outcome or a reason; never a room, an identity or a path with its
values, so the number of series stays fixed however the service is used.

Several workers (uvicorn's, `GXRTC_WORKERS` > 1) share nothing in memory:
`python -m graphql_api` then points `PROMETHEUS_MULTIPROC_DIR` at an empty
directory before any worker starts, prometheus-client keeps each worker's
values in files there, and `exposition()` adds them up, so any worker answers a
scrape for all of them. Gauges say how they combine (`multiprocess_mode`).
See docs/operations.md.
"""

from __future__ import annotations

import os
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

__all__ = [
    "BREAKER_OPEN",
    "DATABASE_DURATION",
    "DATABASE_ERRORS",
    "EVENTS_DEDUPLICATED",
    "EVENTS_DELIVERED",
    "EVENTS_DROPPED",
    "EVENTS_PUBLISHED",
    "LIVEKIT_CALLS",
    "LIVEKIT_DURATION",
    "MULTIPROCESS_VARIABLE",
    "RECONCILER_REPAIRS",
    "REDIS_DURATION",
    "REDIS_ERRORS",
    "REQUESTS",
    "REQUESTS_IN_FLIGHT",
    "REQUESTS_SHED",
    "REQUEST_DURATION",
    "SUBSCRIPTIONS_OPEN",
    "TOKENS_MINTED",
    "WEBHOOKS",
    "exposition",
]

MULTIPROCESS_VARIABLE: Final = "PROMETHEUS_MULTIPROC_DIR"

# Each counter's and histogram's creation time, as a series of its own: Prometheus' text format has no
# use for it, and it would double what every scrape carries.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Requests take from a fraction of a millisecond (a token) to LiveKit's timeout (seconds).
_REQUEST_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_CALL_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# -- requests (recorded by graphql_api.server.observe, around everything the app serves) -------------------

REQUESTS: Final = Counter(
    "gxrtc_requests",
    "HTTP requests answered, by face (rest, graphql, service), operation and status code.",
    ["face", "operation", "status"],
)
"""operation: the route template for REST and the service's own paths; for GraphQL the operation's
kind and root field ("mutation createToken"); "unmatched" for a path no route has."""
REQUEST_DURATION: Final = Histogram(
    "gxrtc_request_duration_seconds",
    "Time from a request's arrival in the app to the end of its answer, by face and operation.",
    ["face", "operation"],
    buckets=_REQUEST_BUCKETS,
)
REQUESTS_IN_FLIGHT: Final = Gauge(
    "gxrtc_requests_in_flight", "HTTP requests being answered now.", multiprocess_mode="livesum"
)
REQUESTS_SHED: Final = Counter(
    "gxrtc_requests_shed",
    "Requests refused by admission: overloaded (503), draining (503), client_share (429).",
    ["reason"],
)

# -- LiveKit -------------------------------------------------------------------------------------------

LIVEKIT_CALLS: Final = Counter(
    "gxrtc_livekit_calls",
    "Calls to LiveKit's server API by method and outcome (ok, or the error class a caller saw).",
    ["method", "outcome"],
)
LIVEKIT_DURATION: Final = Histogram(
    "gxrtc_livekit_call_duration_seconds",
    "Time of each call to LiveKit's server API, retries included, by method.",
    ["method"],
    buckets=_CALL_BUCKETS,
)
BREAKER_OPEN: Final = Gauge(
    "gxrtc_livekit_breaker_open",
    "1 while the circuit to LiveKit is open (calls fail fast) or half-open, 0 when closed.",
    multiprocess_mode="livemax",
)

# -- room events ---------------------------------------------------------------------------------------

SUBSCRIPTIONS_OPEN: Final = Gauge(
    "gxrtc_subscriptions_open", "GraphQL subscriptions to room events being served now.", multiprocess_mode="livesum"
)
EVENTS_PUBLISHED: Final = Counter(
    "gxrtc_events_published", "Room events published to the broker, by source (api, livekit, reconcile).", ["source"]
)
EVENTS_DEDUPLICATED: Final = Counter(
    "gxrtc_events_deduplicated", "Room events not published again: the same id was published within the TTL."
)
EVENTS_DELIVERED: Final = Counter("gxrtc_events_delivered", "Room events put in a subscriber's queue on this instance.")
EVENTS_DROPPED: Final = Counter(
    "gxrtc_events_dropped", "Room events a slow subscriber lost to its full queue (it resyncs from a snapshot)."
)
WEBHOOKS: Final = Counter(
    "gxrtc_webhooks",
    "LiveKit webhook deliveries by result: accepted, ignored (no room event) or the reason one was refused.",
    ["result"],
)
RECONCILER_REPAIRS: Final = Counter(
    "gxrtc_reconciler_repairs",
    "Room events the reconciler published for changes the event stream missed, by kind.",
    ["kind"],
)

# -- dependencies ----------------------------------------------------------------------------------

REDIS_DURATION: Final = Histogram(
    "gxrtc_redis_call_duration_seconds",
    "Time of each call to Redis, by operation.",
    ["operation"],
    buckets=_CALL_BUCKETS,
)
REDIS_ERRORS: Final = Counter(
    "gxrtc_redis_errors", "Calls to Redis that failed or timed out, by operation.", ["operation"]
)
DATABASE_DURATION: Final = Histogram(
    "gxrtc_database_transaction_duration_seconds", "Time of each moderation store transaction.", buckets=_CALL_BUCKETS
)
DATABASE_ERRORS: Final = Counter(
    "gxrtc_database_errors", "Moderation store transactions that failed or missed their deadline."
)

# -- tokens ----------------------------------------------------------------------------------------

TOKENS_MINTED: Final = Counter("gxrtc_tokens_minted", "LiveKit join tokens minted.")


def exposition() -> tuple[bytes, str]:
    """The current values in Prometheus' text format, and its content type: every worker's, when there are several."""
    if os.environ.get(MULTIPROCESS_VARIABLE):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST

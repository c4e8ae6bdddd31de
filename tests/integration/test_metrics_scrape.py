"""/metrics scraped by a real Prometheus (Debian's, on loopback): after N known requests, a query over
its HTTP API returns N, summed over the service's two workers (prometheus-client's multiprocess mode).

The service runs in production mode, so Prometheus scrapes with the admin credential, from a file, as
docs/operations.md tells an operator to; without it /metrics is refused.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from graphql_api.server.request_metrics import FLUSH_INTERVAL_SECONDS
from tests.harness.livekit_server import LiveKitServer
from tests.harness.prometheus_server import PrometheusServer
from tests.harness.redis_server import RedisServer
from tests.harness.service import Service, run_service
from tests.integration.conftest import service_settings

ADMIN_KEY = "scrape-admin-key-0123456789abcdef0123456789"
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
TOKEN_QUERY = "mutation($room: String!, $identity: String!) { createToken(room: $room, identity: $identity) { url } }"
TOKENS, GRAPHQL_TOKENS, LISTINGS = 23, 7, 3


@pytest.fixture(scope="module")
def scraped(livekit_server: LiveKitServer) -> Iterator[tuple[Service, PrometheusServer]]:
    # Two workers are two instances: they need a Redis (docs/workers.md).
    with RedisServer() as redis:
        settings = service_settings(
            livekit_server,
            GXRTC_ENV="production",
            GXRTC_ADMIN_KEY=ADMIN_KEY,
            GXRTC_WORKERS="2",
            GXRTC_REDIS_URL=redis.url,
        )
        yield from _scraped(settings)


def _scraped(settings: dict[str, str]) -> Iterator[tuple[Service, PrometheusServer]]:
    # Two workers import the app side by side: slow on a loaded machine.
    with run_service(settings, startup_timeout=120) as service:
        address = urlsplit(service.base_url).netloc
        with PrometheusServer([address], bearer=ADMIN_KEY) as prometheus:
            yield service, prometheus


def value(prometheus: PrometheusServer, expr: str) -> float | None:
    result = prometheus.query(expr)
    return float(result[0]["value"][1]) if result else None


def settle(prometheus: PrometheusServer, expr: str, expected: float, *, within: float = 30) -> float | None:
    """What `expr` is once it equals `expected`, or at the deadline (scrapes come every second)."""
    deadline = time.monotonic() + within
    seen = value(prometheus, expr)
    while seen != expected and time.monotonic() < deadline:
        time.sleep(0.5)
        seen = value(prometheus, expr)
    return seen


def test_metrics_refuse_a_scraper_without_the_credential(scraped: tuple[Service, PrometheusServer]) -> None:
    service, _ = scraped
    assert httpx.get(f"{service.base_url}/metrics", timeout=10).status_code == 401
    # The refusal may have been counted by the other worker, whose counts reach the shared files within a
    # second (graphql_api/server/request_metrics.py): scrape until they are there.
    deadline = time.monotonic() + 3 * FLUSH_INTERVAL_SECONDS
    while True:
        answer = httpx.get(f"{service.base_url}/metrics", headers=ADMIN, timeout=10)
        assert answer.status_code == 200
        if 'status="401"' in answer.text or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "gxrtc_requests_total" in answer.text
    assert 'operation="/metrics",status="401"' in answer.text


def test_prometheus_counts_every_request_across_the_workers(scraped: tuple[Service, PrometheusServer]) -> None:
    service, prometheus = scraped
    assert settle(prometheus, 'up{job="gxrtc"}', 1) == 1, prometheus.log_tail()
    # A connection per request, so the kernel spreads them over both workers.
    for n in range(TOKENS):
        answer = httpx.post(
            f"{service.api}/room/token", data={"uid": f"u{n}", "room": "scraped"}, headers=ADMIN, timeout=10
        )
        assert answer.status_code == 200, answer.text
    for n in range(GRAPHQL_TOKENS):
        variables = {"room": "scraped", "identity": f"g{n}"}
        answer = httpx.post(
            f"{service.base_url}/graphql",
            json={"query": TOKEN_QUERY, "variables": variables},
            headers=ADMIN,
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert "errors" not in answer.json()
    for _ in range(LISTINGS):
        assert httpx.get(f"{service.api}/room/", headers=ADMIN, timeout=10).status_code == 200

    rest = 'sum(gxrtc_requests_total{face="rest", operation="/api/v1/room/token", status="200"})'
    assert settle(prometheus, rest, TOKENS) == TOKENS
    graphql = 'sum(gxrtc_requests_total{face="graphql", operation="mutation createToken", status="200"})'
    assert settle(prometheus, graphql, GRAPHQL_TOKENS) == GRAPHQL_TOKENS
    assert settle(prometheus, "sum(gxrtc_tokens_minted_total)", TOKENS + GRAPHQL_TOKENS) == TOKENS + GRAPHQL_TOKENS
    histogram = 'sum(gxrtc_request_duration_seconds_count{face="rest", operation="/api/v1/room/token"})'
    assert settle(prometheus, histogram, TOKENS) == TOKENS
    listings = 'sum(gxrtc_livekit_calls_total{method="list_rooms", outcome="ok"})'
    seen = settle(prometheus, listings, LISTINGS)
    assert seen is not None
    assert seen >= LISTINGS  # the readiness probe lists rooms too, if anything asked for it
    assert value(prometheus, "max(gxrtc_livekit_breaker_open)") in (None, 0.0)

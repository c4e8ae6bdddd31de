"""Requests measured and logged around the whole app: counted by face, operation and status, whichever
layer answered them (the exact routes, FastAPI's router, admission), exposed at /metrics to admins only,
and one JSON line each in the gxrtc.access log, without credentials.

The real app over an unreachable LiveKit (tokens need none); metrics are the
process's, so each test compares two scrapes.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import jwt
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.harness.service_app import ADMIN, JWT_SECRET, KEY, TOKEN_QUERY, access_lines, client


async def scrape(http: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await http.get("/metrics", headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def requests(face: str, operation: str, status: int) -> tuple[str, tuple[tuple[str, str], ...]]:
    labels = {"face": face, "operation": operation, "status": str(status)}
    return "gxrtc_requests_total", tuple(sorted(labels.items()))


@pytest.mark.parametrize("telemetry", [False, True], ids=["telemetry-off", "telemetry-on"])
async def test_requests_are_counted_by_face_operation_and_status(telemetry: bool) -> None:
    async with client(telemetry=telemetry) as http:
        before = await scrape(http)
        for uid in ("u1", "u2", "u3"):
            answer = await http.post("/api/v1/room/token", data={"uid": uid, "room": "r1"}, headers=ADMIN)
            assert answer.status_code == 200
        for identity in ("i1", "i2"):
            answer = await http.post(
                "/graphql", json={"query": TOKEN_QUERY, "variables": {"room": "r", "identity": identity}}, headers=ADMIN
            )
            assert answer.status_code == 200
            assert "errors" not in answer.json()
        assert (await http.post("/graphql", json={"query": "{ nope }"}, headers=ADMIN)).status_code == 200
        assert (await http.delete("/api/v1/room/secret-room-name")).status_code == 401
        assert (await http.get("/nowhere/secret-path")).status_code == 404
        after = await scrape(http)

    def moved(key: tuple[str, tuple[tuple[str, str], ...]]) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert moved(requests("rest", "/api/v1/room/token", 200)) == 3
    assert moved(requests("graphql", "mutation createToken", 200)) == 2
    assert moved(requests("graphql", "(invalid)", 200)) == 1
    assert moved(requests("rest", "/api/v1/room/{room}", 401)) == 1
    assert moved(requests("service", "unmatched", 404)) == 1
    assert moved(requests("service", "/metrics", 200)) == 1  # the first scrape, counted by the second
    histogram = ("gxrtc_request_duration_seconds_count", (("face", "rest"), ("operation", "/api/v1/room/token")))
    assert moved(histogram) == 3
    assert moved(("gxrtc_tokens_minted_total", ())) == 5
    assert after[("gxrtc_requests_in_flight", ())] == 1  # the scrape itself
    labels = {value for _, series in after for _, value in series}
    assert not {"secret-room-name", "/nowhere/secret-path", "u1", "i1"} & labels


def bearer(**claims: Any) -> str:
    return "Bearer " + jwt.encode({"exp": int(time.time()) + 600, **claims}, JWT_SECRET, algorithm="HS256")


async def test_metrics_are_for_admins_only() -> None:
    async with client() as http:
        assert (await http.get("/metrics")).status_code == 401
        assert (await http.get("/metrics", headers={"authorization": "Bearer wrong-key"})).status_code == 401
        moderator = bearer(sub="mod", roles=["moderator"], rooms=["r"])
        refused = await http.get("/metrics", headers={"authorization": moderator})
        assert refused.status_code == 403
        assert refused.json()["meta"]["error"] == "forbidden"
        assert "gxrtc_" not in refused.text
    async with client(metrics=False) as http:
        assert (await http.get("/metrics", headers=ADMIN)).status_code == 404


async def test_without_metrics_requests_are_not_counted() -> None:
    """GXRTC_METRICS=false also takes the counting middleware away (what bench/observability.py weighs)."""
    async with client() as http:
        before = await scrape(http)
    async with client(metrics=False) as http:
        for uid in ("u1", "u2"):
            assert (await http.post("/api/v1/room/token", data={"uid": uid, "room": "r1"}, headers=ADMIN)).is_success
    async with client() as http:
        after = await scrape(http)
    key = requests("rest", "/api/v1/room/token", 200)
    assert after.get(key, 0.0) == before.get(key, 0.0)
    assert after[("gxrtc_tokens_minted_total", ())] - before[("gxrtc_tokens_minted_total", ())] == 2


async def test_one_json_line_per_request_without_credentials() -> None:
    user = bearer(sub="alice", roles=["user"])
    with access_lines() as lines:
        async with client(access_log=True) as http:
            await http.post("/api/v1/room/token", data={"uid": "alice", "room": "r1"}, headers={"authorization": user})
            await http.post("/graphql", json={"query": TOKEN_QUERY, "variables": {"room": "r", "identity": "x"}})
            await http.get("/api/v1/room/r1/participants?token=leaked", headers=ADMIN)
    entries = [json.loads(line) for line in lines]
    assert [(e["method"], e["route"], e["face"], e["status"], e["principal"]) for e in entries] == [
        ("POST", "/api/v1/room/token", "rest", 200, "alice"),
        ("POST", "mutation createToken", "graphql", 200, None),  # no credential: nobody is known
        ("GET", "/api/v1/room/{room}/participants", "rest", 503, entries[2]["principal"]),
    ]
    # Every request has its id (made here, since none was sent), as its answer's X-Request-ID says.
    assert all(e["request_id"] and e["duration_seconds"] >= 0 for e in entries)
    assert entries[2]["principal"]  # the admin key's principal, whatever it calls itself
    text = "\n".join(lines)
    for secret in (KEY, user.split()[1], "leaked", "r1"):
        assert secret not in text


async def test_the_access_log_is_off_unless_asked_for() -> None:
    with access_lines() as lines:
        async with client() as http:
            await http.get("/healthz")
    assert lines == []

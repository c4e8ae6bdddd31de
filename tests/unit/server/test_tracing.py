"""Traces through the real app, recorded by OpenTelemetry's SDK in memory: each request's span joins the
caller's trace (`traceparent`) and is named by its route, on the exact routes as on FastAPI's router, and
by operation for GraphQL; the LiveKit call and the database transaction a request makes are its children;
the access log line carries the trace id. With GXRTC_TELEMETRY off, nothing is recorded at all.

The app's LiveKit is unreachable (tests/harness/service_app.py), so its LiveKit spans are failures.
"""

from __future__ import annotations

import json

import pytest

from graphql_api._speedups import SPEEDUPS_VARIABLE
from tests.harness.service_app import ADMIN, TOKEN_QUERY, access_lines, client
from tests.harness.tracing import CALLER_SPAN_ID, TRACE_ID, TRACEPARENT, recorded_spans, trace_id

CALLER = {**ADMIN, "traceparent": TRACEPARENT}


@pytest.fixture(params=["on", "off"], ids=["speedups", "no-speedups"])
def speedups(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways: the exact routes (no FastAPI router) and FastAPI's router."""
    monkeypatch.setenv(SPEEDUPS_VARIABLE, request.param)
    return str(request.param)


async def test_a_token_requests_span_is_the_callers_child_and_named_by_its_route(speedups: str) -> None:
    with recorded_spans() as spans:
        async with client(telemetry=True) as http:
            answer = await http.post(
                "/api/v1/room/token", data={"uid": "u1", "room": f"traced-{speedups}"}, headers=CALLER
            )
            assert answer.status_code == 200
        request = spans.one("POST /api/v1/room/token")
        assert trace_id(request) == TRACE_ID
        assert request.parent is not None
        assert format(request.parent.span_id, "016x") == CALLER_SPAN_ID
        assert request.attributes is not None
        assert request.attributes["http.route"] == "/api/v1/room/token"
        assert request.attributes["http.response.status_code"] == 200
        # The room's bans and lock, read from the store for the admission decision.
        # (The app's own start-up and background work make transactions of their own, in no request's trace.)
        transactions = [span for span in spans.named("transaction") if request in spans.ancestors(span)]
        assert len(transactions) == 1
        assert transactions[0].attributes == {"db.system.name": "sqlite"}


async def test_graphql_requests_are_named_by_their_operation(speedups: str) -> None:
    with recorded_spans() as spans:
        async with client(telemetry=True) as http:
            variables = {"room": f"traced-graphql-{speedups}", "identity": "i"}
            answer = await http.post("/graphql", json={"query": TOKEN_QUERY, "variables": variables}, headers=CALLER)
            assert answer.status_code == 200
            assert "errors" not in answer.json()
            answer = await http.post("/graphql", json={"query": "{ rooms { name } }"}, headers=CALLER)
        minted = spans.one("POST /graphql mutation createToken")
        assert minted.attributes is not None
        assert minted.attributes["graphql.operation.type"] == "mutation"
        assert minted.attributes["http.route"] == "/graphql"
        assert trace_id(minted) == TRACE_ID
        listed = spans.one("POST /graphql query rooms")
        # The rooms come from LiveKit, which is not there: its call is the request's child, and failed.
        livekit = spans.under(listed, "LiveKit list_rooms")
        assert livekit.attributes is not None
        assert livekit.attributes["rpc.method"] == "list_rooms"
        assert livekit.attributes["error.type"] == "UpstreamUnavailable"
        assert livekit.status.status_code.name == "ERROR"


async def test_a_rest_call_to_livekit_is_a_child_of_its_request(speedups: str) -> None:
    with recorded_spans() as spans:
        async with client(telemetry=True) as http:
            answer = await http.get("/api/v1/room/r1/participants", headers=CALLER)
            assert answer.status_code == 503
        request = spans.one("GET /api/v1/room/{room}/participants")
        livekit = spans.one("LiveKit list_participants")
        assert request in spans.ancestors(livekit)
        assert trace_id(livekit) == TRACE_ID


async def test_the_access_log_line_has_the_trace_id_while_a_span_records() -> None:
    with recorded_spans(), access_lines() as lines:
        async with client(telemetry=True, access_log=True) as http:
            await http.post("/api/v1/room/token", data={"uid": "u", "room": "r"}, headers=CALLER)
            await http.post("/api/v1/room/token", data={"uid": "u", "room": "r"}, headers=ADMIN)
        async with client(access_log=True) as http:
            await http.post("/api/v1/room/token", data={"uid": "u", "room": "r"}, headers=CALLER)
    joined, fresh, untraced = (json.loads(line) for line in lines)
    assert joined["trace_id"] == TRACE_ID
    assert len(fresh["trace_id"]) == 32
    assert fresh["trace_id"] not in (TRACE_ID, "0" * 32)
    assert "trace_id" not in untraced


async def test_with_telemetry_off_nothing_is_recorded() -> None:
    with recorded_spans() as spans:
        async with client() as http:
            await http.post("/api/v1/room/token", data={"uid": "u", "room": "untraced"}, headers=CALLER)
            await http.post("/graphql", json={"query": "{ rooms { name } }"}, headers=CALLER)
        assert spans.all() == []


async def test_query_values_never_reach_the_span() -> None:
    with recorded_spans() as spans:
        async with client(telemetry=True) as http:
            await http.get("/api/v1/room?limit=5&access_token=leaked-token-value&sig", headers=CALLER)
        request = spans.one("GET /api/v1/room")
        assert request.attributes is not None
        assert request.attributes["url.query"] == "limit=REDACTED&access_token=REDACTED&sig=REDACTED"
        assert "leaked-token-value" not in repr([span.to_json() for span in spans.all()])

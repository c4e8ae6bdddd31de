"""The trace context reaches LiveKit: each call's request carries a `traceparent` naming that call's span,
with livekit-api signing every call itself and with its admin JWTs reused (`_speedups.livekit_headers`),
whose cached headers must never hold one call's trace context for the next.

LiveKit's side is a small aiohttp server here that records the headers it gets and answers ListRooms.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from livekit.protocol import room as room_proto
from opentelemetry import trace
from pydantic import SecretStr

from graphql_api._speedups import SPEEDUPS_VARIABLE
from graphql_api.core import tracing
from graphql_api.core.livekit import LiveKit
from graphql_api.settings import Settings
from tests.harness.ports import free_port
from tests.harness.tracing import recorded_spans


@pytest.fixture
async def recording_livekit() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    async def list_rooms(request: web.Request) -> web.Response:
        seen.append({name.lower(): value for name, value in request.headers.items()})
        body = room_proto.ListRoomsResponse().SerializeToString()
        return web.Response(body=body, content_type="application/protobuf")

    app = web.Application()
    app.router.add_post("/twirp/livekit.RoomService/ListRooms", list_rooms)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("speedups", ["on", "off"])
async def test_each_call_carries_its_own_spans_trace_context(
    speedups: str, recording_livekit: tuple[str, list[dict[str, str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = recording_livekit
    monkeypatch.setenv(SPEEDUPS_VARIABLE, speedups)
    settings = Settings(livekit_url=url, livekit_api_key="key", livekit_api_secret=SecretStr("s" * 32))
    with recorded_spans() as spans:
        tracing.enable(True)
        livekit = LiveKit.open(settings)
        try:
            tracer = trace.get_tracer("test")
            for request in ("first", "second"):
                with tracer.start_as_current_span(request):
                    await livekit.list_rooms()
            tracing.enable(False)
            await livekit.list_rooms()  # off: no span, nothing passed on
        finally:
            await livekit.aclose()
        calls = spans.named("LiveKit list_rooms")
    assert len(calls) == 2
    assert len(seen) == 3
    for call, headers in zip(calls, seen, strict=False):
        assert call.context is not None
        version, trace_id, parent_id, _flags = headers["traceparent"].split("-")
        assert (version, trace_id, parent_id) == ("00", f"{call.context.trace_id:032x}", f"{call.context.span_id:016x}")
        assert headers["authorization"].startswith("Bearer ")
    assert seen[0]["traceparent"] != seen[1]["traceparent"]
    assert "traceparent" not in seen[2]
    if speedups == "on":  # the reused JWT, while each request had its own trace context
        assert seen[0]["authorization"] == seen[1]["authorization"]

"""W3C trace context: with GXRTC_TELEMETRY on, FastAPI's native OpenTelemetry takes a caller's
`traceparent` as the parent of the request's span, so the service's spans join the caller's trace.

An operator brings an SDK, with its exporter, and sets it as the global provider; this test needs none
(tests/unit/server/test_tracing.py records spans with the SDK). It hands this app a provider of the
API's no-op tracers, which carry the extracted parent as the current span, which is what a route sees.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from opentelemetry import trace

from tests.harness.service_app import client

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


class NonRecording(trace.TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return trace.NoOpTracer()


def with_trace_probe(app: FastAPI) -> None:
    # As a configured global provider would be found: FastAPI's own per-app setting.
    app._telemetry["tracer_provider"] = NonRecording()

    @app.get("/trace-probe")
    async def probe() -> dict[str, str]:
        return {"trace_id": format(trace.get_current_span().get_span_context().trace_id, "032x")}


@pytest.mark.parametrize(("telemetry", "joined"), [(True, True), (False, False)])
async def test_a_callers_traceparent_is_the_requests_parent(telemetry: bool, joined: bool) -> None:
    async with client(with_trace_probe, telemetry=telemetry) as http:
        answer = await http.get("/trace-probe", headers={"traceparent": TRACEPARENT})
    assert answer.status_code == 200
    assert (answer.json()["trace_id"] == TRACE_ID) is joined

"""Admin JWTs for LiveKit signed once every few minutes, in place of livekit-api's signing on every call.

Tested by tests/unit/speedups/test_livekit_headers.py (one signature per set of
grants until it ages, never one shared between grants) and by the integration
suite against a real LiveKit, both ways. Off with `GXRTC_SPEEDUPS=off`:
livekit-api signs every call itself. The trace context (`traceparent`) is no
part of these headers: the session adds it to each request as it is sent
(`graphql_api.core.livekit`), so a cached header never carries one call's
trace to the next (tests/unit/core/test_livekit_trace_context.py, both ways).
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["reuse_auth_headers"]

_AUTH_HEADER_SECONDS = 300.0


def reuse_auth_headers(service: Any) -> None:
    """Sign each distinct set of grants once every few minutes, not once per call.

    livekit-api signs a fresh admin JWT (through `dataclasses.asdict`) for every
    server call, a noticeable share of a proxied read; its tokens live six
    hours, so one reused for five minutes is as good. Relies on the pinned
    livekit-api's `Service._auth_header(grants, sip)`.
    """
    sign = service._auth_header
    cache: dict[str, tuple[float, dict[str, str]]] = {}

    def auth_header(grants: Any, sip: Any = None) -> dict[str, str]:
        key = repr((grants, sip))
        now = time.monotonic()
        hit = cache.get(key)
        if hit is not None and now - hit[0] < _AUTH_HEADER_SECONDS:
            return hit[1]
        if len(cache) >= 4096:
            cache.clear()
        header: dict[str, str] = sign(grants, sip)
        cache[key] = (now, header)
        return header

    service._auth_header = auth_header

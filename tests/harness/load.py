"""Load from the test process, and what it measured: one request's sample, a session, percentiles.

For the reliability tests (faults, shutdown, shedding, bad input): aiohttp, not httpx, since at
tens of requests a second httpx's pool costs the test process more CPU than the service spends
answering. `livekit_api_calls` reads LiveKit's own log of the API calls it served.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from livekit import api
from livekit.protocol import room as room_proto

from tests.harness.livekit_server import LiveKitServer

TIMEOUT = 2.0  # GXRTC_LIVEKIT_TIMEOUT_SECONDS of the faults service
COOLDOWN = 2.0  # GXRTC_LIVEKIT_BREAKER_COOLDOWN_SECONDS
READ_RETRIES = 2  # the service's default GXRTC_LIVEKIT_READ_RETRIES
SLOWEST_ALLOWED = TIMEOUT + 1.0  # no answer may take longer, whatever LiveKit does
RECOVERY_ALLOWED = 5.0  # LiveKit back -> first success, given the breaker's cooldown
FAST = 0.5  # an answer that did not wait on LiveKit at all
OUTAGE_CODES = {503: "SERVICE_UNAVAILABLE", 504: "GATEWAY_TIMEOUT"}
EN = {"accept-language": "en"}


@contextlib.asynccontextmanager
async def livekit_api(server: LiveKitServer) -> AsyncIterator[api.LiveKitAPI]:
    client = api.LiveKitAPI(server.url, server.api_key, server.api_secret, failover=False)
    try:
        yield client
    finally:
        await client.aclose()


async def create_room(server: LiveKitServer, name: str) -> None:
    async with livekit_api(server) as lk:
        await lk.room.create_room(room_proto.CreateRoomRequest(name=name))


@dataclass
class Sample:
    """One request as the client saw it. Times are seconds since the run began."""

    kind: str
    sent: float
    latency: float
    status: int | None  # None: no HTTP answer at all (reset, refused, client timeout)
    meta: dict[str, Any] | None = None  # the envelope's meta
    gql_codes: list[str] = field(default_factory=list)  # GraphQL errors' extensions.code
    retry_after: str | None = None
    transport_error: str | None = None
    identity: str | None = None

    @property
    def answered(self) -> float:
        return self.sent + self.latency

    def describe(self) -> str:
        what = self.transport_error or f"{self.status} {self.meta or ''} {self.gql_codes or ''}".strip()
        return f"{self.kind} sent at {self.sent:.2f}s, {self.latency:.2f}s: {what}"


async def timed(
    session: aiohttp.ClientSession,
    t0: float,
    kind: str,
    method: str,
    url: str,
    *,
    body: Any = None,
    form: dict[str, str] | None = None,
    identity: str | None = None,
) -> Sample:
    """Send one request and record what came back. aiohttp, not httpx: at tens of requests a
    second httpx's pool costs the test process more CPU than the service spends answering."""
    start = time.monotonic()
    try:
        async with session.request(method, url, json=body, data=form) as response:
            raw = await response.read()
            status, retry_after = response.status, response.headers.get("retry-after")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Sample(kind, start - t0, time.monotonic() - start, None, transport_error=repr(exc), identity=identity)
    sample = Sample(kind, start - t0, time.monotonic() - start, status, retry_after=retry_after, identity=identity)
    try:
        decoded = json.loads(raw)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict):
        meta = decoded.get("meta")
        sample.meta = meta if isinstance(meta, dict) else None
        for error in decoded.get("errors") or []:
            sample.gql_codes.append(str((error.get("extensions") or {}).get("code")))
    return sample


def client_session(base_url: str, *, keep_alive: bool = True, limit: int = 300) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        base_url,
        connector=aiohttp.TCPConnector(limit=limit, force_close=not keep_alive),
        timeout=aiohttp.ClientTimeout(total=10),
        headers=EN,
    )


def livekit_api_calls(log_path: Path) -> list[dict[str, Any]]:
    """LiveKit's own record of the API calls it served: one `API RoomService.<Method>` info line
    each, whose last tab-separated field is JSON with `method`, `room`, `participant`, `status`."""
    calls = []
    for line in log_path.read_text(errors="replace").splitlines():
        if "\tAPI RoomService." not in line:
            continue
        with contextlib.suppress(ValueError):
            calls.append(json.loads(line[line.index("{") :]))
    return calls


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def outcome(sample: Sample) -> str:
    """ "ok" for the answer the request should get from a healthy LiveKit, "503"/"504" for an
    outage answer of the right shape, and "bad: ..." for anything else."""
    if sample.status is None:
        return f"bad: no answer ({sample.transport_error})"
    meta = sample.meta or {}
    if sample.kind == "graphql" and sample.status == 200:
        if not sample.gql_codes:
            return "ok"
        codes = set(sample.gql_codes)
        for status, code in OUTAGE_CODES.items():
            if codes == {code}:
                return str(status)
        return f"bad: GraphQL errors {sample.gql_codes}"
    if sample.status in OUTAGE_CODES:
        if meta.get("code") != sample.status:
            return f"bad: {sample.status} outside the envelope ({meta})"
        if sample.status == 503 and not (sample.retry_after or "").isdigit():
            return f"bad: 503 without a Retry-After ({sample.retry_after!r})"
        return str(sample.status)
    if meta.get("code") != sample.status:
        return f"bad: {sample.status} outside the envelope"
    if sample.kind in ("rooms", "participants", "readyz", "healthz") and sample.status == 200:
        return "ok"
    # The ghost never exists; after LiveKit's restart the room may not either (it lives in memory).
    if sample.kind in ("kick", "mute", "unmute", "participants") and sample.status == 404:
        return "ok"
    return f"bad: unexpected {sample.status} {meta}"

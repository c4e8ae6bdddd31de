"""The LiveKit adapter against a stand-in Twirp server on loopback, for faults a
real LiveKit cannot be made to produce on demand (a 503 on every call, a hang
on one method). The same calls are tested against a real LiveKit in the
integration suite."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from livekit.protocol import models
from livekit.protocol import room as room_proto
from pydantic import SecretStr

from graphql_api.core.livekit import Breaker, LiveKit
from graphql_api.errors import InvalidParameter, NotFound, UpstreamAuthError, UpstreamTimeout, UpstreamUnavailable
from graphql_api.settings import Settings


class StandIn:
    """Answers Twirp calls by method name with whatever the test sets."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.behaviour: dict[str, str] = {}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        self.calls[method] += 1
        behaviour = self.behaviour.get(method, "ok")
        if behaviour == "503":
            return web.json_response({"code": "unavailable", "msg": "down"}, status=503)
        if behaviour == "401":
            return web.json_response({"code": "unauthenticated", "msg": "bad key"}, status=401)
        if behaviour == "404":
            return web.json_response({"code": "not_found", "msg": "participant does not exist"}, status=404)
        if behaviour == "400":
            return web.json_response({"code": "invalid_argument", "msg": "name too long"}, status=400)
        if behaviour == "hang":
            await asyncio.sleep(1.5)
        if method == "ListRooms":
            body = room_proto.ListRoomsResponse(rooms=[models.Room(name="r")]).SerializeToString()
        else:
            body = models.ParticipantInfo(identity="p").SerializeToString()
        return web.Response(body=body, content_type="application/protobuf")


@pytest.fixture
async def stand_in() -> AsyncIterator[tuple[StandIn, str]]:
    server = StandIn()
    app = web.Application()
    app.router.add_post("/twirp/livekit.RoomService/{method}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield server, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def settings_for(url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "livekit_url": url,
        "livekit_api_key": "key",
        "livekit_api_secret": SecretStr("s" * 32),
        "livekit_timeout_seconds": 0.5,
        "livekit_breaker_threshold": 3,
        "livekit_breaker_cooldown_seconds": 0.3,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def livekit(stand_in: tuple[StandIn, str]) -> AsyncIterator[LiveKit]:
    client = LiveKit.open(settings_for(stand_in[1]))
    yield client
    await client.aclose()


async def test_reads_are_retried_and_writes_are_not(stand_in: tuple[StandIn, str]) -> None:
    server, url = stand_in
    server.behaviour = {"ListRooms": "503", "RemoveParticipant": "503"}
    livekit = LiveKit.open(settings_for(url, livekit_breaker_threshold=10))
    try:
        with pytest.raises(UpstreamUnavailable):
            await livekit.list_rooms()
        assert server.calls["ListRooms"] == 3  # one try and two retries
        with pytest.raises(UpstreamUnavailable):
            await livekit.remove_participant("r", "p")
        # Kick is not idempotent: sent exactly once, whatever the outcome.
        assert server.calls["RemoveParticipant"] == 1
    finally:
        await livekit.aclose()


async def test_client_errors_are_not_retried(stand_in: tuple[StandIn, str], livekit: LiveKit) -> None:
    server, _ = stand_in
    server.behaviour = {"GetParticipant": "404", "ListRooms": "400"}
    with pytest.raises(NotFound):
        await livekit.get_participant("r", "p")
    with pytest.raises(InvalidParameter):
        await livekit.list_rooms()
    assert server.calls == Counter({"GetParticipant": 1, "ListRooms": 1})
    assert livekit.breaker.state == "closed"


async def test_rejected_credentials_are_502_not_the_callers_401(
    stand_in: tuple[StandIn, str], livekit: LiveKit
) -> None:
    stand_in[0].behaviour = {"ListRooms": "401"}
    with pytest.raises(UpstreamAuthError) as caught:
        await livekit.list_rooms()
    assert caught.value.status == 502


async def test_a_hang_is_cut_at_the_timeout(stand_in: tuple[StandIn, str], livekit: LiveKit) -> None:
    stand_in[0].behaviour = {"ListRooms": "hang"}
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        await livekit.list_rooms()
    assert time.monotonic() - started < 0.5 + 0.3


async def test_breaker_fails_fast_then_probes(stand_in: tuple[StandIn, str], livekit: LiveKit) -> None:
    server, _ = stand_in
    server.behaviour = {"MutePublishedTrack": "503"}
    for _ in range(3):
        with pytest.raises(UpstreamUnavailable):
            await livekit.mute_track("r", "p", "TR_1", True)
    assert livekit.breaker.state == "open"
    sent = server.calls["MutePublishedTrack"]
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable) as caught:
        await livekit.list_rooms()
    assert time.monotonic() - started < 0.05
    assert caught.value.retry_after >= 1
    assert server.calls["ListRooms"] == 0
    assert server.calls["MutePublishedTrack"] == sent

    await asyncio.sleep(0.35)
    server.behaviour = {}
    assert [room.name for room in await livekit.list_rooms()] == ["r"]
    assert livekit.breaker.state == "closed"


async def test_unreachable_livekit_opens_the_breaker() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = LiveKit.open(settings_for(f"http://127.0.0.1:{port}", livekit_read_retries=0))
    try:
        for _ in range(3):
            with pytest.raises(UpstreamUnavailable):
                await client.list_rooms()
        assert client.breaker.state == "open"
    finally:
        await client.aclose()


def test_breaker_half_open_allows_one_probe() -> None:
    now = [0.0]
    breaker = Breaker(threshold=2, cooldown=1.0, clock=lambda: now[0])
    breaker.failed()
    breaker.before()
    breaker.failed()
    with pytest.raises(UpstreamUnavailable):
        breaker.before()
    now[0] = 1.5
    assert breaker.state == "half-open"
    breaker.before()  # the probe
    with pytest.raises(UpstreamUnavailable):
        breaker.before()  # no second probe while the first is out
    breaker.failed()
    assert breaker.state == "open"
    now[0] = 3.0
    breaker.before()
    breaker.succeeded()
    assert breaker.state == "closed"
    breaker.before()

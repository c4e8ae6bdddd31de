"""Join tokens: what the GraphQL face mints carries the claims asked for; a token from the service's own
minter admits a real rtc client; a forged one does not."""

from __future__ import annotations

import asyncio
import datetime
import time
from typing import Any

import pytest
from livekit import api, rtc
from livekit.api import TokenVerifier

from graphql_api.core.minter import TokenMinter
from tests.harness.livekit_server import LiveKitServer
from tests.harness.participants import ParticipantPool, join_participant

pytestmark = pytest.mark.integration


def _minter(server: LiveKitServer, *, secret: str | None = None) -> TokenMinter:
    return TokenMinter(server.api_key, secret or server.api_secret, server.ws_url)


async def _participant_with_audio(
    lkapi: api.LiveKitAPI, room: str, identity: str, *, timeout: float = 10.0
) -> tuple[api.ParticipantInfo, api.TrackInfo]:
    """Poll the server until it lists ``identity`` with a published audio track.

    The server registers the track a moment after the client's publish call returns.
    """
    deadline = time.monotonic() + timeout
    seen: list[api.ParticipantInfo] = []
    while time.monotonic() < deadline:
        resp = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
        seen = list(resp.participants)
        for info in seen:
            audio = [t for t in info.tracks if t.type == api.TrackType.AUDIO]
            if info.identity == identity and audio:
                return info, audio[0]
        await asyncio.sleep(0.1)
    summary = [(p.identity, [(t.type, t.source) for t in p.tracks]) for p in seen]
    raise AssertionError(f"{identity} with an audio track not listed in {room} within {timeout}s: {summary}")


async def test_minted_token_joins_and_publishes_microphone(
    livekit_server: LiveKitServer, lkapi: api.LiveKitAPI, participants: ParticipantPool, room_name: str
) -> None:
    joined = _minter(livekit_server).mint(identity="alice", room=room_name, ttl_seconds=600)

    alice = await participants.join(joined.token, audio=True)

    assert alice.connected
    assert alice.identity == "alice"
    assert alice.audio is not None
    info, track = await _participant_with_audio(lkapi, room_name, "alice")
    assert info.state == api.ParticipantInfo.State.ACTIVE
    assert track.sid == alice.audio.sid
    assert track.source == api.TrackSource.MICROPHONE
    assert not track.muted


async def test_token_signed_with_wrong_secret_is_refused(
    livekit_server: LiveKitServer, lkapi: api.LiveKitAPI, room_name: str
) -> None:
    forged = _minter(livekit_server, secret="not-the-server-secret-0123456789abcdef").mint(
        identity="mallory", room=room_name, ttl_seconds=600
    )

    # 401 means the server checked the signature and said no, rather than being unreachable.
    with pytest.raises(rtc.ConnectError, match="401"):
        await join_participant(livekit_server.ws_url, forged.token, audio=True)

    rooms = await lkapi.room.list_rooms(api.ListRoomsRequest(names=[room_name]))
    assert list(rooms.rooms) == [], "a refused join must not create the room"


async def test_create_token(graphql: Any, livekit_server: LiveKitServer, room_name: str) -> None:
    body = await graphql(
        'mutation($room: String!) { createToken(room: $room, identity: "bob", name: "Bob", ttlSeconds: 120)'
        " { token identity room expiresAt url } }",
        room=room_name,
    )
    assert "errors" not in body, body
    token = body["data"]["createToken"]
    assert token["url"] == livekit_server.ws_url
    claims = TokenVerifier(livekit_server.api_key, livekit_server.api_secret).verify(token["token"])
    assert (claims.identity, claims.name) == ("bob", "Bob")
    assert claims.video is not None
    assert claims.video.room == room_name
    expires = datetime.datetime.fromisoformat(token["expiresAt"])
    remaining = expires - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(seconds=100) < remaining <= datetime.timedelta(seconds=121)

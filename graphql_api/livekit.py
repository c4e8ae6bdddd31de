"""The process's one LiveKit session, and the translation of its failures.

`LiveKit` wraps a single `livekit.api.LiveKitAPI` over one pooled aiohttp
session, opened in the app's lifespan and closed on shutdown. Every call goes
through `_call`, which bounds it with the configured timeout and turns
LiveKit's Twirp errors and transport failures into our error tree, so no
caller ever sees an aiohttp or Twirp exception.

LiveKit's own failover retries are switched off: they only engage for LiveKit
Cloud hosts, and retries are this service's decision (never for kick, mute or
other non-idempotent calls).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

import aiohttp
from livekit import api
from livekit.protocol import models
from livekit.protocol import room as room_proto

from .errors import (
    Conflict,
    GxrtcError,
    InvalidParameter,
    NotFound,
    UpstreamAuthError,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from .settings import Settings

__all__ = ["LiveKit"]

log = logging.getLogger(__name__)
T = TypeVar("T")


def translate(exc: BaseException) -> GxrtcError:
    """Map a failure of a LiveKit call to the error a caller should see."""
    if isinstance(exc, api.TwirpError):
        code = exc.code
        if code in ("unauthenticated", "permission_denied") or exc.status in (401, 403):
            log.error("LiveKit rejected the service's credentials: %s", exc)
            return UpstreamAuthError()
        if code == "not_found" or exc.status == 404:
            return NotFound(exc.message or "not found")
        if code in ("invalid_argument", "malformed", "out_of_range"):
            return InvalidParameter("request", f"was refused by the media server: {exc.message or code}")
        if code in ("failed_precondition", "already_exists", "aborted"):
            return Conflict(f"the media server refused: {exc.message or code}")
        if code == "deadline_exceeded":
            return UpstreamTimeout()
        if code == "unavailable" or exc.status in (502, 503, 504):
            return UpstreamUnavailable()
        log.warning("LiveKit error: %s", exc)
        return UpstreamError(f"the media server answered: {exc.message or code}")
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamTimeout()
    if isinstance(exc, aiohttp.ClientError | OSError):
        return UpstreamUnavailable()
    raise exc


class LiveKit:
    def __init__(self, client: api.LiveKitAPI, session: aiohttp.ClientSession, timeout: float) -> None:
        self._client = client
        self._session = session
        self._timeout = timeout

    @classmethod
    def open(cls, settings: Settings) -> LiveKit:
        """Open the session; call inside the running event loop (the app lifespan)."""
        connector = aiohttp.TCPConnector(limit=settings.livekit_max_connections, ttl_dns_cache=300)
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=settings.livekit_timeout_seconds),
        )
        client = api.LiveKitAPI(
            settings.livekit_url,
            settings.livekit_api_key,
            settings.livekit_api_secret.get_secret_value(),
            session=session,
            failover=False,
        )
        return cls(client, session, settings.livekit_timeout_seconds)

    async def aclose(self) -> None:
        await self._client.aclose()
        await self._session.close()

    async def _call(self, call: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                return await call
        except GxrtcError:
            raise
        except Exception as exc:
            raise translate(exc) from exc

    # Rooms

    async def list_rooms(self, names: list[str] | None = None) -> list[models.Room]:
        response = await self._call(self._client.room.list_rooms(room_proto.ListRoomsRequest(names=names or [])))
        return list(response.rooms)

    async def create_room(self, request: room_proto.CreateRoomRequest) -> models.Room:
        return await self._call(self._client.room.create_room(request))

    async def delete_room(self, name: str) -> None:
        await self._call(self._client.room.delete_room(room_proto.DeleteRoomRequest(room=name)))

    # Participants

    async def list_participants(self, room: str) -> list[models.ParticipantInfo]:
        response = await self._call(self._client.room.list_participants(room_proto.ListParticipantsRequest(room=room)))
        return list(response.participants)

    async def get_participant(self, room: str, identity: str) -> models.ParticipantInfo:
        return await self._call(
            self._client.room.get_participant(room_proto.RoomParticipantIdentity(room=room, identity=identity))
        )

    async def remove_participant(self, room: str, identity: str) -> None:
        await self._call(
            self._client.room.remove_participant(room_proto.RoomParticipantIdentity(room=room, identity=identity))
        )

    async def mute_track(self, room: str, identity: str, track_sid: str, muted: bool) -> models.TrackInfo:
        response = await self._call(
            self._client.room.mute_published_track(
                room_proto.MuteRoomTrackRequest(room=room, identity=identity, track_sid=track_sid, muted=muted)
            )
        )
        return response.track

    async def update_participant(self, request: room_proto.UpdateParticipantRequest) -> models.ParticipantInfo:
        return await self._call(self._client.room.update_participant(request))

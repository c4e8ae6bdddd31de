"""The process's one LiveKit session, and the translation of its failures.

`LiveKit` wraps a single `livekit.api.LiveKitAPI` over one pooled aiohttp
session, opened in the app's lifespan and closed on shutdown. Every call goes
through `_call`, which bounds it with the configured timeout and turns
LiveKit's Twirp errors and transport failures into our error tree, so no
caller ever sees an aiohttp or Twirp exception.

LiveKit's own failover retries are switched off: they only engage for LiveKit
Cloud hosts, and retries are this service's decision (never for kick, mute or
other non-idempotent calls).

Each call is a client span (`tracing`), and the session passes the current
trace context on to LiveKit in every request's headers (`traceparent`), added
by an aiohttp trace hook as the request is sent: below livekit-api's headers,
so its own signing and the reused admin JWTs (`_speedups.livekit_headers`)
stay as they are, never holding a trace context.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import TypeVar

import aiohttp
from livekit import api
from livekit.protocol import models
from livekit.protocol import room as room_proto

from .. import _speedups
from .._speedups.livekit_headers import reuse_auth_headers
from ..errors import (
    Conflict,
    GxrtcError,
    InvalidParameter,
    NotFound,
    UpstreamAuthError,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from ..settings import Settings
from . import tracing
from .metrics import BREAKER_OPEN, LIVEKIT_CALLS, LIVEKIT_DURATION
from .redaction import redact

__all__ = ["Breaker", "LiveKit", "translate"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_SPAN_ATTRIBUTES = {"rpc.system.name": "twirp", "rpc.service": "livekit.RoomService"}


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
        if code == "unavailable" or exc.status >= 500:
            return UpstreamUnavailable()
        log.warning("LiveKit error: %s", exc)
        return UpstreamError(f"the media server answered: {exc.message or code}")
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamTimeout()
    if isinstance(exc, aiohttp.ClientError | OSError):
        return UpstreamUnavailable()
    raise exc


class Breaker:
    """Stops waiting on a LiveKit that keeps failing, and probes it again after a pause.

    After `threshold` failures in a row (refused connections, timeouts, 5xx),
    calls fail at once with 503 and a Retry-After for `cooldown` seconds; then
    one call goes through as a probe, and its outcome closes or reopens the
    breaker. Answers of any kind from LiveKit, errors included, count as life.
    """

    def __init__(self, threshold: int, cooldown: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half-open" if self._clock() >= self._opened_at + self.cooldown else "open"

    def retry_after(self) -> int:
        if self._opened_at is None:
            return 0
        return max(1, math.ceil(self._opened_at + self.cooldown - self._clock()))

    def before(self) -> None:
        if self._opened_at is None:
            return
        if self._clock() < self._opened_at + self.cooldown or self._probing:
            raise UpstreamUnavailable(retry_after=self.retry_after())
        self._probing = True

    def succeeded(self) -> None:
        if self._opened_at is not None:
            log.warning("LiveKit answers again; closing the circuit")
            BREAKER_OPEN.set(0)
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def failed(self) -> None:
        self._failures += 1
        if self._probing or (self._opened_at is None and self._failures >= self.threshold):
            log.error("LiveKit failed %d times in a row; failing fast for %.1fs", self._failures, self.cooldown)
            self._opened_at = self._clock()
            BREAKER_OPEN.set(1)
        self._probing = False


async def _pass_trace_context(
    _session: aiohttp.ClientSession, _context: SimpleNamespace, params: aiohttp.TraceRequestStartParams
) -> None:
    if tracing.enabled():
        tracing.inject(params.headers)


def _tracing_hooks() -> aiohttp.TraceConfig:
    hooks = aiohttp.TraceConfig()
    hooks.on_request_start.append(_pass_trace_context)
    return hooks


def _is_outage(error: GxrtcError) -> bool:
    return isinstance(error, UpstreamUnavailable | UpstreamTimeout)


class LiveKit:
    def __init__(
        self,
        client: api.LiveKitAPI,
        session: aiohttp.ClientSession,
        *,
        timeout: float,
        read_retries: int = 2,
        breaker: Breaker | None = None,
    ) -> None:
        self._client = client
        self._session = session
        self._timeout = timeout
        self._read_retries = read_retries
        self.breaker = breaker or Breaker(threshold=5, cooldown=5.0)

    @classmethod
    def open(cls, settings: Settings) -> LiveKit:
        """Open the session; call inside the running event loop (the app lifespan)."""
        connector = aiohttp.TCPConnector(limit=settings.livekit_max_connections, ttl_dns_cache=300)
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=settings.livekit_timeout_seconds),
            trace_configs=[_tracing_hooks()],
        )
        client = api.LiveKitAPI(
            settings.livekit_url,
            settings.livekit_api_key,
            settings.livekit_api_secret.get_secret_value(),
            session=session,
            failover=False,
        )
        if _speedups.enabled():
            reuse_auth_headers(client.room)
        return cls(
            client,
            session,
            timeout=settings.livekit_timeout_seconds,
            read_retries=settings.livekit_read_retries,
            breaker=Breaker(settings.livekit_breaker_threshold, settings.livekit_breaker_cooldown_seconds),
        )

    async def aclose(self) -> None:
        await self._client.aclose()
        await self._session.close()

    async def _call(self, method: str, call: Callable[[], Awaitable[T]], *, idempotent: bool = False) -> T:
        """`_bounded`, measured and traced: gxrtc_livekit_calls_total and its latency, by method and outcome."""
        started = time.perf_counter()
        outcome = "ok"
        with tracing.client_span(f"LiveKit {method}", {**_SPAN_ATTRIBUTES, "rpc.method": method}) as span:
            try:
                return await self._bounded(call, idempotent=idempotent)
            except GxrtcError as error:
                outcome = type(error).__name__
                tracing.failed(span, outcome)
                raise
            finally:
                LIVEKIT_CALLS.labels(method, outcome).inc()
                LIVEKIT_DURATION.labels(method).observe(time.perf_counter() - started)

    async def _bounded(self, call: Callable[[], Awaitable[T]], *, idempotent: bool = False) -> T:
        """One LiveKit call within the timeout; reads are retried on outages, with jittered backoff.

        The timeout bounds the whole call, retries included, so a caller never
        waits longer than the setting whatever happens upstream.
        """
        attempts = 1 + (self._read_retries if idempotent else 0)
        try:
            async with asyncio.timeout(self._timeout):
                for attempt in range(attempts):
                    self.breaker.before()
                    try:
                        result = await call()
                    except GxrtcError:
                        raise
                    except Exception as exc:
                        error = translate(exc)
                        if not _is_outage(error):
                            self.breaker.succeeded()
                            raise error from exc
                        self.breaker.failed()
                        # A refused connection is worth another try; a timeout has spent the budget.
                        if attempt + 1 == attempts or not isinstance(error, UpstreamUnavailable):
                            raise error from exc
                        await asyncio.sleep(0.05 * 2**attempt * random.uniform(0.5, 1.5))
                    else:
                        self.breaker.succeeded()
                        return result
        except TimeoutError as exc:
            self.breaker.failed()
            raise UpstreamTimeout() from exc
        raise AssertionError("unreachable")

    # Rooms

    async def list_rooms(self, names: list[str] | None = None) -> list[models.Room]:
        request = room_proto.ListRoomsRequest(names=names or [])
        response = await self._call("list_rooms", lambda: self._client.room.list_rooms(request), idempotent=True)
        for room in response.rooms:
            redact(room)
        return list(response.rooms)

    async def create_room(self, request: room_proto.CreateRoomRequest) -> models.Room:
        room = await self._call("create_room", lambda: self._client.room.create_room(request))
        redact(room)
        return room

    async def delete_room(self, name: str) -> None:
        await self._call("delete_room", lambda: self._client.room.delete_room(room_proto.DeleteRoomRequest(room=name)))

    # Participants

    async def list_participants(self, room: str) -> list[models.ParticipantInfo]:
        request = room_proto.ListParticipantsRequest(room=room)
        response = await self._call(
            "list_participants", lambda: self._client.room.list_participants(request), idempotent=True
        )
        return list(response.participants)

    async def get_participant(self, room: str, identity: str) -> models.ParticipantInfo:
        request = room_proto.RoomParticipantIdentity(room=room, identity=identity)
        return await self._call("get_participant", lambda: self._client.room.get_participant(request), idempotent=True)

    async def remove_participant(self, room: str, identity: str) -> None:
        request = room_proto.RoomParticipantIdentity(room=room, identity=identity)
        await self._call("remove_participant", lambda: self._client.room.remove_participant(request))

    async def mute_track(self, room: str, identity: str, track_sid: str, muted: bool) -> models.TrackInfo:
        request = room_proto.MuteRoomTrackRequest(room=room, identity=identity, track_sid=track_sid, muted=muted)
        response = await self._call("mute_published_track", lambda: self._client.room.mute_published_track(request))
        return response.track

    async def update_participant(self, request: room_proto.UpdateParticipantRequest) -> models.ParticipantInfo:
        return await self._call("update_participant", lambda: self._client.room.update_participant(request))

"""Real LiveKit participants for integration tests, built on the ``livekit`` rtc SDK.

``join_participant(ws_url, token, audio=True)`` connects, optionally publishes a
generated microphone track (a continuous sine wave) and/or camera track, and
returns a :class:`Participant`. Media is pushed from background tasks at real-time
pace for as long as the participant lives, so the server sees live tracks.

Every room event is recorded, so a test can wait for an effect that may already
have happened by the time it starts waiting::

    mark = alice.mark()
    await lkapi.room.mute_published_track(...)
    await alice.wait_for("track_muted", lambda participant, publication: publication.sid == sid, since=mark)

Predicates receive the event's arguments exactly as ``rtc.Room.on`` callbacks do
(see the list in ``rtc.Room.on``'s docstring), e.g. ``("disconnected", reason)``
or ``("participant_attributes_changed", changed_attributes, participant)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from array import array
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, get_args

from livekit import rtc
from livekit.rtc.room import EventTypes

__all__ = [
    "AudioSpec",
    "EventTimeout",
    "Participant",
    "ParticipantPool",
    "RecordedEvent",
    "VideoSpec",
    "join_participant",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
ALL_EVENTS: tuple[str, ...] = get_args(EventTypes)


@dataclass(frozen=True)
class AudioSpec:
    sample_rate: int = 48000
    num_channels: int = 1
    frequency: float = 400.0
    """Hz; 400 divides 48 kHz evenly, so one precomputed frame loops without a click."""
    amplitude: float = 0.3
    frame_ms: int = 20
    track_name: str = "microphone"
    source: rtc.TrackSource.ValueType = rtc.TrackSource.SOURCE_MICROPHONE


@dataclass(frozen=True)
class VideoSpec:
    width: int = 320
    height: int = 240
    fps: float = 10.0
    track_name: str = "camera"
    source: rtc.TrackSource.ValueType = rtc.TrackSource.SOURCE_CAMERA


@dataclass(frozen=True)
class RecordedEvent:
    index: int
    name: str
    args: tuple[Any, ...]
    at: float
    """time.monotonic() when the event was delivered."""


@dataclass
class _Waiter:
    name: str
    predicate: Callable[..., bool] | None
    future: asyncio.Future[RecordedEvent]


class EventTimeout(AssertionError):
    """An awaited event did not arrive; the message lists what did."""


@dataclass(eq=False)
class Participant:
    """A connected rtc participant. Use :func:`join_participant` to make one."""

    room: rtc.Room
    identity: str
    audio: rtc.LocalTrackPublication | None = None
    video: rtc.LocalTrackPublication | None = None
    audio_source: rtc.AudioSource | None = None
    video_source: rtc.VideoSource | None = None
    events: list[RecordedEvent] = field(default_factory=list)
    generator_errors: list[BaseException] = field(default_factory=list)
    _waiters: list[_Waiter] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _closed: bool = False

    # -- events ---------------------------------------------------------------

    def _attach(self) -> None:
        for name in ALL_EVENTS:
            self.room.on(name, self._recorder(name))  # type: ignore[arg-type]

    def _recorder(self, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self._record(name, args)

        return record

    def _record(self, name: str, args: tuple[Any, ...]) -> None:
        event = RecordedEvent(len(self.events), name, args, time.monotonic())
        self.events.append(event)
        for waiter in list(self._waiters):
            if waiter.future.done():
                continue
            try:
                if self._matches(waiter.name, waiter.predicate, event):
                    waiter.future.set_result(event)
            except Exception as exc:
                # A broken predicate should fail its own test, not the SDK's event dispatch.
                waiter.future.set_exception(exc)

    @staticmethod
    def _matches(name: str, predicate: Callable[..., bool] | None, event: RecordedEvent) -> bool:
        return event.name == name and (predicate is None or bool(predicate(*event.args)))

    def mark(self) -> int:
        """A cursor for ``since=``: only events recorded after this call will match."""
        return len(self.events)

    def events_named(self, name: str, *, since: int = 0) -> list[RecordedEvent]:
        return [e for e in self.events[since:] if e.name == name]

    async def wait_for(
        self,
        name: str,
        predicate: Callable[..., bool] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        since: int = 0,
    ) -> RecordedEvent:
        """The first event ``name`` at or after index ``since`` that satisfies ``predicate``.

        Already-recorded events count, so an effect that raced ahead of the caller is not missed.
        """
        if name not in ALL_EVENTS:
            raise ValueError(f"unknown room event {name!r}")
        for event in self.events[since:]:
            if self._matches(name, predicate, event):
                return event
        waiter = _Waiter(name, predicate, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter.future, timeout)
        except TimeoutError:
            seen = _summarize(self.events[since:])
            raise EventTimeout(
                f"{self.identity}: no {name!r} event matching the predicate within {timeout}s; "
                f"events since #{since}: {seen}"
            ) from None
        finally:
            self._waiters.remove(waiter)

    async def wait_disconnected(self, *, timeout: float = DEFAULT_TIMEOUT, since: int = 0) -> Any:
        """The DisconnectReason the server gave (e.g. PARTICIPANT_REMOVED after a kick)."""
        event = await self.wait_for("disconnected", timeout=timeout, since=since)
        return event.args[0] if event.args else None

    async def wait_until(
        self, condition: Callable[[], bool], *, timeout: float = DEFAULT_TIMEOUT, interval: float = 0.05
    ) -> None:
        """Poll local SDK state (publication.muted, local_participant.permissions, ...) until true."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() >= deadline:
                recent = _summarize(self.events[-15:])
                raise EventTimeout(f"{self.identity}: condition still false after {timeout}s; last events: {recent}")
            await asyncio.sleep(interval)

    # -- state shortcuts ---------------------------------------------------------

    @property
    def local(self) -> rtc.LocalParticipant:
        return self.room.local_participant

    @property
    def connected(self) -> bool:
        return self.room.isconnected()

    @property
    def sid(self) -> str:
        return self.room.local_participant.sid

    # -- lifecycle ----------------------------------------------------------------

    def _start(self, coro: Awaitable[None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(f"{self.identity}:{name}")
        self._tasks.append(task)

    async def aclose(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Stop the media generators and leave the room. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        try:
            await asyncio.wait_for(self.room.disconnect(), timeout)
        except TimeoutError:
            log.warning("%s: disconnect did not finish within %ss", self.identity, timeout)
        for source in (self.audio_source, self.video_source):
            if source is not None:
                with contextlib.suppress(Exception):
                    await source.aclose()
        for waiter in self._waiters:
            waiter.future.cancel()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- media --------------------------------------------------------------------

    async def publish_audio(self, spec: AudioSpec | None = None) -> rtc.LocalTrackPublication:
        spec = spec or AudioSpec()
        source = rtc.AudioSource(spec.sample_rate, spec.num_channels)
        track = rtc.LocalAudioTrack.create_audio_track(spec.track_name, source)
        # Generate before publishing, so the track carries audio from its first packet.
        self.audio_source = source
        self._start(self._pump_audio(source, spec), "audio")
        self.audio = await self.local.publish_track(track, rtc.TrackPublishOptions(source=spec.source))
        return self.audio

    async def publish_video(self, spec: VideoSpec | None = None) -> rtc.LocalTrackPublication:
        spec = spec or VideoSpec()
        source = rtc.VideoSource(spec.width, spec.height)
        track = rtc.LocalVideoTrack.create_video_track(spec.track_name, source)
        self.video_source = source
        self._start(self._pump_video(source, spec), "video")
        self.video = await self.local.publish_track(track, rtc.TrackPublishOptions(source=spec.source))
        return self.video

    def _generator_failed(self, kind: str, exc: Exception) -> None:
        # Keep the first error visible but don't flood the log at frame rate.
        if not self.generator_errors:
            log.warning("%s: %s generator error (further ones not logged): %r", self.identity, kind, exc)
        self.generator_errors.append(exc)

    async def _pump_audio(self, source: rtc.AudioSource, spec: AudioSpec) -> None:
        samples = spec.sample_rate * spec.frame_ms // 1000
        frame = rtc.AudioFrame(_sine_pcm(spec, samples), spec.sample_rate, spec.num_channels, samples)
        period = spec.frame_ms / 1000
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            try:
                await source.capture_frame(frame)
            except Exception as exc:
                self._generator_failed("audio", exc)
            deadline += period
            # After a stall (e.g. a busy event loop) resync instead of bursting to catch up.
            deadline = max(deadline, loop.time() - period)
            await asyncio.sleep(max(0.0, deadline - loop.time()))

    async def _pump_video(self, source: rtc.VideoSource, spec: VideoSpec) -> None:
        frames = [
            rtc.VideoFrame(spec.width, spec.height, rtc.VideoBufferType.RGBA, _solid_rgba(spec, rgb))
            for rgb in ((200, 40, 40), (40, 200, 40), (40, 40, 200))
        ]
        period = 1 / spec.fps
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        n = 0
        while True:
            try:
                # Change colour every second so the encoder has real content to send.
                source.capture_frame(frames[int(n / spec.fps) % len(frames)])
            except Exception as exc:
                self._generator_failed("video", exc)
            n += 1
            deadline = max(deadline + period, loop.time() - period)
            await asyncio.sleep(max(0.0, deadline - loop.time()))


def _summarize(events: Sequence[RecordedEvent], limit: int = 30) -> str:
    names = [e.name for e in events[-limit:]]
    skipped = len(events) - len(names)
    return (f"({skipped} earlier) " if skipped else "") + (", ".join(names) or "none")


def _sine_pcm(spec: AudioSpec, samples: int) -> bytes:
    peak = int(32767 * spec.amplitude)
    mono = [int(peak * math.sin(2 * math.pi * spec.frequency * i / spec.sample_rate)) for i in range(samples)]
    pcm = array("h", (s for s in mono for _ in range(spec.num_channels)))
    return pcm.tobytes()


def _solid_rgba(spec: VideoSpec, rgb: tuple[int, int, int]) -> bytes:
    return bytes((*rgb, 255)) * (spec.width * spec.height)


async def join_participant(
    ws_url: str,
    token: str,
    *,
    audio: bool | AudioSpec = False,
    video: bool | VideoSpec = False,
    auto_subscribe: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    identity: str | None = None,
) -> Participant:
    """Connect with ``token`` and publish the requested generated tracks.

    Raises ``rtc.ConnectError`` when the server refuses the token, ``TimeoutError``
    when connecting or publishing takes longer than ``timeout`` seconds.
    """
    room = rtc.Room()
    participant = Participant(room=room, identity=identity or "?")
    # Listen before connecting: some events (e.g. permissions) can arrive during the handshake.
    participant._attach()
    options = rtc.RoomOptions(auto_subscribe=auto_subscribe, connect_timeout=timeout)
    try:
        await asyncio.wait_for(room.connect(ws_url, token, options), timeout)
        participant.identity = room.local_participant.identity
        if audio:
            spec = audio if isinstance(audio, AudioSpec) else None
            await asyncio.wait_for(participant.publish_audio(spec), timeout)
        if video:
            vspec = video if isinstance(video, VideoSpec) else None
            await asyncio.wait_for(participant.publish_video(vspec), timeout)
    except BaseException:
        await participant.aclose()
        raise
    return participant


class ParticipantPool:
    """Joins participants against one server and closes them all at the end of a test."""

    def __init__(self, ws_url: str) -> None:
        self.ws_url = ws_url
        self.participants: list[Participant] = []

    async def join(self, token: str, **kwargs: Any) -> Participant:
        """Same keywords as :func:`join_participant`."""
        participant = await join_participant(self.ws_url, token, **kwargs)
        self.participants.append(participant)
        return participant

    async def aclose(self) -> None:
        await _close_all(self.participants)
        self.participants.clear()


async def _close_all(participants: Sequence[Participant]) -> None:
    results = await asyncio.gather(*(p.aclose() for p in participants), return_exceptions=True)
    for p, result in zip(participants, results, strict=True):
        if isinstance(result, BaseException):
            log.warning("%s: error while closing: %r", p.identity, result)

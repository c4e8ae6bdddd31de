"""Signal-only LiveKit participants: the join handshake of a real client, without WebRTC.

Each :class:`SignalParticipant` opens LiveKit's signal WebSocket (``ws://127.0.0.1:<port>/rtc``) with a
join token, exactly as every client SDK starts, waits for the server's ``JoinResponse`` and then keeps
the socket alive (it answers the server's WebSocket pings and sends LiveKit ``ping_req`` messages).
LiveKit treats it as a participant of the room: it gets a SID, is counted in ``num_participants`` and is
listed by ``ListParticipants`` / ``GetParticipant`` with state ``JOINED``. It never answers the
subscriber offer, so it never becomes ``ACTIVE`` and has no tracks.

Why not the rtc SDK (``tests/harness/participants.py``)? Measured on this 2-core machine with ``livekit`` 1.2.0,
joining without publishing media and with ``auto_subscribe=False``, in batches of 25:

* 150 clients took 31 s to join and held ~970 MB RSS in the joining process;
* once joined and idle they kept one FFI ``tokio-rt-worker`` thread busy: ~1.1 CPU cores in total
  (30 clients already ~1 core, 3 clients ~0.1 core), i.e. half of this machine while the benchmark runs,
  which would distort every figure of a CPU-bound service;
* their ICE checks leave from the host's own (non-loopback) addresses, and this benchmark keeps all
  traffic on 127.0.0.1.

Signal-only participants cost next to nothing (200 joined in 0.8 s for ~2 ms of CPU each; idle, all 200
together used ~0.02 cores) and use only loopback. The catch: LiveKit removes a participant that never
becomes ``ACTIVE`` one minute after it joined (``JOIN_TIMEOUT``, pkg/rtc/room.go), so a scenario joins its
participants right before it measures, stops sampling 50 s after the join, checks every answer for the
expected participants, and leaves at the end. For what the benchmark reads (``ListParticipants`` of rooms
whose participants publish nothing) the answer has the same shape as with rtc clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from livekit import api
from livekit.protocol import models
from livekit.protocol import rtc as lkrtc

__all__ = ["PoolProcess", "SignalParticipant", "SignalPool", "join_token"]

log = logging.getLogger(__name__)

# The signal protocol version the current client SDKs speak; v1.13 accepts it on /rtc.
_ROOT = Path(__file__).resolve().parent.parent
_PROTOCOL = "16"
_JOIN_TIMEOUT = 15.0
_PING_INTERVAL = 5.0


def join_token(api_key: str, api_secret: str, room: str, identity: str, ttl_seconds: int = 600) -> str:
    """A plain LiveKit join token, minted by the benchmark itself (not through the service)."""
    return (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_ttl(timedelta(seconds=ttl_seconds))
        .with_grants(api.VideoGrants(room_join=True, room=room))
        .to_jwt()
    )


@dataclass(eq=False)
class SignalParticipant:
    room: str
    identity: str
    sid: str = ""
    joined_at: float = 0.0
    """time.monotonic() when the JoinResponse arrived."""
    closed_by_server: bool = False
    _ws: aiohttp.ClientWebSocketResponse | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    async def join(self, session: aiohttp.ClientSession, ws_url: str, token: str) -> None:
        params = {"access_token": token, "auto_subscribe": "0", "protocol": _PROTOCOL, "sdk": "python"}
        async with asyncio.timeout(_JOIN_TIMEOUT):
            ws = await session.ws_connect(f"{ws_url}/rtc", params=params, autoping=True, heartbeat=None)
            self._ws = ws
            while True:
                message = await ws.receive()
                if message.type != aiohttp.WSMsgType.BINARY:
                    raise RuntimeError(f"{self.identity}: signal socket gave {message.type!r} before joining")
                response = lkrtc.SignalResponse()
                response.ParseFromString(message.data)
                if response.WhichOneof("message") == "join":
                    self.sid = response.join.participant.sid
                    self.joined_at = time.monotonic()
                    break
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._ping())]

    async def _read(self) -> None:
        assert self._ws is not None
        # Reading is what answers the server's WebSocket pings; everything else is ignored.
        async for message in self._ws:
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.ERROR):
                break
        self.closed_by_server = True

    async def _ping(self) -> None:
        assert self._ws is not None
        while not self._ws.closed:
            await asyncio.sleep(_PING_INTERVAL)
            ping = lkrtc.SignalRequest(ping_req=lkrtc.Ping(timestamp=int(time.time() * 1000)))
            with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                await self._ws.send_bytes(ping.SerializeToString())

    async def leave(self) -> None:
        ws, self._ws = self._ws, None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if ws is None or ws.closed:
            return
        leave = lkrtc.SignalRequest(
            leave=lkrtc.LeaveRequest(
                reason=models.DisconnectReason.CLIENT_INITIATED, action=lkrtc.LeaveRequest.Action.DISCONNECT
            )
        )
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await ws.send_bytes(leave.SerializeToString())
                await ws.close()


class SignalPool:
    """Joins many signal participants with bounded concurrency; :meth:`aclose` makes them all leave."""

    def __init__(self, ws_url: str, api_key: str, api_secret: str, *, concurrency: int = 32) -> None:
        self.ws_url = ws_url
        self._key = api_key
        self._secret = api_secret
        self._limit = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None
        self.participants: list[SignalParticipant] = []

    async def join_all(self, specs: Sequence[tuple[str, str]]) -> float:
        """Join ``(room, identity)`` pairs; returns the wall time in seconds. Raises if any join fails."""
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        session = self._session
        started = time.perf_counter()

        async def one(room: str, identity: str) -> SignalParticipant:
            participant = SignalParticipant(room=room, identity=identity)
            async with self._limit:
                await participant.join(session, self.ws_url, join_token(self._key, self._secret, room, identity))
            return participant

        results = await asyncio.gather(*(one(r, i) for r, i in specs), return_exceptions=True)
        joined = [r for r in results if isinstance(r, SignalParticipant)]
        self.participants.extend(joined)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise RuntimeError(f"{len(failures)} of {len(specs)} signal joins failed; first: {failures[0]!r}")
        return time.perf_counter() - started

    def oldest_age(self) -> float:
        """Seconds since the earliest join still in the pool (LiveKit drops them at 60 s)."""
        if not self.participants:
            return 0.0
        return time.monotonic() - min(p.joined_at for p in self.participants)

    def dropped(self) -> list[SignalParticipant]:
        return [p for p in self.participants if p.closed_by_server or not p.connected]

    async def leave_all(self) -> None:
        participants, self.participants = self.participants, []
        for start in range(0, len(participants), 100):
            await asyncio.gather(*(p.leave() for p in participants[start : start + 100]), return_exceptions=True)

    async def aclose(self) -> None:
        await self.leave_all()
        if self._session is not None:
            await self._session.close()
            self._session = None


class PoolProcess:
    """A :class:`SignalPool` in a child process, so the process that measures runs no participant.

    Each participant's keep-alive pings and LiveKit's signal messages are handled on the child's
    event loop; in the measuring process they delayed the timed calls (about 1 ms per call with 173
    participants). Commands travel as JSON lines on the child's stdin and stdout.
    """

    def __init__(self, ws_url: str, api_key: str, api_secret: str) -> None:
        self._args = (ws_url, api_key, api_secret)
        self._child: asyncio.subprocess.Process | None = None

    async def _ask(self, **command: object) -> dict[str, Any]:
        if self._child is None:
            self._child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.participants",
                *self._args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                cwd=_ROOT,
                limit=1 << 20,
            )
        child = self._child
        assert child.stdin is not None
        assert child.stdout is not None
        child.stdin.write(json.dumps(command).encode() + b"\n")
        await child.stdin.drain()
        line = await child.stdout.readline()
        if not line:
            raise RuntimeError("the participant process exited")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    async def join_all(self, specs: Sequence[tuple[str, str]]) -> float:
        return float((await self._ask(op="join", specs=list(specs)))["seconds"])

    async def status(self) -> tuple[float, int]:
        """Seconds since the earliest join still in the pool, and how many LiveKit dropped."""
        answer = await self._ask(op="status")
        return float(answer["oldest_age"]), int(answer["dropped"])

    async def leave_all(self) -> None:
        await self._ask(op="leave")

    async def aclose(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        assert child.stdin is not None
        child.stdin.close()
        try:
            async with asyncio.timeout(15):
                await child.wait()
        except TimeoutError:
            child.kill()
            await child.wait()


async def _serve(ws_url: str, api_key: str, api_secret: str) -> None:
    pool = SignalPool(ws_url, api_key, api_secret)
    loop = asyncio.get_running_loop()
    try:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command = json.loads(line)
            answer: dict[str, object]
            try:
                if command["op"] == "join":
                    answer = {"seconds": await pool.join_all([tuple(spec) for spec in command["specs"]])}
                elif command["op"] == "status":
                    answer = {"oldest_age": pool.oldest_age(), "dropped": len(pool.dropped())}
                elif command["op"] == "leave":
                    await pool.leave_all()
                    answer = {}
                else:
                    answer = {"error": f"unknown command {command['op']!r}"}
            except Exception as exc:
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        await pool.aclose()


if __name__ == "__main__":
    asyncio.run(_serve(*sys.argv[1:4]))

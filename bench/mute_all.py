"""Mute-on-join latency: how long a late joiner to a room muted all is heard before it is muted.

Like ban enforcement (`moderation`), it needs LiveKit's webhooks to reach the service, so it gets a LiveKit
of its own whose webhook points at the service's port, and real rtc clients (`tests/harness/participants.py`).
An observer joins; the room is muted all; then each try joins a client that publishes a microphone, and times,
as the observer sees it, from being told of the track to being told it is muted (how long another client
could hear it), and from the publisher's publish call to that (WebRTC's set-up included, which happens before
LiveKit knows the track). Goal (issue 16): p95 within 500 ms.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.harness.livekit_server import LiveKitServer, node_ip_from_environment
from tests.harness.participants import Participant, ParticipantPool

from .client import ServiceClient
from .report import Row
from .run import Stack, running_service
from .stack import free_port
from .timing import percentile

__all__ = ["MUTE_TRIES", "mute_all_rows", "mute_on_join"]

MUTE_TRIES = 10
_ROOM = "bench-mute-all"
_TIMEOUT = 10.0


async def mute_on_join(stack: Stack, *, tries: int = MUTE_TRIES) -> dict[str, Any]:
    port = free_port()
    livekit = LiveKitServer(
        node_ip=node_ip_from_environment(),
        workdir=Path(tempfile.mkdtemp(prefix="gxrtc-bench-lk-mute-")),
        webhook_urls=[f"http://127.0.0.1:{port}/webhooks/livekit"],
    )
    livekit.start()
    pool = ParticipantPool(livekit.ws_url)
    heard: list[float] = []
    from_publish: list[float] = []
    try:
        with running_service(Stack(livekit, stack.lkapi, stack.key, stack.wrk), 1, port=port) as service:
            async with ServiceClient(service.base_url, stack.key) as client:

                async def token(uid: str) -> str:
                    minted = await client.rest("POST", "/api/v1/room/token", {"uid": uid, "room": _ROOM})
                    return str(minted["access_token"])

                observer = await pool.join(await token("bench-observer"))
                await client.rest("POST", f"/api/v1/room/{_ROOM}/mute_all", {})
                for n in range(tries):
                    window, total = await _one_late_joiner(pool, observer, await token(f"bench-late-{n}"))
                    heard.append(window)
                    from_publish.append(total)
    finally:
        await pool.aclose()
        livekit.stop()
    heard.sort()
    from_publish.sort()
    return {
        "tries": len(heard),
        "heard_p50_s": round(percentile(heard, 50), 3),
        "heard_p95_s": round(percentile(heard, 95), 3),
        "publish_call_p50_s": round(percentile(from_publish, 50), 3),
        "publish_call_p95_s": round(percentile(from_publish, 95), 3),
    }


async def _one_late_joiner(pool: ParticipantPool, observer: Participant, token: str) -> tuple[float, float]:
    mark = observer.mark()
    joiner = await pool.join(token)
    asked = time.monotonic()
    await joiner.publish_audio()
    uid = joiner.identity
    told = await observer.wait_for("track_published", lambda _, who: who.identity == uid, since=mark)
    deadline = time.monotonic() + _TIMEOUT
    muted: float | None = None
    while muted is None:
        muted = next(
            (e.at for e in observer.events[mark:] if e.name == "track_muted" and e.args[0].identity == uid), None
        )
        remote = observer.room.remote_participants.get(uid)
        if muted is None and remote is not None and any(p.muted for p in remote.track_publications.values()):
            muted = time.monotonic()  # learnt of it muted already: no mute event comes
        if muted is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{uid} was not muted within {_TIMEOUT} s")
            await asyncio.sleep(0.01)
    await joiner.aclose()
    return max(0.0, muted - told.at), muted - asked


def mute_all_rows(results: dict[str, Any]) -> list[Row]:
    if "mute_on_join" not in results:
        return []
    mute = results["mute_on_join"]
    return [
        Row(
            "mute-all",
            f"late joiner heard before muted, as another client sees it, p50 / p95 (s, {mute['tries']} tries)",
            f"{mute['heard_p50_s']:.3f} / {mute['heard_p95_s']:.3f}",
            "p95 < 0.5",
            mute["heard_p95_s"] < 0.5,
        ),
        Row(
            "mute-all",
            "publisher's publish call to muted seen, p50 / p95 (s)",
            f"{mute['publish_call_p50_s']:.3f} / {mute['publish_call_p95_s']:.3f}",
            "",
            None,
        ),
    ]

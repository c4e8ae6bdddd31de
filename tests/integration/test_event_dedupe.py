"""One event per change: our own report and LiveKit's webhook of the same change are delivered once,
whichever comes first, across instances (Redis), and the reconciler's repairs add no second one."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.harness.graphql_ws import SubscriptionClient
from tests.harness.participants import ParticipantPool
from tests.integration.test_events import SUBSCRIBE, Stack, call, events_stack, token, wait_for

pytestmark = pytest.mark.integration

QUIET = 3.5  # past three reconcile rounds (GXRTC_RECONCILE_INTERVAL_SECONDS=1) and webhook delivery


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with events_stack(tmp_path_factory) as started:
        yield started


@pytest.fixture
async def pool(stack: Stack) -> AsyncIterator[ParticipantPool]:
    participants = ParticipantPool(stack.livekit.ws_url)
    yield participants
    await participants.aclose()


async def drain(client: SubscriptionClient, key: str, seconds: float) -> list[dict[str, Any]]:
    """Every event that arrives until `seconds` pass without one."""
    events: list[dict[str, Any]] = []
    while True:
        try:
            _, event = await client.next_event(key, timeout=seconds)
        except TimeoutError:
            return events
        events.append(event)


def kinds(events: list[dict[str, Any]]) -> Counter[str]:
    return Counter(event["kind"] for event in events)


async def test_each_change_is_one_event_on_every_instance(stack: Stack, pool: ParticipantPool, room_name: str) -> None:
    async with stack.ws(stack.a) as on_a, stack.ws(stack.b) as on_b:
        # Every room: the room's own opening and closing are events of no room yet followed.
        clients = [
            (on_a, await on_a.subscribe(SUBSCRIBE, room=None)),
            (on_b, await on_b.subscribe(SUBSCRIBE, room=None)),
        ]
        # Created through B; LiveKit's webhook of the same opening reaches A.
        assert (await call(stack.b, "POST", "/room/", room=room_name)).status_code == 200
        # Bob publishes nothing: the rtc SDK may abort the process at exit after a kick of one that
        # publishes audio (see test_web_clients).
        await pool.join(await token(stack.a, "bob", room_name))
        alice = await pool.join(await token(stack.a, "alice", room_name), audio=True)
        assert alice.audio is not None
        for client, key in clients:
            await wait_for(client, key, "TRACK_PUBLISHED", identity="alice", timeout=15)
        assert (await call(stack.a, "POST", f"/room/{room_name}/participant/alice/mute")).status_code == 200
        response = await call(stack.b, "POST", f"/room/{room_name}/participant/alice/info", attrs='{"hand":"up"}')
        assert response.status_code == 200
        # Kicked through B: B reports the leave, LiveKit's webhook reaches A.
        assert (await call(stack.b, "DELETE", f"/room/{room_name}/participant/bob")).status_code == 200
        await alice.aclose()  # a leave LiveKit alone reports
        await asyncio.sleep(QUIET)  # reconcile rounds that must find nothing to repair
        assert (await call(stack.a, "DELETE", f"/room/{room_name}")).status_code == 200
        seen = [await drain(client, key, QUIET) for client, key in clients]

    for events in seen:
        mine = [event for event in events if event["room"] == room_name]
        # What came before TRACK_PUBLISHED was consumed by wait_for; count from there on.
        counted = Counter((event["kind"], (event.get("participant") or {}).get("identity")) for event in mine)
        assert counted == Counter(
            {
                ("TRACK_MUTED", "alice"): 1,
                ("PARTICIPANT_UPDATED", "alice"): 1,
                ("PARTICIPANT_LEFT", "bob"): 1,
                ("TRACK_UNPUBLISHED", "alice"): 1,
                ("PARTICIPANT_LEFT", "alice"): 1,
                ("ROOM_FINISHED", None): 1,
            }
        ), [(e["kind"], e["source"]) for e in mine]
        sequences = [event["sequence"] for event in mine]
        assert sequences == sorted(sequences)
        assert len(set(sequences)) == len(sequences)


async def test_a_room_and_a_join_are_announced_once(stack: Stack, pool: ParticipantPool, room_name: str) -> None:
    async with stack.ws(stack.b) as subscriber:
        key = await subscriber.subscribe(SUBSCRIBE, room=None)
        started = time.monotonic()
        assert (await call(stack.a, "POST", "/room/", room=room_name)).status_code == 200
        # Asked again: the room exists, nothing opened.
        assert (await call(stack.b, "POST", "/room/", room=room_name)).status_code == 200
        await pool.join(await token(stack.a, "bob", room_name))
        events = [event for event in await drain(subscriber, key, QUIET) if event["room"] == room_name]
        assert time.monotonic() - started < 60
    assert kinds(events) == Counter({"ROOM_STARTED": 1, "PARTICIPANT_JOINED": 1}), [
        (e["kind"], e["source"]) for e in events
    ]

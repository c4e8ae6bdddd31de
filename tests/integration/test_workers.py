"""Several workers are several instances: one instance of 2 workers, and 2 instances of 2 workers on one
Redis, against a real LiveKit with real participants. Subscribers sit on every worker (checked by the
worker's pid), changes go through every worker, and each subscriber sees each change once, in order."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.harness.participants import ParticipantPool
from tests.harness.ports import free_port
from tests.harness.reporting import report
from tests.harness.service import ROOT
from tests.integration.test_events import signed_webhook, webhook_body
from tests.integration.workers_stack import (
    ADMIN,
    Deployment,
    audited_workers,
    deployment,
    listeners_on_every_worker,
    per_room,
)

pytestmark = pytest.mark.integration

OVERVIEW = "query($names: [String!]) { rooms(names: $names) { name participants { identity metadata } } }"
STALE_BOUND_SECONDS = 1.0
"""docs/workers.md: a change through one worker reaches every worker's overview with its event; at most
GXRTC_PARTICIPANT_CACHE_SECONDS (1 s by default) if that event were lost. The test's cache lives 30 s,
so only the invalidation can make an answer fresh within the bound."""
BRAKE_PROPAGATION_SECONDS = 1.0
"""docs/workers.md: a key braked by a failure through one worker is braked on every worker once the
brake's pub/sub message has reached it; typically well under a millisecond."""


@pytest.fixture(scope="module", params=[1, 2], ids=["1-instance-2-workers", "2-instances-2-workers"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deployment(tmp_path_factory, request.param) as started:
        yield started


async def test_every_room_opened_and_closed_through_any_worker_reaches_every_subscriber_once_in_order(
    stack: Deployment, room_name: str
) -> None:
    rooms = [f"{room_name}-{index}" for index in range(50)]
    pids = stack.pids
    async with listeners_on_every_worker(stack, None) as listeners:
        for index, room in enumerate(rooms):
            answer = await stack.call(pids[index % len(pids)], "POST", "/room/", room=room)
            assert answer.status == 200, answer.body
        for index, room in enumerate(rooms):
            answer = await stack.call(pids[(index + 1) % len(pids)], "DELETE", f"/room/{room}")
            assert answer.status == 200, answer.body

        def complete(events: list[dict[str, Any]]) -> bool:
            seen = per_room(events, room_name)
            return len(seen) == len(rooms) and all(len(kinds) >= 2 for kinds in seen.values())

        for listener in listeners:
            await listener.until(complete)
        await asyncio.sleep(2)  # LiveKit's webhooks for the same changes come later; none may add an event
        for listener in listeners:
            seen = per_room(listener.events, room_name)
            for room in rooms:
                kinds = [event["kind"] for event in seen[room]]
                assert kinds == ["ROOM_STARTED", "ROOM_FINISHED"], (listener.worker, room, seen[room])
                sequences = [event["sequence"] for event in seen[room]]
                assert sequences == sorted(set(sequences)), (listener.worker, room, sequences)
    assert audited_workers(stack, room_name) == set(pids)  # the changes really went through every worker


async def test_joins_mutes_and_kicks_reach_every_subscriber_once_in_order(stack: Deployment, room_name: str) -> None:
    pool = ParticipantPool(stack.livekit.ws_url)
    pids = stack.pids
    identities = [f"p{index:02d}" for index in range(20)]
    wanted = ("PARTICIPANT_JOINED", "TRACK_PUBLISHED", "TRACK_MUTED", "PARTICIPANT_LEFT")
    limit = asyncio.Semaphore(4)

    def kinds_of(events: list[dict[str, Any]], identity: str) -> list[str]:
        return [
            event["kind"]
            for event in events
            if event["kind"] in wanted and (event.get("participant") or {}).get("identity") == identity
        ]

    try:
        async with listeners_on_every_worker(stack, room_name) as listeners:

            async def one(index: int, identity: str) -> None:
                async with limit:
                    worker = pids[index % len(pids)]
                    answer = await stack.call(worker, "POST", "/room/token", uid=identity, room=room_name)
                    assert answer.status == 200, answer.body
                    await pool.join(answer.json()["data"]["access_token"], audio=True)
                    # Muted once its microphone is known to every worker's subscribers.
                    for listener in listeners:
                        await listener.until(lambda events: "TRACK_PUBLISHED" in kinds_of(events, identity))
                    mute = await stack.call(
                        pids[(index + 1) % len(pids)], "POST", f"/room/{room_name}/participant/{identity}/mute"
                    )
                    assert mute.status == 200, mute.body
                    for listener in listeners:
                        await listener.until(lambda events: "TRACK_MUTED" in kinds_of(events, identity))
                    kick = await stack.call(
                        pids[(index + 2) % len(pids)], "DELETE", f"/room/{room_name}/participant/{identity}"
                    )
                    assert kick.status == 200, kick.body

            await asyncio.gather(*(one(index, identity) for index, identity in enumerate(identities)))
            for listener in listeners:
                await listener.until(
                    lambda events: all("PARTICIPANT_LEFT" in kinds_of(events, identity) for identity in identities)
                )
            await asyncio.sleep(2)  # webhooks and the reconcilers' findings of the same changes: none may add one
            for listener in listeners:
                for identity in identities:
                    assert kinds_of(listener.events, identity) == list(wanted), (listener.worker, identity)
                sequences = [event["sequence"] for event in listener.events]
                assert sequences == sorted(set(sequences)), listener.worker
    finally:
        await pool.aclose()
    assert audited_workers(stack, room_name) == set(pids)


async def test_a_change_through_one_worker_is_not_served_stale_by_another(
    stack: Deployment, room_name: str, request: pytest.FixtureRequest
) -> None:
    pool = ParticipantPool(stack.livekit.ws_url)
    pids = stack.pids
    try:
        answer = await stack.call(pids[0], "POST", "/room/token", uid="alice", room=room_name)
        await pool.join(answer.json()["data"]["access_token"])
        staleness: list[float] = []
        for round_ in range(2 * len(pids)):
            for pid in pids:  # every worker's overview cache holds the room as it is now
                await stack.graphql(pid, OVERVIEW, names=[room_name])
            metadata = f"m{round_}-{uuid.uuid4().hex[:6]}"
            changer = pids[round_ % len(pids)]
            changed = await stack.call(changer, "POST", f"/room/{room_name}/participant/alice/info", metadata=metadata)
            assert changed.status == 200, changed.body
            done = time.monotonic()
            for pid in pids:
                while True:
                    data = await stack.graphql(pid, OVERVIEW, names=[room_name])
                    [room] = data["rooms"]
                    if [p["metadata"] for p in room["participants"]] == [metadata]:
                        break
                    assert pid != changer, "the worker that made the change served it stale"
                    assert time.monotonic() - done < STALE_BOUND_SECONDS, f"worker {pid} still stale"
                    await asyncio.sleep(0.01)
                staleness.append(time.monotonic() - done)
        report(
            request.config,
            f"overview freshness across {len(pids)} workers",
            [f"change to fresh answer on every worker: max {max(staleness) * 1000:.0f} ms"],
        )
    finally:
        await pool.aclose()


async def test_one_webhook_to_one_worker_is_one_event_on_every_worker(stack: Deployment, room_name: str) -> None:
    body = webhook_body(room_name)
    authorization = signed_webhook(stack.livekit, body)
    headers = {"content-type": "application/webhook+json", "authorization": authorization}
    receiver = stack.instances[0]
    async with listeners_on_every_worker(stack, room_name) as listeners:
        first = await receiver.request("POST", "/webhooks/livekit", worker=receiver.pids[0], body=body, headers=headers)
        assert first.status == 200, first.body

        def joined(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [
                e
                for e in events
                if e["kind"] == "PARTICIPANT_JOINED" and e["participant"]["identity"] == "webhook-ghost"
            ]

        for listener in listeners:
            await listener.until(lambda events: len(joined(events)) >= 1)
        # LiveKit retrying it, to every other worker: the same change, dropped everywhere.
        for pid in stack.pids:
            instance = stack.instance_of(pid)
            again = await instance.request("POST", "/webhooks/livekit", worker=pid, body=body, headers=headers)
            assert again.status == 200, again.body
        await asyncio.sleep(1.5)
        for listener in listeners:
            assert len(joined(listener.events)) == 1, (listener.worker, listener.events)


async def test_a_banned_late_joiner_is_removed_once_whichever_workers_notice(stack: Deployment, room_name: str) -> None:
    pool = ParticipantPool(stack.livekit.ws_url)
    pids = stack.pids
    try:
        async with listeners_on_every_worker(stack, room_name) as listeners:
            minted = await stack.call(pids[0], "POST", "/room/token", uid="late", room=room_name)
            banned = await stack.call(pids[-1], "POST", f"/room/{room_name}/participant/late/ban", reason="spam")
            assert banned.status == 200, banned.body
            # Joins with the token from before its ban: the webhook's check on whichever worker LiveKit
            # reached, and every worker's reconciler pass (each second), may notice it.
            with contextlib.suppress(Exception):
                await pool.join(minted.json()["data"]["access_token"])

            def refused(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
                return [
                    event
                    for event in events
                    if event["kind"] == "PARTICIPANT_REFUSED" and event["participant"]["identity"] == "late"
                ]

            for listener in listeners:
                await listener.until(lambda events: len(refused(events)) >= 1)
            await pool.aclose()
            await asyncio.sleep(2.5)  # two more reconciler passes on every worker
            for listener in listeners:
                assert len(refused(listener.events)) == 1, (listener.worker, refused(listener.events))
    finally:
        await pool.aclose()


def pid_of(token: bytes | str) -> int:
    """The pid in a lease's token (host:pid:random, core/lease.py)."""
    text = token.decode() if isinstance(token, bytes) else token
    return int(text.split(":")[1])


async def test_a_watched_room_is_reconciled_by_one_worker_of_the_deployment(stack: Deployment, room_name: str) -> None:
    redis = Redis.from_url(stack.redis.url)
    try:
        async with listeners_on_every_worker(stack, room_name):
            started = time.monotonic()
            while await redis.get(f"gxrtc:lease:room:{room_name}") is None:  # the first pass after subscribing
                assert time.monotonic() - started < 5, "no worker took the watched room's lease"
                await asyncio.sleep(0.05)
            holders = set()
            deadline = time.monotonic() + 4  # every worker's reconciler passes a few times meanwhile
            while time.monotonic() < deadline:
                room = await redis.get(f"gxrtc:lease:room:{room_name}")
                enforcement = await redis.get("gxrtc:lease:enforcement")
                if room is not None:
                    holders.add(room)
                assert enforcement is not None
                assert pid_of(enforcement) in stack.pids
                await asyncio.sleep(0.1)
            # One holder all along, one of the workers: the others never took it over.
            assert len(holders) == 1, holders
            assert pid_of(holders.pop()) in stack.pids
        await asyncio.sleep(2.5)  # its subscribers gone, the holder lets the room go at its next pass
        assert await redis.get(f"gxrtc:lease:room:{room_name}") is None
    finally:
        await redis.aclose()


async def test_failed_authentications_are_counted_across_workers(
    stack: Deployment, request: pytest.FixtureRequest
) -> None:
    client = f"10.77.{len(stack.instances)}.1"  # an address of its own, so no other test is braked
    pids = stack.pids
    failed_on = set()
    for attempt in range(10):
        pid = pids[attempt % len(pids)]
        headers = {"authorization": f"Bearer guess{attempt:03d}-{uuid.uuid4().hex}", "x-forwarded-for": client}
        answer = await stack.instance_of(pid).request("GET", "/api/v1/room/", worker=pid, headers=headers)
        assert answer.status == 401, answer.body
        failed_on.add(answer.worker)
    assert failed_on == set(pids)  # no worker saw all ten, some saw as few as 10 / 4
    # Every worker now refuses that address, even with the right key, once the brake published by the
    # tenth failure's worker has reached it (docs/workers.md: pub/sub delivery, a few tries at most).
    let_through = 0
    for pid in pids:
        headers = {"authorization": ADMIN, "x-forwarded-for": client}
        deadline = time.monotonic() + BRAKE_PROPAGATION_SECONDS
        while True:
            answer = await stack.instance_of(pid).request("GET", "/api/v1/room/", worker=pid, headers=headers)
            if answer.status != 200 or time.monotonic() > deadline:
                break
            let_through += 1
            await asyncio.sleep(0.01)
        assert answer.status == 429, (pid, answer.status, answer.body)
        assert int(answer.headers["retry-after"]) >= 1
    report(
        request.config,
        f"brake across {len(pids)} workers",
        [f"right-key attempts let through after the tenth failure, before every worker refused: {let_through}"],
    )


def test_several_workers_without_redis_refuse_to_start(tmp_path: Any) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "LIVEKIT_URL": "http://127.0.0.1:7880",
        "LIVEKIT_API_KEY": "devkey",
        "LIVEKIT_API_SECRET": "s" * 40,
        "GXRTC_ENV": "dev",
        "GXRTC_WORKERS": "2",
        "GXRTC_STATE_DIR": str(tmp_path),
        "GXRTC_PORT": str(free_port()),
    }
    done = subprocess.run(
        [sys.executable, "-m", "graphql_api"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "GXRTC_WORKERS=2" in lines[0]
    assert "GXRTC_REDIS_URL" in lines[0]
    assert not (tmp_path / "gxrtc.sqlite3").exists()  # refused before it touched anything

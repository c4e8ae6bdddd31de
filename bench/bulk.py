"""Bulk acts and presence against their naive loops (issue 16).

- A bulk kick of 500 identities in one GraphQL call (`kickParticipants`) against the same 500 kicks made one
  by one (`kickParticipant`, each awaited before the next, as a client loop would). Each try joins 500
  signal-only participants (bench/participants.py) into a fresh room first; every kick is checked.
- Presence of 100 identities over 200 rooms (`presence`, answered from the service's index) against the
  naive loop a client would run without it: ListRooms, then ListParticipants of every room (16 in flight,
  its best case), straight to LiveKit. The two answers are compared before anything is timed.

`python -m bench.bulk [GXRTC_SETTING=value ...]` runs only these two, on a LiveKit of its own.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any, cast

from livekit import api
from livekit.protocol import room as room_proto

from tests.harness.livekit_server import LiveKitServer

from .client import BenchError, ServiceClient
from .participants import PoolProcess
from .report import Row
from .run import Stack, bounded, delete_all_rooms, running_service
from .timing import Stats, interleave

__all__ = ["BULK_IDENTITIES", "bulk_rows", "bulk_run", "main"]

BULK_IDENTITIES = 500
BULK_TRIES = 3
PRESENCE_IDENTITIES = 100
PRESENCE_ROOMS = 200
_KICK_MANY = "mutation($r: String!, $i: [String!]!) { kickParticipants(room: $r, identities: $i) { identity ok } }"
_KICK_ONE = "mutation($r: String!, $i: String!) { kickParticipant(room: $r, identity: $i) }"
_PRESENCE = "query($i: [String!]!) { presence(identities: $i) { identity rooms { room } } }"


async def _bulk_kicks(stack: Stack, client: ServiceClient, pool: PoolProcess) -> dict[str, Any]:
    names = [f"bulk-{n:03d}" for n in range(BULK_IDENTITIES)]
    bulk: list[float] = []
    one_by_one: list[float] = []
    for attempt in range(BULK_TRIES):
        for variant in ("bulk", "one_by_one") if attempt % 2 == 0 else ("one_by_one", "bulk"):
            room = f"bench-bulk-{variant}-{attempt}"
            await pool.join_all([(room, name) for name in names])
            started = time.perf_counter()
            if variant == "bulk":
                results = (await client.graphql(_KICK_MANY, {"r": room, "i": names}))["kickParticipants"]
                if not all(result["ok"] for result in results) or len(results) != len(names):
                    raise BenchError(f"bulk kick: {sum(not r['ok'] for r in results)} of {len(names)} failed")
                bulk.append(time.perf_counter() - started)
            else:
                for name in names:
                    await client.graphql(_KICK_ONE, {"r": room, "i": name})
                one_by_one.append(time.perf_counter() - started)
            left = await stack.lkapi.room.list_participants(room_proto.ListParticipantsRequest(room=room))
            if left.participants:
                raise BenchError(f"{len(left.participants)} participants still in {room} after the kicks")
            await pool.leave_all()
    return {
        "identities": BULK_IDENTITIES,
        "tries": BULK_TRIES,
        "bulk_s": [round(s, 3) for s in bulk],
        "one_by_one_s": [round(s, 3) for s in one_by_one],
        "speedup": round(statistics.median(one_by_one) / statistics.median(bulk), 1),
    }


def _presence_layout() -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """Three bystanders per room, and the 100 identities asked for spread over them, some in two or three rooms."""
    specs = [(f"bench-presence-{r:03d}", f"bystander-{r:03d}-{k}") for r in range(PRESENCE_ROOMS) for k in range(3)]
    expected: dict[str, list[str]] = {}
    for n in range(PRESENCE_IDENTITIES):
        rooms = sorted({f"bench-presence-{(n * 7 + step * 53) % PRESENCE_ROOMS:03d}" for step in range(1 + n % 3)})
        expected[f"wanted-{n:03d}"] = rooms
        specs += [(room, f"wanted-{n:03d}") for room in rooms]
    return specs, expected


async def _naive_presence(lkapi: api.LiveKitAPI, identities: set[str]) -> dict[str, list[str]]:
    rooms = (await lkapi.room.list_rooms(room_proto.ListRoomsRequest())).rooms

    async def listed(name: str) -> tuple[str, list[str]]:
        answer = await lkapi.room.list_participants(room_proto.ListParticipantsRequest(room=name))
        return name, [participant.identity for participant in answer.participants]

    found: dict[str, list[str]] = {identity: [] for identity in identities}
    for room, who in await bounded([partial(listed, room.name) for room in rooms], limit=16):
        for identity in who:
            if identity in found:
                found[identity].append(room)
    return {identity: sorted(rooms) for identity, rooms in found.items()}


async def _presence(stack: Stack, client: ServiceClient, pool: PoolProcess, rounds: int) -> dict[str, Any]:
    specs, expected = _presence_layout()
    await pool.join_all(specs)
    identities = sorted(expected)

    async def ours() -> dict[str, list[str]]:
        answer = (await client.graphql(_PRESENCE, {"i": identities}))["presence"]
        return {found["identity"]: sorted(stay["room"] for stay in found["rooms"]) for found in answer}

    # Signal-only joins send no webhook: the index learns of them from its next sweep.
    waited = time.monotonic()
    while await ours() != expected:
        if time.monotonic() - waited > 20:
            raise BenchError("presence did not find every identity within 20 s")
        await asyncio.sleep(0.2)
    index_s = time.monotonic() - waited
    if await _naive_presence(stack.lkapi, set(identities)) != expected:
        raise BenchError("the naive loop's answer differs from the layout")

    async def service() -> None:
        await ours()

    async def naive() -> None:
        await _naive_presence(stack.lkapi, set(identities))

    # LiveKit drops a signal-only participant a minute after its join: stay well within that.
    samples = await interleave(
        {"presence": service, "naive": naive}, rounds=rounds, warmup=3, deadline=time.monotonic() + 25
    )
    await pool.leave_all()
    ours_stats, naive_stats = Stats.of(samples["presence"]), Stats.of(samples["naive"])
    return {
        "identities": PRESENCE_IDENTITIES,
        "rooms": PRESENCE_ROOMS,
        "participants": len(specs),
        "index_complete_after_s": round(index_s, 2),
        "presence_ms": ours_stats.as_dict(),
        "naive_ms": naive_stats.as_dict(),
        "speedup_p50": round(naive_stats.p50 / ours_stats.p50, 1),
    }


async def bulk_run(stack: Stack, *, presence_rounds: int = 30, **settings: str) -> dict[str, Any]:
    """Both comparisons, on a service of their own (one worker, with `settings` as its environment's)."""
    pool = PoolProcess(stack.livekit.ws_url, stack.livekit.api_key, stack.livekit.api_secret)
    try:
        # Settings only: none of them is `port` (mypy cannot tell from the dict's type).
        with running_service(stack, 1, **cast(dict[str, Any], settings)) as running:
            async with ServiceClient(running.base_url, stack.key, timeout=60) as client:
                print(f"  bulk kick: {BULK_IDENTITIES} identities, {BULK_TRIES} tries each way", flush=True)
                kicks = await _bulk_kicks(stack, client, pool)
                print(
                    f"  bulk kick of {BULK_IDENTITIES}: {statistics.median(kicks['bulk_s']):.2f} s in one call,"
                    f" {statistics.median(kicks['one_by_one_s']):.2f} s one by one ({kicks['speedup']}x)",
                    flush=True,
                )
                presence = await _presence(stack, client, pool, presence_rounds)
                print(
                    f"  presence of {PRESENCE_IDENTITIES} over {PRESENCE_ROOMS} rooms: p50"
                    f" {presence['presence_ms']['p50']:.2f} ms, naive loop {presence['naive_ms']['p50']:.1f} ms"
                    f" ({presence['speedup_p50']}x)",
                    flush=True,
                )
    finally:
        await pool.aclose()
        await delete_all_rooms(stack.lkapi)
    return {"kicks": kicks, "presence": presence}


def bulk_rows(results: dict[str, Any]) -> list[Row]:
    kicks, presence = results["bulk"]["kicks"], results["bulk"]["presence"]
    return [
        Row(
            "bulk acts",
            f"kick {kicks['identities']}: one call / one by one, median (s)",
            f"{statistics.median(kicks['bulk_s']):.2f} / {statistics.median(kicks['one_by_one_s']):.2f}"
            f" ({kicks['speedup']}x)",
        ),
        Row(
            "presence",
            f"{presence['identities']} identities over {presence['rooms']} rooms p50 / p99 (ms): index, naive loop",
            f"{presence['presence_ms']['p50']:.2f} / {presence['presence_ms']['p99']:.2f},"
            f" {presence['naive_ms']['p50']:.1f} / {presence['naive_ms']['p99']:.1f} ({presence['speedup_p50']}x)",
        ),
    ]


async def _alone(livekit: LiveKitServer) -> dict[str, Any]:
    lkapi = api.LiveKitAPI(livekit.url, livekit.api_key, livekit.api_secret, failover=False)
    try:
        return await bulk_run(
            Stack(livekit=livekit, lkapi=lkapi, key="bench-bulk-key-0123456789abcdef01234567", wrk="")
        )
    finally:
        await lkapi.aclose()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="gxrtc-bench-bulk-") as tmp:
        livekit = LiveKitServer(workdir=Path(tmp), startup_timeout=30)
        with livekit:
            results = asyncio.run(_alone(livekit))
    for row in bulk_rows({"bulk": results}):
        print(f"{row.section}: {row.figure}: {row.value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

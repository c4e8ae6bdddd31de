"""The moderation store's costs: reading the audit trail when it holds 100,000 rows, and how soon a banned
client that rejoins with a token minted before its ban is removed again.

The rows go straight into the service's own SQLite file (migrated by the service at start, as in dev),
spread over many rooms and actors as a busy deployment's would be; then one room's newest page, a page
deep in it (through a cursor) and an admin's unfiltered page are read through both faces, interleaved.
Goal (issue 15): p95 under 50 ms for one room's page.

Ban enforcement needs LiveKit's webhooks to reach the service, so it gets a LiveKit of its own whose webhook
points at the service's port, and real rtc clients (`tests/harness/participants.py`): each try joins with
an old token and times the join until LiveKit disconnects it (the webhook's removal). Goal: within 1 s.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from livekit import rtc
from sqlalchemy import create_engine, func, insert, select

from graphql_api.core.store import audit_events
from tests.harness.livekit_server import LiveKitServer, node_ip_from_environment
from tests.harness.participants import ParticipantPool

from .client import ServiceClient
from .report import Row
from .run import BenchConfig, Stack, running_service
from .stack import free_port
from .timing import Stats, interleave, percentile

__all__ = ["AUDIT_ROOMS", "AUDIT_ROWS", "audit_query", "audit_rows", "audit_run", "ban_enforcement", "fill_audit_trail"]

AUDIT_ROWS = 100_000
AUDIT_ROOMS = 200
_ACTIONS = ("create_room", "delete_room", "mute", "unmute", "kick", "update_participant", "create_token")
_ROOM = "bench-audit-room-7"
_GRAPHQL_PAGE = (
    "query($room: String, $after: String) { auditLog(room: $room, first: 50, after: $after)"
    " { edges { cursor node { id at actor action room identity result } } pageInfo { hasNextPage endCursor } } }"
)


def fill_audit_trail(state_dir: Path, rows: int = AUDIT_ROWS, rooms: int = AUDIT_ROOMS) -> int:
    """Write `rows` audit rows into the service's SQLite store; returns how many rows it holds then."""
    engine = create_engine(f"sqlite:///{state_dir / 'gxrtc.sqlite3'}")
    chooser = random.Random(7)
    now = time.time()
    try:
        with engine.begin() as connection:
            batch: list[dict[str, Any]] = []
            for index in range(rows):
                batch.append(
                    {
                        "at": now - (rows - index),
                        "actor": f"moderator-{chooser.randrange(50)}",
                        "actor_role": "moderator",
                        "credential": "jwt",
                        "face": chooser.choice(("rest", "graphql")),
                        "action": chooser.choice(_ACTIONS),
                        "room": f"bench-audit-room-{chooser.randrange(rooms)}",
                        "identity": f"user-{chooser.randrange(5000)}",
                        "detail": {},
                        "result": "ok",
                        "request_id": f"{index:032x}",
                    }
                )
                if len(batch) == 10_000:
                    connection.execute(insert(audit_events), batch)
                    batch = []
            if batch:
                connection.execute(insert(audit_events), batch)
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(audit_events)).scalar_one())
    finally:
        engine.dispose()


async def audit_query(client: ServiceClient, *, rounds: int, deadline: float) -> dict[str, Any]:
    """p50/p95 of one room's newest page and a deep page, on both faces, and of an admin's unfiltered page."""
    first = await client.graphql(_GRAPHQL_PAGE, {"room": _ROOM})
    # A cursor about half-way down the room's rows: keyset paging should cost the same there.
    cursor = first["auditLog"]["pageInfo"]["endCursor"]
    for _ in range(4):
        page = await client.graphql(_GRAPHQL_PAGE, {"room": _ROOM, "after": cursor})
        cursor = page["auditLog"]["pageInfo"]["endCursor"] or cursor

    async def graphql_room() -> None:
        await client.graphql(_GRAPHQL_PAGE, {"room": _ROOM})

    async def graphql_deep() -> None:
        await client.graphql(_GRAPHQL_PAGE, {"room": _ROOM, "after": cursor})

    async def graphql_everything() -> None:
        await client.graphql(_GRAPHQL_PAGE)

    async def rest_room() -> None:
        await client.rest("GET", f"/api/v1/room/{_ROOM}/audit?limit=50")

    samples = await interleave(
        {
            "graphql_room": graphql_room,
            "graphql_deep": graphql_deep,
            "graphql_all": graphql_everything,
            "rest_room": rest_room,
        },
        rounds=rounds,
        warmup=10,
        deadline=deadline,
    )
    out: dict[str, Any] = {}
    for name, values in samples.items():
        stats = Stats.of(values)
        ordered = sorted(value * 1000 for value in values)
        out[name] = {**stats.as_dict(), "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 4) if ordered else 0}
    return out


async def audit_run(stack: Stack, config: BenchConfig) -> dict[str, Any]:
    """A service of its own, its store filled with `AUDIT_ROWS` rows, then the queries."""
    with (
        tempfile.TemporaryDirectory(prefix="gxrtc-bench-audit-") as state,
        running_service(stack, 1, GXRTC_STATE_DIR=state) as service,
    ):
        print(f"  audit trail: writing {AUDIT_ROWS:,} rows into the store", flush=True)
        rows = await asyncio.to_thread(fill_audit_trail, Path(state))
        async with ServiceClient(service.base_url, stack.key) as client:
            queries = await audit_query(client, rounds=config.read_rounds, deadline=time.monotonic() + 120)
    room = queries["graphql_room"]
    print(f"  auditLog, one room's page at {rows:,} rows: p50 {room['p50']:.2f} ms, p95 {room['p95']:.2f} ms")
    return {"rows": rows, "queries": queries}


BAN_TRIES = 10
_REMOVAL_TIMEOUT = 10.0


async def ban_enforcement(stack: Stack, *, tries: int = BAN_TRIES) -> dict[str, Any]:
    """Seconds from a banned identity's join (with a token minted before the ban) to its removal."""
    port = free_port()
    livekit = LiveKitServer(
        node_ip=node_ip_from_environment(),
        workdir=Path(tempfile.mkdtemp(prefix="gxrtc-bench-lk-bans-")),
        webhook_urls=[f"http://127.0.0.1:{port}/webhooks/livekit"],
    )
    livekit.start()
    pool = ParticipantPool(livekit.ws_url)
    try:
        with running_service(Stack(livekit, stack.lkapi, stack.key, stack.wrk), 1, port=port) as service:
            async with ServiceClient(service.base_url, stack.key) as client:
                old = (await client.rest("POST", "/api/v1/room/token", {"uid": "bench-banned", "room": "bench-bans"}))[
                    "access_token"
                ]
                await client.rest("POST", "/api/v1/room/bench-bans/participant/bench-banned/ban", {"reason": "bench"})
                samples = [await _time_to_removal(pool, old) for _ in range(tries)]
    finally:
        await pool.aclose()
        livekit.stop()
    ordered = sorted(samples)
    return {
        "tries": len(samples),
        "p50_s": round(percentile(ordered, 50), 3),
        "p95_s": round(percentile(ordered, 95), 3),
        "max_s": round(ordered[-1], 3),
    }


async def _time_to_removal(pool: ParticipantPool, token: str) -> float:
    started = time.monotonic()
    try:
        participant = await pool.join(token)
    except (rtc.ConnectError, TimeoutError):
        return time.monotonic() - started  # removed before its connection was up
    event = await participant.wait_for("disconnected", timeout=_REMOVAL_TIMEOUT)
    await participant.aclose()
    return float(event.at - started)


def audit_rows(results: dict[str, Any]) -> list[Row]:
    audit = results["audit"]
    section = f"audit trail, {audit['rows']:,} rows"
    rows = []
    for key, label in (
        ("graphql_room", "one room's page, GraphQL p50 / p95 (ms)"),
        ("rest_room", "one room's page, REST p50 / p95 (ms)"),
        ("graphql_deep", "one room's 6th page (cursor), GraphQL p50 / p95 (ms)"),
        ("graphql_all", "admin's newest page, GraphQL p50 / p95 (ms)"),
    ):
        stats = audit["queries"][key]
        room_page = key in ("graphql_room", "rest_room")
        rows.append(
            Row(
                section,
                label,
                f"{stats['p50']:.2f} / {stats['p95']:.2f}",
                "p95 < 50" if room_page else "",
                stats["p95"] < 50 if room_page else None,
            )
        )
    if "ban_enforcement" in results:
        bans = results["ban_enforcement"]
        rows.append(
            Row(
                "ban enforcement",
                f"rejoin with an old token to removal, p50 / p95 (s, {bans['tries']} tries)",
                f"{bans['p50_s']:.3f} / {bans['p95_s']:.3f}",
                "p95 < 1",
                bans["p95_s"] < 1,
            )
        )
    return rows

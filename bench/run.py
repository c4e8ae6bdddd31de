"""The scenarios of ``python -m bench`` and the run that strings them together.

One run starts a throwaway livekit-server (free ports, loopback only, via ``tests.harness.livekit_server``) and
then the service under uvicorn once per worker count, and measures:

1. token minting (REST and GraphQL) with wrk at fixed concurrency, for each worker count;
2. proxied reads (list rooms, get participant) through REST and GraphQL against the same read made
   directly with livekit-api, sequentially and interleaved; the difference is the service's overhead;
3. ``{ rooms { participants { identity } } }`` over 50 rooms of 2-5 participants against one
   ListParticipants call;
4. RSS of every service process, idle and (sampled) under load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from livekit import api
from livekit.protocol import room as room_proto

from tests.harness.livekit_server import LiveKitServer

from .client import BenchError, ServiceClient
from .load import WrkResult, run_wrk
from .participants import PoolProcess
from .stack import CpuMeter, ProcessMemory, RssSampler, Service
from .timing import Stats, interleave

__all__ = ["BenchConfig", "Stack", "bounded", "delete_all_rooms", "fanout", "memory_dict", "service_settings"]

log = logging.getLogger(__name__)

TOKEN_ROOM = "bench-token-room"
READ_ROOM = "bench-read"
READ_IDENTITY = "bench-reader"
FANOUT_QUERY = "{ rooms { participants { identity } } }"
# LiveKit drops a participant that never gets a media connection 60 s after it joined (see participants.py);
# a scenario stops taking samples this long after its first join, whatever it had planned.
PARTICIPANT_BUDGET_S = 50.0


@dataclass(frozen=True)
class BenchConfig:
    duration_s: int = 4
    warmup_s: int = 2
    token_rounds: int = 3
    connections: int = 64
    wrk_threads: int = 2
    workers: tuple[int, ...] = (1, 2)
    read_rounds: int = 300
    read_warmup: int = 30
    fanout_rooms: int = 50
    fanout_runs: int = 21
    scaling_sizes: tuple[int, ...] = (1, 10, 100, 1000)


@dataclass
class Stack:
    """What every scenario needs: LiveKit, a direct LiveKit client, the key, wrk."""

    livekit: LiveKitServer
    lkapi: api.LiveKitAPI
    key: str
    wrk: str


def service_settings(livekit: LiveKitServer, key: str) -> dict[str, str]:
    """The service's whole configuration; nothing else from the environment reaches it."""
    return {
        "LIVEKIT_URL": livekit.url,
        "LIVEKIT_API_KEY": livekit.api_key,
        "LIVEKIT_API_SECRET": livekit.api_secret,
        "GXRTC_LIVEKIT_CLIENT_URL": livekit.ws_url,
        "GXRTC_ENV": "dev",
        "GXRTC_ADMIN_KEY": key,
    }


def memory_dict(processes: Sequence[ProcessMemory]) -> dict[str, Any]:
    workers = [p for p in processes if p.role == "worker"]
    return {
        "processes": [
            {"pid": p.pid, "role": p.role, "rss_mb": round(p.rss_mb, 1), "hwm_mb": round(p.hwm_mb, 1)}
            for p in processes
        ],
        "worker_rss_max_mb": round(max((p.rss_mb for p in workers), default=0), 1),
        "worker_hwm_max_mb": round(max((p.hwm_mb for p in workers), default=0), 1),
        "total_rss_mb": round(sum(p.rss_mb for p in processes), 1),
        "total_hwm_mb": round(sum(p.hwm_mb for p in processes), 1),
    }


# -- helpers -------------------------------------------------------------------------------------------


async def bounded(calls: Sequence[Callable[[], Awaitable[Any]]], limit: int = 16) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await call()

    return await asyncio.gather(*(one(c) for c in calls))


async def delete_all_rooms(lkapi: api.LiveKitAPI) -> int:
    """Close every room of the benchmark's own LiveKit, so the next scenario starts from nothing."""
    rooms = (await lkapi.room.list_rooms(room_proto.ListRoomsRequest())).rooms

    async def close(name: str) -> None:
        try:
            await lkapi.room.delete_room(room_proto.DeleteRoomRequest(room=name))
        except api.TwirpError as exc:
            # A room listed a moment ago may have closed itself since (its last participant left).
            if exc.code != api.TwirpErrorCode.NOT_FOUND:
                raise

    await bounded([partial(close, r.name) for r in rooms])
    return len(rooms)


@contextlib.contextmanager
def running_service(stack: Stack, workers: int, *, port: int = 0, **settings: str) -> Iterator[Service]:
    """The service (on `port`, or a free one), with a store of its own (a fresh SQLite file) unless
    `GXRTC_STATE_DIR` names one."""
    own_state = None if "GXRTC_STATE_DIR" in settings else tempfile.mkdtemp(prefix="gxrtc-bench-state-")
    if own_state is not None:
        settings = {**settings, "GXRTC_STATE_DIR": own_state}
    service = Service({**service_settings(stack.livekit, stack.key), **settings}, workers=workers, port=port)
    extra = "".join(f", {name}={value}" for name, value in settings.items())
    print(f"  starting the service with {workers} worker(s){extra}", flush=True)
    service.start()
    try:
        yield service
    except BaseException:
        print(f"  service log tail:\n{service.log_tail(30)}", flush=True)
        raise
    finally:
        service.stop()
        if own_state is not None:
            shutil.rmtree(own_state, ignore_errors=True)


async def check_tokens(client: ServiceClient) -> None:
    """One token each way, checked, before any load: a refused key or a broken path fails here, clearly."""
    rest = await client.rest("POST", "/api/v1/room/token", {"uid": "bench-check", "room": TOKEN_ROOM})
    if not str(rest.get("access_token", "")).count(".") == 2:
        raise BenchError(f"REST token answer has no JWT: {rest!r:.300}")
    gql = await client.graphql(
        'mutation { createToken(room: "' + TOKEN_ROOM + '", identity: "bench-check") { token } }'
    )
    if not str(gql["createToken"]["token"]).count(".") == 2:
        raise BenchError(f"GraphQL createToken answer has no JWT: {gql!r:.300}")


# -- 1. tokens ---------------------------------------------------------------------------------------


def token_load(stack: Stack, service: Service, config: BenchConfig, sampler: RssSampler) -> dict[str, dict[str, Any]]:
    """wrk against REST and GraphQL token minting, in alternating rounds.

    After a short warm-up of each, REST and GraphQL take turns for ``token_rounds`` rounds of
    ``duration_s`` seconds each (the order flips every round), so a slow spell of a shared machine
    hits both alike. Reported per mode: the median round's rate and latencies, and the service's CPU
    time per request over all rounds, which other people's load disturbs far less than throughput;
    for GraphQL also the median of the per-round ratios to REST.
    """

    def load(mode: str, seconds: int) -> WrkResult:
        return run_wrk(
            stack.wrk,
            service.base_url,
            mode,
            room=TOKEN_ROOM,
            key=stack.key,
            connections=config.connections,
            threads=config.wrk_threads,
            duration_s=seconds,
        )

    modes = ("rest", "graphql")
    for mode in modes:
        load(mode, config.warmup_s)
    rounds: dict[str, list[tuple[WrkResult, dict[str, Any]]]] = {mode: [] for mode in modes}
    for index in range(config.token_rounds):
        for mode in modes if index % 2 == 0 else modes[::-1]:
            with sampler, CpuMeter(service, stack.livekit.pid) as cpu:
                result = load(mode, config.duration_s)
            rounds[mode].append((result, cpu.result))
    results: dict[str, dict[str, Any]] = {}
    for mode in modes:
        runs = rounds[mode]
        requests = sum(result.requests for result, _ in runs)
        cpu_s = sum(cpu["service_cpu_s"] for _, cpu in runs)
        median = sorted(runs, key=lambda run: run[0].rps)[len(runs) // 2]
        per_request = cpu_s * 1000 / requests if requests else 0.0
        results[mode] = {
            **median[0].as_dict(),
            "good_rps": round(statistics.median(result.rps for result, _ in runs), 1),
            "requests_all_rounds": requests,
            "bad_answers": sum(result.bad_answers for result, _ in runs),
            "socket_errors": sum(result.socket_errors for result, _ in runs),
            "service_cpu_ms_per_request": round(per_request, 3),
            "cpu": median[1],
            "rounds": [{**result.as_dict(), "cpu": cpu} for result, cpu in runs],
        }
        print(
            f"  {mode:8} {service.workers} worker(s): "
            + ", ".join(f"{result.rps:.0f}" for result, _ in runs)
            + f" req/s in {len(runs)} rounds; median p50 {median[0].p50_ms:.2f} ms p99 {median[0].p99_ms:.2f} ms;"
            f" service CPU {per_request:.2f} ms/request",
            flush=True,
        )
        first_bad = next((result.bad_sample for result, _ in runs if result.bad_answers), None)
        if first_bad:
            print(f"  first bad answer: {first_bad!r}", flush=True)
    ratios = [
        gql.rps / rest.rps for (rest, _), (gql, _) in zip(rounds["rest"], rounds["graphql"], strict=True) if rest.rps
    ]
    results["graphql"]["share_of_rest"] = round(statistics.median(ratios), 3) if ratios else 0.0
    return results


# -- 2. proxied reads ---------------------------------------------------------------------------------


def _overhead(direct: Stats, proxied: Stats) -> dict[str, float]:
    return {"p50": round(proxied.p50 - direct.p50, 4), "p99": round(proxied.p99 - direct.p99, 4)}


async def proxied_reads(
    stack: Stack, service: Service, client: ServiceClient, pool: PoolProcess, config: BenchConfig
) -> dict[str, Any]:
    lkapi = stack.lkapi
    await lkapi.room.create_room(room_proto.CreateRoomRequest(name=READ_ROOM, empty_timeout=600))
    await pool.join_all([(READ_ROOM, READ_IDENTITY)])
    deadline = time.monotonic() + PARTICIPANT_BUDGET_S
    participant_query = '{ participant(room: "' + READ_ROOM + '", identity: "' + READ_IDENTITY + '") { identity } }'
    path = f"/api/v1/room/{READ_ROOM}/participant/{READ_IDENTITY}"
    identity_request = room_proto.RoomParticipantIdentity(room=READ_ROOM, identity=READ_IDENTITY)

    # Checked once, outside the timing: every variant must see the same room and participant.
    direct_rooms = [r.name for r in (await lkapi.room.list_rooms(room_proto.ListRoomsRequest())).rooms]
    rest_rooms = [r["name"] for r in (await client.rest("GET", "/api/v1/room/"))["rooms"]]
    gql_rooms = [r["name"] for r in (await client.graphql("{ rooms { name } }"))["rooms"]]
    if not direct_rooms == rest_rooms == gql_rooms == [READ_ROOM]:
        raise BenchError(f"rooms differ: direct {direct_rooms}, REST {rest_rooms}, GraphQL {gql_rooms}")
    found = {
        (await lkapi.room.get_participant(identity_request)).identity,
        (await client.rest("GET", path))["identity"],
        (await client.graphql(participant_query))["participant"]["identity"],
    }
    if found != {READ_IDENTITY}:
        raise BenchError(f"get participant gave {found}")

    async def direct_list() -> None:
        await lkapi.room.list_rooms(room_proto.ListRoomsRequest())

    async def rest_list() -> None:
        await client.rest("GET", "/api/v1/room/")

    async def gql_list() -> None:
        await client.graphql("{ rooms { name } }")

    async def direct_get() -> None:
        await lkapi.room.get_participant(identity_request)

    async def rest_get() -> None:
        await client.rest("GET", path)

    async def gql_get() -> None:
        await client.graphql(participant_query)

    async def bare_hop() -> None:
        # What one request to the service costs with no work behind it: how much of an
        # overhead is the extra loopback hop through two Python HTTP stacks, not the service.
        await client.rest("GET", "/healthz")

    out: dict[str, Any] = {"rooms_in_livekit": 1}
    # Get participant first: it needs the signal participant, which LiveKit drops after a minute.
    plan = {
        "get_participant": {"direct": direct_get, "rest": rest_get, "graphql": gql_get, "hop": bare_hop},
        "list_rooms": {"direct": direct_list, "rest": rest_list, "graphql": gql_list, "hop": bare_hop},
    }
    for read, variants in plan.items():
        with CpuMeter(service, stack.livekit.pid) as cpu:
            samples = await interleave(
                variants, rounds=config.read_rounds, warmup=config.read_warmup, deadline=deadline
            )
        stats = {name: Stats.of(values) for name, values in samples.items()}
        out[read] = {
            "samples": stats["direct"].n,
            "cpu": cpu.result,
            **{name: s.as_dict() for name, s in stats.items()},
            "overhead_ms": {
                "rest": _overhead(stats["direct"], stats["rest"]),
                "graphql": _overhead(stats["direct"], stats["graphql"]),
            },
        }
        o = out[read]["overhead_ms"]
        print(
            f"  {read:16} direct p50 {stats['direct'].p50:.3f} ms; overhead p50/p99: REST "
            f"{o['rest']['p50']:.3f}/{o['rest']['p99']:.3f} ms, GraphQL {o['graphql']['p50']:.3f}/"
            f"{o['graphql']['p99']:.3f} ms; a bare GET /healthz p50 {stats['hop'].p50:.3f} ms "
            f"({stats['direct'].n} rounds)",
            flush=True,
        )
        deadline = time.monotonic() + 600  # list rooms does not need the participant
    await pool.leave_all()
    await delete_all_rooms(lkapi)
    return out


# -- 3. fan-out --------------------------------------------------------------------------------------------


def fanout_layout(rooms: int, min_size: int = 2, max_size: int = 5) -> list[tuple[str, int]]:
    """Room names with 2, 3, 4, 5, 2, ... participants (175 for 50 rooms)."""
    span = max_size - min_size + 1
    return [(f"bench-fanout-{i:04d}", min_size + i % span) for i in range(rooms)]


async def fanout(
    stack: Stack,
    client: ServiceClient,
    pool: PoolProcess,
    layout: Sequence[tuple[str, int]],
    *,
    service: Service,
    runs: int,
    uncached: ServiceClient | None = None,
    warmup: int = 2,
) -> dict[str, Any]:
    """``{ rooms { participants { identity } } }`` against one ListParticipants and a direct fan-out.

    The service answers from its participant cache (the default configuration); ``uncached``, a
    service with the cache off, shows what the same query costs when every room is fetched.
    All rooms of the benchmark's LiveKit are the layout's rooms: any other room would add a call.
    """
    lkapi = stack.lkapi
    await delete_all_rooms(lkapi)
    specs = [(name, f"p{j}-{name}") for name, size in layout for j in range(size)]
    expected = len(specs)
    join_s = await pool.join_all(specs)
    deadline = time.monotonic() + PARTICIPANT_BUDGET_S - join_s
    names = [name for name, _ in layout]

    listed = {r.name for r in (await lkapi.room.list_rooms(room_proto.ListRoomsRequest())).rooms}
    if listed != set(names):
        raise BenchError(f"LiveKit lists {len(listed)} rooms, expected exactly the {len(names)} of the layout")
    counts = await bounded(
        [partial(lkapi.room.list_participants, room_proto.ListParticipantsRequest(room=n)) for n in names]
    )
    seen = sum(len(c.participants) for c in counts)
    if seen != expected:
        raise BenchError(f"LiveKit lists {seen} participants, expected {expected}")

    mismatches = 0
    turn = 0

    async def graphql(through: ServiceClient = client) -> None:
        nonlocal mismatches
        data = await through.graphql(FANOUT_QUERY)
        got = sum(len(room["participants"]) for room in data["rooms"])
        if len(data["rooms"]) != len(names) or got != expected:
            mismatches += 1

    async def one_list_participants() -> None:
        nonlocal turn
        turn += 1
        await lkapi.room.list_participants(room_proto.ListParticipantsRequest(room=names[turn % len(names)]))

    async def direct_fanout() -> None:
        rooms = (await lkapi.room.list_rooms(room_proto.ListRoomsRequest())).rooms
        await bounded(
            [partial(lkapi.room.list_participants, room_proto.ListParticipantsRequest(room=r.name)) for r in rooms]
        )

    variants: dict[str, Callable[[], Awaitable[None]]] = {
        "graphql": graphql,
        "one_list_participants": one_list_participants,
        "direct_fanout": direct_fanout,
    }
    if uncached is not None:
        variants["graphql_uncached"] = partial(graphql, uncached)
    with CpuMeter(service, stack.livekit.pid) as cpu:
        samples = await interleave(
            variants,
            rounds=runs,
            warmup=warmup,
            deadline=deadline,
        )
    oldest, dropped = await pool.status()
    await pool.leave_all()
    await delete_all_rooms(lkapi)
    stats = {name: Stats.of(values) for name, values in samples.items()}
    if stats["graphql"].n == 0:
        raise BenchError("no fan-out sample was taken before the participants' minute ran out")
    ratio = stats["graphql"].p50 / stats["one_list_participants"].p50
    return {
        "rooms": len(names),
        "participants": expected,
        "join_s": round(join_s, 2),
        "runs": stats["graphql"].n,
        "graphql": stats["graphql"].as_dict(),
        "one_list_participants": stats["one_list_participants"].as_dict(),
        "direct_fanout_16": stats["direct_fanout"].as_dict(),
        "ratio_p50": round(ratio, 2),
        "ratio_vs_direct_fanout_p50": round(stats["graphql"].p50 / stats["direct_fanout"].p50, 2),
        **(
            {
                "graphql_uncached": stats["graphql_uncached"].as_dict(),
                "ratio_uncached_p50": round(stats["graphql_uncached"].p50 / stats["one_list_participants"].p50, 2),
            }
            if "graphql_uncached" in stats
            else {}
        ),
        "answers_with_wrong_counts": mismatches,
        "participants_dropped_by_livekit": dropped,
        "oldest_participant_age_s": round(oldest, 1),
        "cpu": cpu.result,
    }

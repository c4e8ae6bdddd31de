"""`python -m bench --scaling`: list rooms and the fan-out with 1, 10, 100 and 1,000 rooms, against LiveKit directly."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from livekit.protocol import room as room_proto

from .client import BenchError, ServiceClient
from .participants import PoolProcess
from .report import Row, ms
from .run import (
    BenchConfig,
    Stack,
    bounded,
    check_tokens,
    delete_all_rooms,
    fanout,
    fanout_layout,
    running_service,
)
from .timing import Stats, interleave

__all__ = ["scaling_rows", "scaling_run"]


async def scaling_run(stack: Stack, config: BenchConfig) -> dict[str, Any]:
    lkapi = stack.lkapi
    sizes: list[dict[str, Any]] = []
    with (
        running_service(stack, 1) as service,
        running_service(stack, 1, GXRTC_PARTICIPANT_CACHE_SECONDS="0") as plain,
    ):
        async with (
            ServiceClient(service.base_url, stack.key) as client,
            ServiceClient(plain.base_url, stack.key) as uncached,
        ):
            await check_tokens(client)
            for n in config.scaling_sizes:
                print(f"\n[{n} room(s)]", flush=True)
                await delete_all_rooms(lkapi)
                names = [f"bench-scale-{i:04d}" for i in range(n)]
                started = time.perf_counter()
                await bounded(
                    [
                        partial(lkapi.room.create_room, room_proto.CreateRoomRequest(name=name, empty_timeout=900))
                        for name in names
                    ]
                )
                create_s = time.perf_counter() - started
                listed = (await lkapi.room.list_rooms(room_proto.ListRoomsRequest())).rooms
                if len(listed) != n:
                    raise BenchError(f"LiveKit lists {len(listed)} rooms, expected {n}")
                before = service.memory()[0]

                async def direct() -> None:
                    await lkapi.room.list_rooms(room_proto.ListRoomsRequest())

                async def rest() -> None:
                    await client.rest("GET", "/api/v1/room/")

                async def gql() -> None:
                    await client.graphql("{ rooms { name } }")

                rounds = 100 if n <= 100 else 30
                samples = await interleave(
                    {"direct": direct, "rest": rest, "graphql": gql},
                    rounds=rounds,
                    warmup=3,
                    deadline=time.monotonic() + 120,
                )
                lists = {k: Stats.of(v).as_dict() for k, v in samples.items()}
                after_list = service.memory()[0]
                print(
                    f"  list rooms p50: direct {lists['direct']['p50']:.2f} ms, REST {lists['rest']['p50']:.2f} ms, "
                    f"GraphQL {lists['graphql']['p50']:.2f} ms",
                    flush=True,
                )
                pool = PoolProcess(stack.livekit.ws_url, stack.livekit.api_key, stack.livekit.api_secret)
                try:
                    fan = await fanout(
                        stack,
                        client,
                        pool,
                        fanout_layout(n, 1, 1),
                        service=service,
                        runs=11 if n <= 100 else 5,
                        uncached=uncached,
                        warmup=1,
                    )
                finally:
                    await pool.aclose()
                after_fanout = service.memory()[0]
                print(
                    f"  fan-out ({n} participants): GraphQL p50 {fan['graphql']['p50']:.1f} ms (cache off "
                    f"{fan['graphql_uncached']['p50']:.1f} ms), direct fan-out p50 "
                    f"{fan['direct_fanout_16']['p50']:.1f} ms, {fan['ratio_p50']}x one ListParticipants; "
                    f"worker RSS {after_fanout.rss_mb:.0f} MB (peak {after_fanout.hwm_mb:.0f} MB)",
                    flush=True,
                )
                sizes.append(
                    {
                        "rooms": n,
                        "create_rooms_s": round(create_s, 2),
                        "list_rooms_ms": lists,
                        "fanout": fan,
                        "worker_rss_mb": {
                            "before": round(before.rss_mb, 1),
                            "after_list": round(after_list.rss_mb, 1),
                            "after_fanout": round(after_fanout.rss_mb, 1),
                            "peak": round(after_fanout.hwm_mb, 1),
                        },
                    }
                )
            await delete_all_rooms(lkapi)
    return {"sizes": sizes}


def scaling_rows(results: dict[str, Any]) -> list[Row]:
    rows = []
    for size in results["sizes"]:
        label = f"{size['rooms']} room{'s' if size['rooms'] != 1 else ''}"
        lists, fan, mem = size["list_rooms_ms"], size["fanout"], size["worker_rss_mb"]
        rows.append(
            Row(
                label,
                "list rooms p50 / p99 (ms): direct, REST, GraphQL",
                ", ".join(f"{ms(lists[k]['p50'])}/{ms(lists[k]['p99'])}" for k in ("direct", "rest", "graphql")),
            )
        )
        rows.append(
            Row(
                label,
                "fan-out p50 (ms): GraphQL, cache off, direct (16 in flight)",
                f"{ms(fan['graphql']['p50'])}, {ms(fan['graphql_uncached']['p50'])}, "
                f"{ms(fan['direct_fanout_16']['p50'])}",
            )
        )
        rows.append(
            Row(
                label,
                "fan-out / one ListParticipants (p50s): GraphQL, cache off",
                f"{fan['ratio_p50']:.1f}x, {fan['ratio_uncached_p50']:.1f}x",
            )
        )
        cpu = fan["cpu"]
        rows.append(
            Row(
                label,
                "fan-out phase CPU (cores): service, LiveKit, bench, others",
                f"{cpu['service_cores']:.2f}, {cpu['livekit_cores']:.2f}, {cpu['loadgen_cores']:.2f}, "
                f"{cpu['foreign_cores']:.2f}",
            )
        )
        rows.append(
            Row(
                label,
                "worker RSS after list, after fan-out, peak (MB)",
                f"{mem['after_list']:.0f}, {mem['after_fanout']:.0f}, {mem['peak']:.0f}",
            )
        )
    return rows

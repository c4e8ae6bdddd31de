"""``python -m bench.brake_check``: what the shared brake's check costs an authenticated request.

Before, `SharedBrake.check` was one EVALSHA of a read-only Lua script per request (a copy of it is
below, run through a client configured as the brake's was); now it is a look-up in this process's map
of braked keys, then the local brake's. Cases, interleaved round by round on one throwaway
redis-server (tests/harness/redis_server.py, loopback): the old check, the new one with nothing braked
(the usual case), and the new one with 100,000 other keys braked (the map full). CPU time of this
process (the machine is shared; Redis's own CPU is not counted) and wall time per check; medians of the
rounds.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from graphql_api.core.shared_brake import SharedBrake
from tests.harness.redis_server import RedisServer

ROUNDS = 7
CHECKS = 5_000
KEYS = ("address:203.0.113.7", "api-key:abcdefgh")

_OLD_CHECK_SCRIPT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate = tonumber(ARGV[3])
local highest = 0
for _, key in ipairs(KEYS) do
  local entry = redis.call('HMGET', key, 'level', 'at')
  local level = 0
  if entry[1] then
    level = math.max(0, tonumber(entry[1]) - (now - tonumber(entry[2])) * rate)
  end
  if level > highest then
    highest = level
  end
end
return string.format('%.6f', highest)
"""


async def _time(check: Callable[[], Awaitable[None]]) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(CHECKS):
        await check()
    return (time.process_time() - cpu) / CHECKS, (time.perf_counter() - wall) / CHECKS


async def _main() -> None:
    with RedisServer() as server:
        pool = aioredis.BlockingConnectionPool.from_url(
            server.url, max_connections=16, timeout=0.25, socket_timeout=0.25, protocol=2
        )
        old_client = aioredis.Redis.from_pool(pool)
        old_script = old_client.register_script(_OLD_CHECK_SCRIPT)

        async def old_check() -> None:
            async with asyncio.timeout(0.25):
                await old_script(keys=[f"bench:brake:{key}" for key in KEYS], args=["check", 10.0, 10 / 60])

        empty = SharedBrake(server.url, failures=10, window_seconds=60, prefix="bench-empty")
        full = SharedBrake(server.url, failures=10, window_seconds=60, prefix="bench-full")
        for i in range(100_000):
            full._brake(f"address:10.{i >> 16}.{(i >> 8) & 255}.{i & 255}", 60.0)
        cases: dict[str, Callable[[], Awaitable[None]]] = {
            "before: EVALSHA per check": old_check,
            "after: nothing braked": lambda: empty.check(KEYS),
            "after: 100,000 keys braked": lambda: full.check(KEYS),
        }
        for check in cases.values():  # warm-up: the script loaded, connections open
            for _ in range(200):
                await check()
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        names = list(cases)
        for round_ in range(ROUNDS):
            order = names if round_ % 2 == 0 else names[::-1]
            for name in order:
                results[name].append(await _time(cases[name]))
        report = {
            name: {
                "cpu_us": round(statistics.median(cpu for cpu, _ in runs) * 1e6, 3),
                "wall_us": round(statistics.median(wall for _, wall in runs) * 1e6, 3),
            }
            for name, runs in results.items()
        }
        print(json.dumps({"checks_per_round": CHECKS, "rounds": ROUNDS, "per_check": report}, indent=2))
        await empty.aclose()
        await full.aclose()
        await old_client.aclose()


if __name__ == "__main__":
    asyncio.run(_main())

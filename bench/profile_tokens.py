"""Where a token request's CPU goes, in process: cProfile over the real app (tests/harness/service_app).

    .venv/bin/python -m bench.profile_tokens [--requests N] [--profile] [--top N]

Three paths, each `--requests` requests (`--concurrency` at a time) with the admin key: REST tokens
for others (audited), REST tokens for the caller itself (not audited) and GraphQL `createToken` for
others. It prints each path's process CPU per request (the in-process client's share included, so
compare figures of one run with each other, not with `make bench`); with `--profile` also the top
functions by own time, and the service's by cumulative time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from graphql_api.core.store import Store
from graphql_api.core.store.migrate import upgrade
from tests.harness.service_app import ADMIN, TOKEN_QUERY, client

ROOM = "profile-room"
OWN = "key:admin"


async def _run(requests: int, concurrency: int, profile: bool, top: int) -> None:
    with tempfile.TemporaryDirectory() as state:
        store = Store.open(f"sqlite+aiosqlite:///{Path(state) / 'gxrtc.sqlite3'}", timeout_seconds=30)
        await upgrade(store)
        await store.aclose()
        async with client(state_dir=Path(state), access_log=False) as http:

            async def rest(uid: str) -> None:
                answer = await http.post("/api/v1/room/token", data={"uid": uid, "room": ROOM}, headers=ADMIN)
                assert answer.status_code == 200, answer.text

            async def graphql(uid: str) -> None:
                body = {"query": TOKEN_QUERY, "variables": {"room": ROOM, "identity": uid}}
                answer = await http.post("/graphql", json=body, headers=ADMIN)
                assert answer.status_code == 200, answer.text
                assert "errors" not in answer.json(), answer.text

            paths: dict[str, Callable[[int], Awaitable[None]]] = {
                "rest-other": lambda i: rest(f"someone-{i}"),
                "rest-own": lambda _i: rest(OWN),
                "graphql-other": lambda i: graphql(f"someone-{i}"),
            }
            for call in paths.values():  # warm-up: caches, compiled statements
                for index in range(50):
                    await call(index)
            for name, call in paths.items():
                profiler = cProfile.Profile() if profile else None
                started = time.process_time()
                if profiler:
                    profiler.enable()
                for start in range(0, requests, concurrency):
                    await asyncio.gather(*(call(i) for i in range(start, min(start + concurrency, requests))))
                if profiler:
                    profiler.disable()
                spent = time.process_time() - started
                print(f"{name}: {spent * 1000 / requests:.3f} ms CPU per request ({requests} requests)")
                if profiler:
                    out = io.StringIO()
                    stats = pstats.Stats(profiler, stream=out)
                    stats.sort_stats("tottime").print_stats(top)
                    # The service's own functions by cumulative time (the in-process client's are left out).
                    stats.sort_stats("cumulative").print_stats(r"graphql_api|rest_compat|sqlalchemy|logging", top)
                    print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight at once, as wrk's connections")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(_run(args.requests, args.concurrency, args.profile, args.top))


if __name__ == "__main__":
    main()

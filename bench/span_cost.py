"""``python -m bench.span_cost``: what the service's spans cost, with no SDK and with one.

Two figures per case, each case in a process of its own (the global tracer provider is set once per
process): one `client_span` opened and closed (the core's LiveKit, database and Redis calls), and one
REST token request through the whole app in-process (httpx's ASGI transport: no sockets, so the app's
own time is what moves). Cases: telemetry off; on with no SDK (the API's proxy provider); on with the
API's explicit no-op provider; on with OpenTelemetry's SDK recording every span (no exporter).
CPU time of this process (not wall time: the machine is shared), medians of 5 interleaved rounds.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

CASES = ("off", "on-no-sdk", "on-noop-provider", "on-sdk")
SPANS = 100_000
REQUESTS = 1_000
ROUNDS = 5


def _span_seconds() -> float:
    from graphql_api.core.tracing import client_span

    attributes = {"rpc.system.name": "twirp", "rpc.method": "list_rooms"}
    started = time.process_time()
    for _ in range(SPANS):
        with client_span("LiveKit list_rooms", attributes):
            pass
    return (time.process_time() - started) / SPANS


async def _request_seconds(telemetry: bool) -> float:
    from tests.harness.service_app import ADMIN, client

    async with client(telemetry=telemetry) as http:
        for uid in range(50):  # warm-up
            await http.post("/api/v1/room/token", data={"uid": f"w{uid}", "room": "bench"}, headers=ADMIN)
        started = time.process_time()
        for uid in range(REQUESTS):
            answer = await http.post("/api/v1/room/token", data={"uid": f"u{uid}", "room": "bench"}, headers=ADMIN)
            assert answer.status_code == 200, answer.text
        return (time.process_time() - started) / REQUESTS


async def _migrated_state_dir() -> None:
    """A store of this process's own, migrated, as the production-mode app requires (GXRTC_STATE_DIR)."""
    from graphql_api.core.store import Store
    from graphql_api.core.store.migrate import upgrade

    state_dir = tempfile.mkdtemp(prefix="span-cost-")
    os.environ["GXRTC_STATE_DIR"] = state_dir
    store = Store.open(f"sqlite+aiosqlite:///{state_dir}/gxrtc.sqlite3", timeout_seconds=10)
    await upgrade(store)
    await store.aclose()


def _one(case: str) -> dict[str, float]:
    from opentelemetry import trace

    from graphql_api.core import tracing

    asyncio.run(_migrated_state_dir())

    if case == "on-noop-provider":
        trace.set_tracer_provider(trace.NoOpTracerProvider())
    elif case == "on-sdk":
        from opentelemetry.sdk.trace import TracerProvider

        trace.set_tracer_provider(TracerProvider())
    telemetry = case != "off"
    tracing.enable(telemetry)
    return {"span_us": _span_seconds() * 1e6, "request_us": asyncio.run(_request_seconds(telemetry)) * 1e6}


def main() -> None:
    if len(sys.argv) == 2 and sys.argv[1] in CASES:
        print(json.dumps(_one(sys.argv[1])))
        return
    rounds: dict[str, list[dict[str, float]]] = {case: [] for case in CASES}
    for round_ in range(ROUNDS):
        # Interleaved, the order turning every round, so a busy spell of the shared machine hits every case.
        order = CASES[round_ % len(CASES) :] + CASES[: round_ % len(CASES)]
        for case in order:
            done = subprocess.run(
                [sys.executable, "-m", "bench.span_cost", case], capture_output=True, text=True, check=True, timeout=600
            )
            rounds[case].append(json.loads(done.stdout.strip().splitlines()[-1]))
    results = {
        case: {key: statistics.median(figures[key] for figures in seen) for key in ("span_us", "request_us")}
        for case, seen in rounds.items()
    }
    base = results["off"]["request_us"]
    print(f"{'case':<18} {'one span (µs CPU)':>18} {'token request (µs CPU)':>23} {'vs off':>8}")
    for case, figures in results.items():
        ratio = figures["request_us"] / base - 1
        print(f"{case:<18} {figures['span_us']:>18.3f} {figures['request_us']:>23.1f} {ratio:>+8.1%}")


if __name__ == "__main__":
    main()

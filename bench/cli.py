"""``python -m bench``: start the stack, run the scenarios, print one table, write the JSON."""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from livekit import api

from tests.harness.livekit_server import LiveKitServer, LiveKitServerError

from .bulk import bulk_rows, bulk_run
from .client import BenchError, ServiceClient
from .load import CREATE_TOKEN_MUTATION, WrkError, ensure_wrk
from .moderation import audit_rows, audit_run, ban_enforcement
from .mute_all import mute_all_rows, mute_on_join
from .observability import metrics_cost, metrics_rows
from .participants import PoolProcess
from .report import Row, machine, ms, render_table, write_json
from .run import (
    BenchConfig,
    Stack,
    check_tokens,
    delete_all_rooms,
    fanout,
    fanout_layout,
    memory_dict,
    proxied_reads,
    running_service,
    token_load,
)
from .scaling import scaling_rows, scaling_run
from .stack import RssSampler

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results"
# Every part is bounded on its own; this is the backstop for the whole run.
TOTAL_TIMEOUT_S = 20 * 60


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark GXRTC API against a throwaway livekit-server, all on 127.0.0.1.",
    )
    parser.add_argument("--duration", type=int, default=4, help="seconds of each measured wrk round (default 4)")
    parser.add_argument(
        "--token-rounds", type=int, default=3, help="alternating REST/GraphQL wrk rounds per worker count (default 3)"
    )
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts, comma-separated (default 1,2)")
    parser.add_argument("--reads", type=int, default=300, help="timed rounds per proxied read (default 300)")
    parser.add_argument("--fanout-runs", type=int, default=21, help="timed fan-out queries (default 21)")
    parser.add_argument("--quick", action="store_true", help="short smoke run: 2 s wrk rounds, 100 reads, 7 fan-outs")
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="instead of the main run: list rooms and the fan-out query with 1, 10, 100, 1000 rooms "
        "(writes bench/results/scaling.json)",
    )
    parser.add_argument(
        "--metrics-cost",
        action="store_true",
        help="instead of the main run: only the request metrics' cost (writes bench/results/metrics-cost.json)",
    )
    parser.add_argument("--sizes", default="1,10,100,1000", help="room counts for --scaling")
    parser.add_argument("--output", type=Path, help="JSON path (default bench/results/latest.json or scaling.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.reads, args.fanout_runs = 2, 100, 7
    if not 1 <= args.duration <= 60:
        parser.error("--duration must be 1..60 seconds")
    return args


def _config(args: argparse.Namespace) -> BenchConfig:
    return BenchConfig(
        duration_s=args.duration,
        token_rounds=args.token_rounds,
        warmup_s=2,
        connections=args.connections,
        wrk_threads=args.wrk_threads,
        workers=tuple(sorted({int(w) for w in args.workers.split(",")})),
        read_rounds=args.reads,
        fanout_runs=args.fanout_runs,
        scaling_sizes=tuple(int(s) for s in args.sizes.split(",")),
    )


# -- the main run ------------------------------------------------------------------------------------------


async def _main_run(stack: Stack, config: BenchConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"tokens": {}, "memory": {}}
    full = max(config.workers)
    for workers in config.workers:
        print(f"\n[{workers} worker(s)]", flush=True)
        with running_service(stack, workers) as service:
            async with ServiceClient(service.base_url, stack.key) as client:
                await check_tokens(client)
                await client.rest("GET", "/api/v1/room/")
                await client.graphql("{ rooms { name } }")
                await asyncio.sleep(1)
                idle = service.memory()
                sampler = RssSampler(service)
                tokens = token_load(stack, service, config, sampler)
                out["tokens"][str(workers)] = tokens
                if workers == full:
                    pool = PoolProcess(stack.livekit.ws_url, stack.livekit.api_key, stack.livekit.api_secret)
                    try:
                        with sampler:
                            print("  proxied reads (sequential, interleaved with direct livekit-api calls)", flush=True)
                            out["reads"] = await proxied_reads(stack, service, client, pool, config)
                            layout = fanout_layout(config.fanout_rooms)
                            print(
                                f"  fan-out: {len(layout)} rooms, {sum(s for _, s in layout)} signal participants",
                                flush=True,
                            )
                            with running_service(stack, 1, GXRTC_PARTICIPANT_CACHE_SECONDS="0") as plain:
                                async with ServiceClient(plain.base_url, stack.key) as uncached:
                                    out["fanout"] = await fanout(
                                        stack,
                                        client,
                                        pool,
                                        layout,
                                        service=service,
                                        runs=config.fanout_runs,
                                        uncached=uncached,
                                    )
                            f = out["fanout"]
                            print(
                                f"  fan-out GraphQL p50 {f['graphql']['p50']:.1f} ms (cache off "
                                f"{f['graphql_uncached']['p50']:.1f} ms), one ListParticipants p50 "
                                f"{f['one_list_participants']['p50']:.2f} ms: {f['ratio_p50']}x ({f['runs']} runs)",
                                flush=True,
                            )
                    finally:
                        await pool.aclose()
                        await delete_all_rooms(stack.lkapi)
                end = service.memory()
                out["memory"][str(workers)] = {
                    "idle": memory_dict(idle),
                    "end": memory_dict(end),
                    "sampled_peak_worker_rss_mb": round(sampler.peak_worker_mb(), 1),
                    "sampled_peak_total_rss_mb": round(sampler.peak_total_kb / 1024, 1),
                    "under_load": "wrk token runs" + (", proxied reads and fan-out" if workers == full else ""),
                }
                m = out["memory"][str(workers)]
                print(
                    f"  RSS per worker: idle {m['idle']['worker_rss_max_mb']} MB, peak {m['end']['worker_hwm_max_mb']}"
                    f" MB; all processes: idle {m['idle']['total_rss_mb']} MB, peak "
                    f"{m['sampled_peak_total_rss_mb']} MB",
                    flush=True,
                )
    out["audit"] = await audit_run(stack, config)
    print("\n[ban enforcement]", flush=True)
    out["ban_enforcement"] = await ban_enforcement(stack)
    print("\n[request metrics' cost]", flush=True)
    out["metrics_cost"] = metrics_cost(stack, config)
    print("\n[bulk acts and presence]", flush=True)
    out["bulk"] = await bulk_run(stack)
    print("\n[mute-all: late joiners]", flush=True)
    out["mute_on_join"] = await mute_on_join(stack)
    return out


_READS = (("list_rooms", "list rooms"), ("get_participant", "get participant"))


def _main_rows(results: dict[str, Any], config: BenchConfig) -> tuple[list[Row], str]:
    rows: list[Row] = []
    full = max(config.workers)
    for workers in config.workers:
        tokens = results["tokens"][str(workers)]
        rest, gql = tokens["rest"], tokens["graphql"]
        section = f"token, {workers} worker{'s' if workers > 1 else ''}"
        target = workers == full == 2
        rest_rate, gql_rate = rest["good_rps"], gql["good_rps"]
        share = gql["share_of_rest"]
        bad = rest["bad_answers"] + rest["socket_errors"] + gql["bad_answers"] + gql["socket_errors"]
        rows.append(
            Row(
                section,
                "REST req/s",
                f"{rest_rate:,.0f}",
                "≥ 5,000" if target else "",
                rest_rate >= 5000 if target else None,
            )
        )
        rows.append(
            Row(
                section,
                "REST latency p50 / p99 (ms)",
                f"{ms(rest['latency_ms']['p50'])} / {ms(rest['latency_ms']['p99'])}",
                "p99 < 20" if target else "",
                rest["latency_ms"]["p99"] < 20 if target else None,
            )
        )
        rows.append(
            Row(
                section,
                "GraphQL createToken req/s (of REST)",
                f"{gql_rate:,.0f} ({share:.0%})",
                "≥ 60% of REST" if target else "",
                share >= 0.6 if target else None,
            )
        )
        rows.append(
            Row(
                section,
                "GraphQL latency p50 / p99 (ms)",
                f"{ms(gql['latency_ms']['p50'])} / {ms(gql['latency_ms']['p99'])}",
            )
        )
        rows.append(
            Row(
                section,
                "service CPU per request REST / GraphQL (ms)",
                f"{rest['service_cpu_ms_per_request']:.2f} / {gql['service_cpu_ms_per_request']:.2f}",
            )
        )
        if bad:
            rows.append(Row(section, "bad answers or socket errors", str(bad), "0", False))
    reads = results.get("reads")
    if reads:
        for key, label in (("list_rooms", "read: list rooms"), ("get_participant", "read: get participant")):
            r = reads[key]
            rows.append(
                Row(label, "direct livekit-api p50 / p99 (ms)", f"{ms(r['direct']['p50'])} / {ms(r['direct']['p99'])}")
            )
            if "hop" in r:
                rows.append(Row(label, "a bare GET /healthz to the service p50 (ms)", f"{r['hop']['p50']:.3f}"))
            for face, limit in (("rest", 0.5), ("graphql", 1.0)):
                o = r["overhead_ms"][face]
                rows.append(
                    Row(
                        label,
                        f"{'REST' if face == 'rest' else 'GraphQL'} overhead p50 / p99 (ms)",
                        f"{o['p50']:.3f} / {o['p99']:.3f}",
                        f"p50 ≤ {limit:g}",
                        o["p50"] <= limit,
                    )
                )
    f = results.get("fanout")
    if f:
        label = f"fan-out {f['rooms']} rooms, {f['participants']} p."
        rows.append(
            Row(
                label,
                "GraphQL rooms{participants} p50 / p99 (ms)",
                f"{ms(f['graphql']['p50'])} / {ms(f['graphql']['p99'])}",
            )
        )
        rows.append(Row(label, "one ListParticipants p50 (ms)", ms(f["one_list_participants"]["p50"])))
        rows.append(Row(label, "ratio of p50s (median of runs)", f"{f['ratio_p50']:.1f}x", "≤ 3x", f["ratio_p50"] <= 3))
        if "graphql_uncached" in f:
            rows.append(
                Row(
                    label,
                    "cache off: p50 (ms), ratio",
                    f"{ms(f['graphql_uncached']['p50'])}, {f['ratio_uncached_p50']:.1f}x",
                )
            )
        rows.append(Row(label, "direct fan-out, 16 in flight, p50 (ms)", ms(f["direct_fanout_16"]["p50"])))
        cpu = f["cpu"]
        rows.append(
            Row(
                label,
                "CPU while measuring (cores): service, LiveKit, bench",
                f"{cpu['service_cores']:.2f}, {cpu['livekit_cores']:.2f}, {cpu['loadgen_cores']:.2f}",
            )
        )
        if f["answers_with_wrong_counts"] or f["participants_dropped_by_livekit"]:
            rows.append(
                Row(
                    label,
                    "answers with wrong counts / dropped",
                    f"{f['answers_with_wrong_counts']} / {f['participants_dropped_by_livekit']}",
                    "0 / 0",
                    False,
                )
            )
    for workers in config.workers:
        m = results["memory"][str(workers)]
        label = f"memory, {workers} worker{'s' if workers > 1 else ''}"
        idle, peak = m["idle"]["worker_rss_max_mb"], max(m["end"]["worker_hwm_max_mb"], m["sampled_peak_worker_rss_mb"])
        rows.append(Row(label, "RSS per worker idle / peak (MB)", f"{idle:.0f} / {peak:.0f}", "< 150", peak < 150))
        rows.append(
            Row(
                label,
                "RSS all processes idle / peak (MB)",
                f"{m['idle']['total_rss_mb']:.0f} / {m['sampled_peak_total_rss_mb']:.0f}",
            )
        )
    if "audit" in results:
        rows += audit_rows(results)
    if "metrics_cost" in results:
        rows += metrics_rows(results)
    if "bulk" in results:
        rows += bulk_rows(results)
    if "mute_on_join" in results:
        rows += mute_all_rows(results)
    # On a shared machine other people's work competes for the same cores: processes of this
    # machine that are not ours, and the time the hypervisor gave our CPUs to other machines.
    phases: list[tuple[str, dict[str, float]]] = [
        (f"{w}w {mode}", results["tokens"][str(w)][mode]["cpu"]) for w in config.workers for mode in ("rest", "graphql")
    ]
    if "reads" in results:
        phases += [(label, results["reads"][key]["cpu"]) for key, label in _READS]
    if "fanout" in results:
        phases.append(("fan-out", results["fanout"]["cpu"]))
    others = ", ".join(f"{label} {cpu['foreign_cores']:.2f}" for label, cpu in phases)
    stolen = ", ".join(f"{label} {cpu.get('stolen_cores', 0.0):.2f}" for label, cpu in phases)
    return rows, f"others' CPU during the runs (cores): {others}\nCPU stolen by the hypervisor (cores): {stolen}"


# -- entry -------------------------------------------------------------------------------------------------


async def _with_stack(livekit: LiveKitServer, key: str, wrk: str, args: argparse.Namespace) -> dict[str, Any]:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    config = _config(args)
    # Explicit URL and key pair: ambient LIVEKIT_* variables can never point the benchmark elsewhere.
    lkapi = api.LiveKitAPI(livekit.url, livekit.api_key, livekit.api_secret, failover=False)
    try:
        stack = Stack(livekit=livekit, lkapi=lkapi, key=key, wrk=wrk)
        async with asyncio.timeout(TOTAL_TIMEOUT_S):
            if args.scaling:
                return await scaling_run(stack, config)
            if args.metrics_cost:
                print("\n[request metrics' cost]", flush=True)
                return {"metrics_cost": metrics_cost(stack, config)}
            return await _main_run(stack, config)
    finally:
        await lkapi.aclose()
        loop.remove_signal_handler(signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.monotonic()
    try:
        wrk = ensure_wrk() if not args.scaling else ""
    except WrkError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    # Only letters and digits: it goes into the wrk Lua script and HTTP headers as it is.
    key = secrets.token_hex(24)
    before = machine()
    try:
        with tempfile.TemporaryDirectory(prefix="gxrtc-bench-livekit-") as tmp:
            livekit = LiveKitServer(workdir=Path(tmp), startup_timeout=30)
            print("starting livekit-server on 127.0.0.1 ...", flush=True)
            with livekit:
                print(f"  {livekit.describe()}", flush=True)
                try:
                    results = asyncio.run(_with_stack(livekit, key, wrk, args))
                except BaseException:
                    print(f"livekit-server log tail:\n{livekit.log_tail(15, 300)}", file=sys.stderr)
                    raise
            version = livekit.version
    except (BenchError, WrkError, LiveKitServerError, RuntimeError, TimeoutError) as exc:
        print(f"\nbench: failed: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\nbench: interrupted; everything it started has been stopped", file=sys.stderr)
        return 130
    config = _config(args)
    description = machine(version)
    description["load_average_before"] = before["load_average"]
    elapsed = time.monotonic() - started
    title = (
        f"GXRTC API benchmark: {description['nproc']} CPUs ({description['cpu_model']}), Python "
        f"{description['python']}, {description['date']}, load average before {before['load_average'][0]} "
        f"after {description['load_average'][0]}, {elapsed:.0f} s"
    )
    if args.scaling:
        rows, note = scaling_rows(results), ""
        path = args.output or RESULTS / "scaling.json"
        settings = {"sizes": list(config.scaling_sizes), "workers": 1}
    elif args.metrics_cost:
        rows, note = metrics_rows(results), ""
        path = args.output or RESULTS / "metrics-cost.json"
        settings = {"duration_s": config.duration_s, "connections": config.connections, "workers": 1}
    else:
        rows, note = _main_rows(results, config)
        path = args.output or RESULTS / "latest.json"
        settings = {
            "wrk": {
                "connections": config.connections,
                "threads": config.wrk_threads,
                "duration_s": config.duration_s,
                "warmup_s": config.warmup_s,
                "token_rounds": config.token_rounds,
            },
            "workers": list(config.workers),
            "server": "python -m graphql_api (uvicorn, asyncio loop, graphql_api.server.http protocol, no access log)",
            "read_rounds": config.read_rounds,
            "read_warmup": config.read_warmup,
            "fanout_runs": config.fanout_runs,
            "graphql_create_token_document": CREATE_TOKEN_MUTATION,
            "participants": "signal-only (bench/participants.py)",
        }
    text = render_table(title, rows) + (f"\n{note}" if note else "")
    print("\n" + text)
    write_json(
        path,
        {
            "machine": description,
            "config": settings,
            "elapsed_s": round(elapsed, 1),
            "table": [r.as_dict() for r in rows],
            "text": text,
            "results": results,
        },
    )
    print(f"\nwrote {path}")
    return 0

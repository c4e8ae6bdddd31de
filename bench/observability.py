"""What the request metrics cost: REST token minting on a service with them (the default) against the same
service with `GXRTC_METRICS=false` (no `/metrics` and no counting middleware; the few counters the core
increments itself stay), both at once on one LiveKit, in alternating wrk rounds so a slow spell of the
shared machine hits both alike, over several pairs of fresh processes (`PAIRS`). Reported: the median of
the per-round rate ratios (on / off), their range (how much one round can be trusted on this machine) and
each one's service CPU per request. Goal (issue 18): the metrics cost under 5% of the REST token rate.

`python -m bench --metrics-cost` runs this part alone (bench/results/metrics-cost.json).
"""

from __future__ import annotations

import statistics
from typing import Any

from .load import WrkResult, run_wrk
from .report import Row
from .run import TOKEN_ROOM, BenchConfig, Stack, running_service
from .stack import CpuMeter, Service

__all__ = ["ROUNDS", "metrics_cost", "metrics_rows"]

PAIRS = 4
"""Fresh processes for each pair of services: two processes of the same code can differ by up to 10% in
CPU per request for as long as they live (seen as whole runs of 89% and of 97% with the same code), more
than the 5% to be measured, so one pair per run would measure the pair."""
ROUNDS_PER_PAIR = 2
ROUNDS = PAIRS * ROUNDS_PER_PAIR
"""Rounds each: a 5% difference is within one round's noise on a 2-core machine."""


def metrics_cost(stack: Stack, config: BenchConfig) -> dict[str, Any]:
    def load(service: Service, seconds: int) -> WrkResult:
        return run_wrk(
            stack.wrk,
            service.base_url,
            "rest",
            room=TOKEN_ROOM,
            key=stack.key,
            connections=config.connections,
            threads=config.wrk_threads,
            duration_s=seconds,
        )

    rounds: dict[str, list[tuple[WrkResult, float]]] = {"on": [], "off": []}
    order = ("on", "off")
    per_pair = max(ROUNDS_PER_PAIR, -(-config.token_rounds // PAIRS))
    for pair in range(PAIRS):
        with running_service(stack, 1) as on, running_service(stack, 1, GXRTC_METRICS="false") as off:
            services = {"on": on, "off": off}
            for service in services.values():
                load(service, config.warmup_s)
            for index in range(per_pair):
                for name in order if (pair + index) % 2 == 0 else order[::-1]:
                    with CpuMeter(services[name], stack.livekit.pid) as cpu:
                        result = load(services[name], config.duration_s)
                    rounds[name].append((result, cpu.result["service_cpu_s"]))
    out: dict[str, Any] = {}
    for name, runs in rounds.items():
        requests = sum(result.requests for result, _ in runs)
        out[name] = {
            "rps": round(statistics.median(result.rps for result, _ in runs), 1),
            "service_cpu_ms_per_request": round(sum(cpu for _, cpu in runs) * 1000 / requests, 3) if requests else 0.0,
            "bad_answers": sum(result.bad_answers for result, _ in runs),
        }
    ratios = [a.rps / b.rps for (a, _), (b, _) in zip(rounds["on"], rounds["off"], strict=True) if b.rps]
    out["share_of_off"] = round(statistics.median(ratios), 3) if ratios else 0.0
    out["round_shares"] = [round(ratio, 3) for ratio in ratios]
    print(
        f"  REST tokens with metrics {out['on']['rps']:.0f} req/s, without {out['off']['rps']:.0f} req/s: "
        f"{out['share_of_off']:.1%} (CPU {out['on']['service_cpu_ms_per_request']:.3f} vs "
        f"{out['off']['service_cpu_ms_per_request']:.3f} ms/request; rounds "
        f"{min(ratios, default=0):.1%} to {max(ratios, default=0):.1%})",
        flush=True,
    )
    return out


def metrics_rows(results: dict[str, Any]) -> list[Row]:
    m = results["metrics_cost"]
    label = "metrics, 1 worker"
    return [
        Row(
            label, "REST token req/s with / without request metrics", f"{m['on']['rps']:,.0f} / {m['off']['rps']:,.0f}"
        ),
        Row(label, "rate with metrics (of without)", f"{m['share_of_off']:.1%}", "≥ 95%", m["share_of_off"] >= 0.95),
        Row(label, "rate with metrics, range of the rounds", _range(m.get("round_shares", []))),
        Row(
            label,
            "service CPU per request with / without (ms)",
            f"{m['on']['service_cpu_ms_per_request']:.3f} / {m['off']['service_cpu_ms_per_request']:.3f}",
        ),
    ]


def _range(shares: list[float]) -> str:
    return f"{min(shares):.1%} to {max(shares):.1%} ({len(shares)} rounds)" if shares else "-"

"""LiveKit frozen, killed and restarted under steady load: every answer in time and in shape, nothing lost.
Against the reliability tests' own LiveKit (`fault_livekit`, never the session's shared server) and
a service of its own. Load is open-loop from this process; the figures are written to the terminal
(they are what the reliability note quotes).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest

from tests.harness.livekit_server import LiveKitServer
from tests.harness.load import (
    COOLDOWN,
    FAST,
    READ_RETRIES,
    RECOVERY_ALLOWED,
    SLOWEST_ALLOWED,
    TIMEOUT,
    Sample,
    client_session,
    create_room,
    livekit_api_calls,
    outcome,
    percentile,
    timed,
)
from tests.harness.reporting import report
from tests.harness.service import run_service
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration


# -- faults under steady load -------------------------------------------------------------------

RATE = 70.0  # requests per second, open loop: sent on schedule whether or not answers came
DURATION = 40.0
STOP_AT, CONT_AT = 5.0, 15.0  # SIGSTOP LiveKit for 10 s
KILL_AT, RESTART_AT = 22.0, 25.0  # SIGKILL it, start it again 3 s later
PROBE_EVERY = 0.25  # /healthz and /readyz, like an orchestrator (each on a new connection)
# One cycle of the request mix: mostly reads, and some calls that are not idempotent.
MIX = ["rooms"] * 8 + ["participants"] * 5 + ["graphql"] * 3 + ["kick"] * 2 + ["mute", "unmute"]


async def test_faults_under_steady_load(fault_livekit: LiveKitServer, request: pytest.FixtureRequest) -> None:
    room = f"faults-{uuid.uuid4().hex[:8]}"
    ghost = f"ghost-{uuid.uuid4().hex[:8]}"
    await create_room(fault_livekit, room)
    settings = service_settings(
        fault_livekit,
        GXRTC_LIVEKIT_TIMEOUT_SECONDS=str(TIMEOUT),
        GXRTC_LIVEKIT_BREAKER_COOLDOWN_SECONDS=str(COOLDOWN),
        GXRTC_LIVEKIT_READ_RETRIES=str(READ_RETRIES),
    )
    assert fault_livekit.log_path is not None
    samples: list[Sample] = []
    probes: list[Sample] = []
    events: dict[str, float] = {}

    with run_service(settings) as service:
        async with (
            client_session(service.base_url) as client,
            # Probes each on a new connection, as an orchestrator sends them; never queued behind the load.
            client_session(service.base_url, keep_alive=False) as prober,
        ):
            t0 = time.monotonic()
            assert (await timed(client, t0, "rooms", "GET", "/api/v1/room/")).status == 200, service.log_tail()
            t0 = time.monotonic()

            def request_for(i: int) -> Awaitable[Sample]:
                kind = MIX[i % len(MIX)]
                if kind == "rooms":
                    return timed(client, t0, kind, "GET", "/api/v1/room/")
                if kind == "participants":
                    return timed(client, t0, kind, "GET", f"/api/v1/room/{room}/participants")
                if kind == "graphql":
                    return timed(client, t0, kind, "POST", "/graphql", body={"query": "{ rooms { name } }"})
                identity = f"{ghost}-{i}"  # one identity per request, so LiveKit's log shows any repeat
                path = f"/api/v1/room/{room}/participant/{identity}"
                if kind == "kick":
                    return timed(client, t0, kind, "DELETE", path, identity=identity)
                method = "POST" if kind == "mute" else "DELETE"
                return timed(client, t0, kind, method, f"{path}/mute", form={"source": "microphone"}, identity=identity)

            async def open_loop(count: int, every: float, make: Callable[[int], Awaitable[Sample]]) -> list[Sample]:
                tasks = []
                for i in range(count):
                    delay = t0 + i * every - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.ensure_future(make(i)))
                # Every request carries a client timeout, so this ends by itself.
                return list(await asyncio.gather(*tasks))

            def probe(i: int) -> Awaitable[Sample]:
                path = "/healthz" if i % 2 == 0 else "/readyz"
                return timed(prober, t0, path.strip("/"), "GET", path)

            async def at(offset: float) -> None:
                await asyncio.sleep(max(0.0, t0 + offset - time.monotonic()))

            async def inject_faults() -> None:
                try:
                    await at(STOP_AT)
                    fault_livekit.pause()
                    events["SIGSTOP"] = time.monotonic() - t0
                    await at(CONT_AT)
                    fault_livekit.resume()
                    events["SIGCONT"] = time.monotonic() - t0
                    await at(KILL_AT)
                    fault_livekit.kill()
                    events["SIGKILL"] = time.monotonic() - t0
                    await at(RESTART_AT)
                    # Spawned from this (main) thread, so the new process outlives no thread of ours.
                    fault_livekit.restart(wait=False)
                    events["restart"] = time.monotonic() - t0
                    await asyncio.to_thread(fault_livekit.wait_ready)
                    events["ready"] = time.monotonic() - t0
                    # LiveKit keeps rooms in memory; a restarted one has none until they are made again.
                    await create_room(fault_livekit, room)
                    events["room again"] = time.monotonic() - t0
                finally:
                    if fault_livekit.paused:
                        fault_livekit.resume()

            # A TaskGroup, so that a failing fault step stops the load rather than leaving it running.
            async with asyncio.TaskGroup() as group:
                load = group.create_task(open_loop(int(RATE * DURATION), 1 / RATE, request_for))
                probing = group.create_task(open_loop(int(DURATION / PROBE_EVERY) * 2, PROBE_EVERY / 2, probe))
                group.create_task(inject_faults())
            samples, probes = load.result(), probing.result()
        calls = livekit_api_calls(fault_livekit.log_path)
        service_log = service.log_tail(15)

    # -- the figures ---------------------------------------------------------------------------
    stop, cont, kill, ready = events["SIGSTOP"], events["SIGCONT"], events["SIGKILL"], events["ready"]
    outcomes = [outcome(s) for s in samples]
    by_status = Counter(str(s.status) if s.kind != "graphql" or not s.gql_codes else s.gql_codes[0] for s in samples)
    slowest = max(samples, key=lambda s: s.latency)
    latencies = [s.latency for s in samples]
    readings = ("rooms", "participants", "graphql")

    def recovery(since: float) -> float | None:
        first = min(
            (s.answered for s in samples if s.kind in readings and s.sent >= since and outcome(s) == "ok"), default=None
        )
        return None if first is None else first - since

    after_cont, after_ready = recovery(cont), recovery(ready)
    ours = [c for c in calls if str(c.get("participant", "")).startswith(ghost)]
    per_method = Counter(c.get("method") for c in ours)
    removes = Counter(c.get("participant") for c in ours if c.get("method") == "RemoveParticipant")
    gets = Counter(c.get("participant") for c in ours if c.get("method") == "GetParticipant")
    kinds_sent = Counter(s.kind for s in samples)
    kicks_answered = sum(1 for s in samples if s.kind == "kick" and s.status == 404)
    readyz = [p for p in probes if p.kind == "readyz"]
    healthz = [p for p in probes if p.kind == "healthz"]
    in_stop = [s for s in samples if stop + 3 <= s.sent <= cont - 0.1 and outcome(s) != "ok"]
    fast_in_stop = sum(1 for s in in_stop if s.latency < FAST)

    def phase(lo: float, hi: float) -> str:
        part = Counter(outcome(s) for s in samples if lo <= s.sent < hi)
        return ", ".join(f"{k} {v}" for k, v in sorted(part.items()))

    report(
        request.config,
        "faults under steady load",
        [
            f"{len(samples)} requests in {DURATION:.0f}s (open loop, {RATE:.0f}/s): {dict(sorted(kinds_sent.items()))}",
            f"LiveKit timeout {TIMEOUT}s, breaker cooldown {COOLDOWN}s; events at "
            + ", ".join(f"{name} {t:.2f}s" for name, t in events.items()),
            f"answers by status (GraphQL by error code): {dict(sorted(by_status.items()))}",
            f"outcomes before SIGSTOP: {phase(0, stop)}",
            f"outcomes while stopped: {phase(stop, cont)}",
            f"outcomes between SIGCONT and SIGKILL: {phase(cont, kill)}",
            f"outcomes while killed / restarting: {phase(kill, ready)}",
            f"outcomes after restart-ready: {phase(ready, DURATION + 1)}",
            f"latency p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {percentile(latencies, 0.99):.2f}s, "
            f"slowest {slowest.describe()}",
            f"fail-fast while stopped (from SIGSTOP+3s): {fast_in_stop}/{len(in_stop)} failures answered in <{FAST}s",
            f"recovery to first 200: {after_cont and round(after_cont, 2)}s after SIGCONT, "
            f"{after_ready and round(after_ready, 2)}s after restart-ready "
            f"(LiveKit took {ready - events['restart']:.2f}s to be ready)",
            f"LiveKit API calls for the ghosts: {dict(sorted(per_method.items()))}; "
            f"DELETE participant sent {kinds_sent['kick']}, answered 404 {kicks_answered}, "
            f"RemoveParticipant logged {sum(removes.values())} (max {max(removes.values(), default=0)} per identity); "
            f"mute/unmute sent {kinds_sent['mute'] + kinds_sent['unmute']}, "
            f"GetParticipant max {max(gets.values(), default=0)} per identity",
            f"/readyz: {dict(Counter(p.status for p in readyz))}, slowest {max(p.latency for p in readyz):.2f}s; "
            f"/healthz: {dict(Counter(p.status for p in healthz))}, slowest {max(p.latency for p in healthz):.2f}s",
        ],
    )

    # -- what must hold ------------------------------------------------------------------------
    context = f"\nservice log tail:\n{service_log}\nlivekit log tail:\n{fault_livekit.log_tail(20)}"
    bad = [
        f"{s.describe()} -> {o}"
        for s, o in zip(samples + probes, outcomes + [outcome(p) for p in probes], strict=True)
        if o.startswith("bad")
    ]
    assert not bad, f"{len(bad)} answers neither right nor a 503/504 in the envelope:\n" + "\n".join(bad[:20]) + context
    too_slow = [s.describe() for s in samples + probes if s.latency > SLOWEST_ALLOWED]
    assert not too_slow, f"answers slower than {SLOWEST_ALLOWED}s:\n" + "\n".join(too_slow[:20])

    # Healthy phases are healthy (margins cover requests already in flight at a fault). At most 1%
    # may fail, for a scheduler stall past the timeout on a busy machine; a stuck breaker fails them all.
    for lo, hi in ((0.0, stop - 0.5), (cont + RECOVERY_ALLOWED, kill - 0.5), (ready + RECOVERY_ALLOWED, DURATION)):
        window = [s for s in samples if lo <= s.sent < hi]
        failed = [s.describe() for s in window if outcome(s) != "ok"]
        assert window
        assert len(failed) <= 0.01 * len(window), (
            f"{len(failed)}/{len(window)} failed while LiveKit was healthy ({lo:.1f}-{hi:.1f}s):\n"
            + "\n".join(failed[:20])
        )
    # The room goes missing only with the LiveKit that held it.
    lost_room = [s.describe() for s in samples if s.kind == "participants" and s.status == 404 and s.sent < kill]
    assert not lost_room, lost_room[:5]
    # The faults were real: each outage shows up as 503/504 answers.
    assert any(stop + 0.1 <= s.sent < cont and outcome(s) != "ok" for s in samples), "SIGSTOP was not noticed"
    assert any(kill + 0.1 <= s.sent < events["restart"] and outcome(s) == "503" for s in samples), "SIGKILL unnoticed"
    # While LiveKit hangs, the breaker turns the wait into fast failures, not a queue of timeouts.
    assert len(in_stop) >= 50
    assert fast_in_stop >= 0.8 * len(in_stop), f"only {fast_in_stop}/{len(in_stop)} failures were fast"
    # Recovery.
    assert after_cont is not None, "no success after SIGCONT"
    assert after_cont <= RECOVERY_ALLOWED, f"recovery after SIGCONT: {after_cont}"
    assert after_ready is not None, "no success after the restart"
    assert after_ready <= RECOVERY_ALLOWED, f"recovery after restart: {after_ready}"

    # Nothing that is not idempotent was sent to LiveKit twice; LiveKit's own log is the witness.
    assert removes, "no RemoveParticipant in LiveKit's log: is its log format still `API RoomService.<Method>`?"
    repeated = {identity: n for identity, n in removes.items() if n > 1}
    assert not repeated, f"RemoveParticipant reached LiveKit more than once for {repeated}"
    assert sum(removes.values()) <= kinds_sent["kick"]
    # Every kick answered 404 was seen by LiveKit (a crash may lose a log line or two).
    assert sum(removes.values()) >= kicks_answered - 2
    assert per_method["MutePublishedTrack"] == 0  # a ghost has no tracks: nothing may be muted
    # Reads may be retried on a refused connection, but within the configured bound.
    assert max(gets.values(), default=0) <= 1 + READ_RETRIES, gets.most_common(3)

    # /healthz answers throughout; /readyz follows LiveKit, and fails fast while the circuit is open.
    assert all(p.status == 200 and p.latency < 1.0 for p in healthz), [p.describe() for p in healthz if p.status != 200]
    assert [p.status for p in readyz if p.sent < stop - 0.5]
    assert all(p.status == 200 for p in readyz if p.sent < stop - 0.5)
    stopped = [p for p in readyz if stop + 0.1 <= p.sent <= cont - SLOWEST_ALLOWED]
    assert stopped
    # Every answer is 503; most are fast (circuit open), a few are the probes that waited out the timeout.
    assert all(p.status == 503 and p.latency <= SLOWEST_ALLOWED for p in stopped), [p.describe() for p in stopped]
    assert sum(1 for p in stopped if p.latency < FAST) >= len(stopped) / 2, [p.describe() for p in stopped]
    killed = [p for p in readyz if kill + 0.1 <= p.sent <= events["restart"]]
    assert killed
    assert all(p.status == 503 for p in killed), [p.describe() for p in killed]
    assert all(p.latency < 1.0 for p in killed), [p.describe() for p in killed]
    healthy_again = [p for p in readyz if p.sent >= ready + RECOVERY_ALLOWED]
    assert healthy_again
    assert all(p.status == 200 for p in healthy_again), [p.describe() for p in healthy_again]

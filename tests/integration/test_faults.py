"""Reliability: LiveKit faults, load, shutdown and bad input, with nothing hung and nothing lost.

Every test here runs against a LiveKit of its own (module-scoped, never the session's shared
server) and a service of its own, because they freeze, kill and restart LiveKit, or stop the
service. Load comes from this process (aiohttp), bounded in count and time; the figures each test
measures are written to the terminal (they are what the reliability note quotes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import statistics
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from livekit import api
from livekit.protocol import room as room_proto

from tests.harness.livekit_server import LiveKitServer, node_ip_from_environment
from tests.harness.reporting import report
from tests.harness.service import run_service
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration

TIMEOUT = 2.0  # GXRTC_LIVEKIT_TIMEOUT_SECONDS of the faults service
COOLDOWN = 2.0  # GXRTC_LIVEKIT_BREAKER_COOLDOWN_SECONDS
READ_RETRIES = 2  # the service's default GXRTC_LIVEKIT_READ_RETRIES
SLOWEST_ALLOWED = TIMEOUT + 1.0  # no answer may take longer, whatever LiveKit does
RECOVERY_ALLOWED = 5.0  # LiveKit back -> first success, given the breaker's cooldown
FAST = 0.5  # an answer that did not wait on LiveKit at all
OUTAGE_CODES = {503: "SERVICE_UNAVAILABLE", 504: "GATEWAY_TIMEOUT"}
EN = {"accept-language": "en"}


# -- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def fault_livekit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKitServer]:
    """A LiveKit only these tests use: they pause, kill and restart it."""
    server = LiveKitServer(node_ip=node_ip_from_environment(), workdir=tmp_path_factory.mktemp("livekit-faults"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def livekit(fault_livekit: LiveKitServer) -> Iterator[LiveKitServer]:
    """The faults LiveKit, running and unpaused again after each test whatever the test did to it."""
    if not fault_livekit.running:
        fault_livekit.restart()
    yield fault_livekit
    if fault_livekit.paused:
        fault_livekit.resume()
    if not fault_livekit.running:
        fault_livekit.restart()


@contextlib.asynccontextmanager
async def livekit_api(server: LiveKitServer) -> AsyncIterator[api.LiveKitAPI]:
    client = api.LiveKitAPI(server.url, server.api_key, server.api_secret, failover=False)
    try:
        yield client
    finally:
        await client.aclose()


async def create_room(server: LiveKitServer, name: str) -> None:
    async with livekit_api(server) as lk:
        await lk.room.create_room(room_proto.CreateRoomRequest(name=name))


def write_summary(request: pytest.FixtureRequest, title: str, lines: list[str]) -> None:
    report(request.config, title, lines)


@dataclass
class Sample:
    """One request as the client saw it. Times are seconds since the run began."""

    kind: str
    sent: float
    latency: float
    status: int | None  # None: no HTTP answer at all (reset, refused, client timeout)
    meta: dict[str, Any] | None = None  # the envelope's meta
    gql_codes: list[str] = field(default_factory=list)  # GraphQL errors' extensions.code
    retry_after: str | None = None
    transport_error: str | None = None
    identity: str | None = None

    @property
    def answered(self) -> float:
        return self.sent + self.latency

    def describe(self) -> str:
        what = self.transport_error or f"{self.status} {self.meta or ''} {self.gql_codes or ''}".strip()
        return f"{self.kind} sent at {self.sent:.2f}s, {self.latency:.2f}s: {what}"


async def timed(
    session: aiohttp.ClientSession,
    t0: float,
    kind: str,
    method: str,
    url: str,
    *,
    body: Any = None,
    form: dict[str, str] | None = None,
    identity: str | None = None,
) -> Sample:
    """Send one request and record what came back. aiohttp, not httpx: at tens of requests a
    second httpx's pool costs the test process more CPU than the service spends answering."""
    start = time.monotonic()
    try:
        async with session.request(method, url, json=body, data=form) as response:
            raw = await response.read()
            status, retry_after = response.status, response.headers.get("retry-after")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Sample(kind, start - t0, time.monotonic() - start, None, transport_error=repr(exc), identity=identity)
    sample = Sample(kind, start - t0, time.monotonic() - start, status, retry_after=retry_after, identity=identity)
    try:
        decoded = json.loads(raw)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict):
        meta = decoded.get("meta")
        sample.meta = meta if isinstance(meta, dict) else None
        for error in decoded.get("errors") or []:
            sample.gql_codes.append(str((error.get("extensions") or {}).get("code")))
    return sample


def client_session(base_url: str, *, keep_alive: bool = True, limit: int = 300) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        base_url,
        connector=aiohttp.TCPConnector(limit=limit, force_close=not keep_alive),
        timeout=aiohttp.ClientTimeout(total=10),
        headers=EN,
    )


def outcome(sample: Sample) -> str:
    """ "ok" for the answer the request should get from a healthy LiveKit, "503"/"504" for an
    outage answer of the right shape, and "bad: ..." for anything else."""
    if sample.status is None:
        return f"bad: no answer ({sample.transport_error})"
    meta = sample.meta or {}
    if sample.kind == "graphql" and sample.status == 200:
        if not sample.gql_codes:
            return "ok"
        codes = set(sample.gql_codes)
        for status, code in OUTAGE_CODES.items():
            if codes == {code}:
                return str(status)
        return f"bad: GraphQL errors {sample.gql_codes}"
    if sample.status in OUTAGE_CODES:
        if meta.get("code") != sample.status:
            return f"bad: {sample.status} outside the envelope ({meta})"
        if sample.status == 503 and not (sample.retry_after or "").isdigit():
            return f"bad: 503 without a Retry-After ({sample.retry_after!r})"
        return str(sample.status)
    if meta.get("code") != sample.status:
        return f"bad: {sample.status} outside the envelope"
    if sample.kind in ("rooms", "participants", "readyz", "healthz") and sample.status == 200:
        return "ok"
    # The ghost never exists; after LiveKit's restart the room may not either (it lives in memory).
    if sample.kind in ("kick", "mute", "unmute", "participants") and sample.status == 404:
        return "ok"
    return f"bad: unexpected {sample.status} {meta}"


def livekit_api_calls(log_path: Path) -> list[dict[str, Any]]:
    """LiveKit's own record of the API calls it served: one `API RoomService.<Method>` info line
    each, whose last tab-separated field is JSON with `method`, `room`, `participant`, `status`."""
    calls = []
    for line in log_path.read_text(errors="replace").splitlines():
        if "\tAPI RoomService." not in line:
            continue
        with contextlib.suppress(ValueError):
            calls.append(json.loads(line[line.index("{") :]))
    return calls


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


# -- faults under steady load -------------------------------------------------------------------

RATE = 70.0  # requests per second, open loop: sent on schedule whether or not answers came
DURATION = 40.0
STOP_AT, CONT_AT = 5.0, 15.0  # SIGSTOP LiveKit for 10 s
KILL_AT, RESTART_AT = 22.0, 25.0  # SIGKILL it, start it again 3 s later
PROBE_EVERY = 0.25  # /healthz and /readyz, like an orchestrator (each on a new connection)
# One cycle of the request mix: mostly reads, and some calls that are not idempotent.
MIX = ["rooms"] * 8 + ["participants"] * 5 + ["graphql"] * 3 + ["kick"] * 2 + ["mute", "unmute"]


async def test_faults_under_steady_load(livekit: LiveKitServer, request: pytest.FixtureRequest) -> None:
    room = f"faults-{uuid.uuid4().hex[:8]}"
    ghost = f"ghost-{uuid.uuid4().hex[:8]}"
    await create_room(livekit, room)
    settings = service_settings(
        livekit,
        GXRTC_LIVEKIT_TIMEOUT_SECONDS=str(TIMEOUT),
        GXRTC_LIVEKIT_BREAKER_COOLDOWN_SECONDS=str(COOLDOWN),
        GXRTC_LIVEKIT_READ_RETRIES=str(READ_RETRIES),
    )
    assert livekit.log_path is not None
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
                    livekit.pause()
                    events["SIGSTOP"] = time.monotonic() - t0
                    await at(CONT_AT)
                    livekit.resume()
                    events["SIGCONT"] = time.monotonic() - t0
                    await at(KILL_AT)
                    livekit.kill()
                    events["SIGKILL"] = time.monotonic() - t0
                    await at(RESTART_AT)
                    # Spawned from this (main) thread, so the new process outlives no thread of ours.
                    livekit.restart(wait=False)
                    events["restart"] = time.monotonic() - t0
                    await asyncio.to_thread(livekit.wait_ready)
                    events["ready"] = time.monotonic() - t0
                    # LiveKit keeps rooms in memory; a restarted one has none until they are made again.
                    await create_room(livekit, room)
                    events["room again"] = time.monotonic() - t0
                finally:
                    if livekit.paused:
                        livekit.resume()

            # A TaskGroup, so that a failing fault step stops the load rather than leaving it running.
            async with asyncio.TaskGroup() as group:
                load = group.create_task(open_loop(int(RATE * DURATION), 1 / RATE, request_for))
                probing = group.create_task(open_loop(int(DURATION / PROBE_EVERY) * 2, PROBE_EVERY / 2, probe))
                group.create_task(inject_faults())
            samples, probes = load.result(), probing.result()
        calls = livekit_api_calls(livekit.log_path)
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

    write_summary(
        request,
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
    context = f"\nservice log tail:\n{service_log}\nlivekit log tail:\n{livekit.log_tail(20)}"
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


# -- graceful shutdown under load ---------------------------------------------------------------

SHUTDOWN_TIMEOUT = 8  # GXRTC_SHUTDOWN_TIMEOUT_SECONDS of the service being stopped
IN_FLIGHT = ["rooms"] * 12 + ["participants"] * 6 + ["graphql"] * 6 + ["kick"] * 6


async def test_graceful_shutdown_finishes_what_is_in_flight(
    livekit: LiveKitServer, request: pytest.FixtureRequest
) -> None:
    room = f"shutdown-{uuid.uuid4().hex[:8]}"
    ghost = f"ghost-{uuid.uuid4().hex[:8]}"
    await create_room(livekit, room)
    assert livekit.log_path is not None
    settings = service_settings(
        livekit, GXRTC_LIVEKIT_TIMEOUT_SECONDS="6", GXRTC_SHUTDOWN_TIMEOUT_SECONDS=str(SHUTDOWN_TIMEOUT)
    )
    with run_service(settings) as service:
        async with (
            client_session(service.base_url, limit=64) as client,
            client_session(service.base_url, limit=1) as keep_alive,
        ):
            t0 = time.monotonic()
            # An idle keep-alive connection, opened before the signal.
            assert (await timed(keep_alive, t0, "healthz", "GET", "/healthz")).status == 200

            def send(i: int, kind: str) -> Awaitable[Sample]:
                if kind == "rooms":
                    return timed(client, t0, kind, "GET", "/api/v1/room/")
                if kind == "participants":
                    return timed(client, t0, kind, "GET", f"/api/v1/room/{room}/participants")
                if kind == "graphql":
                    return timed(client, t0, kind, "POST", "/graphql", body={"query": "{ rooms { name } }"})
                identity = f"{ghost}-{i}"
                return timed(
                    client, t0, kind, "DELETE", f"/api/v1/room/{room}/participant/{identity}", identity=identity
                )

            livekit.pause()  # so that every request waits on LiveKit, in flight, when the signal comes
            try:
                in_flight = [asyncio.ensure_future(send(i, kind)) for i, kind in enumerate(IN_FLIGHT)]
                await asyncio.sleep(1.0)
                assert not any(task.done() for task in in_flight), [
                    t.result().describe() for t in in_flight if t.done()
                ]
                service.process.send_signal(signal.SIGTERM)
                sigterm = time.monotonic() - t0
                # At once, on the connection that was already open: not ready any more.
                ready_after = await timed(keep_alive, t0, "readyz", "GET", "/readyz")
                # New connections, a moment after the signal and later: refused, or 503 in the envelope.
                late: list[Sample] = []
                async with client_session(service.base_url, keep_alive=False) as fresh:
                    for delay in (0.0, 0.3, 0.8):
                        await asyncio.sleep(max(0.0, t0 + sigterm + delay - time.monotonic()))
                        late.append(await timed(fresh, t0, "rooms", "GET", "/api/v1/room/"))
                await asyncio.sleep(max(0.0, t0 + sigterm + 1.5 - time.monotonic()))
                assert not any(task.done() for task in in_flight), "requests in flight were answered before LiveKit"
            finally:
                if livekit.paused:
                    livekit.resume()
            answers = list(await asyncio.gather(*in_flight))
            try:
                returncode = await asyncio.to_thread(service.process.wait, SHUTDOWN_TIMEOUT + 10)
            except Exception:
                returncode = None
            exited = time.monotonic() - t0 - sigterm
            after_exit = await timed(client, t0, "rooms", "GET", "/api/v1/room/")
        service_log = service.log_path.read_text(errors="replace")

    calls = livekit_api_calls(livekit.log_path)
    removes = Counter(
        c.get("participant")
        for c in calls
        if c.get("method") == "RemoveParticipant" and str(c.get("participant", "")).startswith(ghost)
    )
    write_summary(
        request,
        "graceful shutdown under load",
        [
            f"{len(answers)} requests in flight at SIGTERM (LiveKit paused): "
            f"{dict(Counter(outcome(s) for s in answers))}, "
            f"slowest {max(s.latency for s in answers):.2f}s, "
            f"{sum(removes.values())} RemoveParticipant in LiveKit's log",
            f"/readyz on an open keep-alive connection right after SIGTERM: {ready_after.describe()}",
            "new connections after SIGTERM: " + "; ".join(s.describe() for s in late),
            f"exit {returncode} {exited:.2f}s after SIGTERM (shutdown timeout {SHUTDOWN_TIMEOUT}s); "
            f"after exit: {after_exit.transport_error or after_exit.status}",
        ],
    )

    # Every request in flight got its whole answer, the one it would have got without the signal.
    lost = [s.describe() for s in answers if outcome(s) != "ok"]
    assert not lost, "requests in flight at SIGTERM were not answered properly:\n" + "\n".join(lost)
    # Each kick reached LiveKit exactly once, though LiveKit only processed it after SIGCONT.
    assert all(n == 1 for n in removes.values()), removes
    assert len(removes) == IN_FLIGHT.count("kick"), removes
    # Readiness turns at once; whatever comes later is refused or told to go away, never served.
    assert ready_after.status is None or (
        ready_after.status == 503 and (ready_after.meta or {}).get("error") == "shutting down"
    ), ready_after.describe()
    for sample in late:
        refused = sample.status is None and "Connect" in (sample.transport_error or "")
        shed = sample.status == 503 and outcome(sample) == "503" and (sample.meta or {}).get("error") == "shutting down"
        assert refused or shed, sample.describe()
    assert after_exit.status is None
    # It stopped by itself, within the bound; SIGTERM is re-raised once uvicorn is done, hence -15 too.
    assert returncode in (0, -signal.SIGTERM), f"exit {returncode}:\n{service_log[-3000:]}"
    assert exited <= SHUTDOWN_TIMEOUT + 3
    for line in ("draining: new requests get 503", "Waiting for connections to close", "Application shutdown complete"):
        assert line in service_log, f"{line!r} not in the service log:\n{service_log[-3000:]}"
    for problem in ("Traceback", "Unclosed", "timeout graceful shutdown exceeded", "Exception in ASGI application"):
        assert problem not in service_log, f"{problem!r} in the service log:\n{service_log[-3000:]}"


# -- load shedding ------------------------------------------------------------------------------

MAX_IN_FLIGHT = 4


async def test_load_is_shed_at_once_past_max_in_flight(livekit: LiveKitServer, request: pytest.FixtureRequest) -> None:
    settings = service_settings(livekit, GXRTC_MAX_IN_FLIGHT=str(MAX_IN_FLIGHT), GXRTC_LIVEKIT_TIMEOUT_SECONDS="5")
    with run_service(settings) as service:
        async with client_session(service.base_url, limit=64) as client:
            t0 = time.monotonic()
            assert (await timed(client, t0, "rooms", "GET", "/api/v1/room/")).status == 200
            livekit.pause()
            try:
                burst = [
                    asyncio.ensure_future(
                        timed(client, t0, "graphql", "POST", "/graphql", body={"query": "{ rooms { name } }"})
                        if i % 5 == 4
                        else timed(client, t0, "rooms", "GET", "/api/v1/room/")
                    )
                    for i in range(20)
                ]
                await asyncio.sleep(1.0)
                # Health checks are always let in, however full the service is.
                health = await timed(client, t0, "healthz", "GET", "/healthz")
            finally:
                livekit.resume()
            answers = list(await asyncio.gather(*burst))
            # The gate lets go of every slot: full rounds of the limit all get in afterwards.
            rounds = [
                await asyncio.gather(
                    *(timed(client, t0, "rooms", "GET", "/api/v1/room/") for _ in range(MAX_IN_FLIGHT))
                )
                for _ in range(3)
            ]

    shed = [s for s in answers if s.status == 503]
    admitted = [s for s in answers if s.status != 503]
    write_summary(
        request,
        "load shedding",
        [
            f"20 concurrent reads, GXRTC_MAX_IN_FLIGHT={MAX_IN_FLIGHT}, LiveKit paused for 1s: "
            f"{len(admitted)} admitted ({dict(Counter(outcome(s) for s in admitted))}, "
            f"{min((s.latency for s in admitted), default=0):.2f}-"
            f"{max((s.latency for s in admitted), default=0):.2f}s), "
            f"{len(shed)} shed ({dict(Counter((s.meta or {}).get('error') for s in shed))}, "
            f"slowest {max((s.latency for s in shed), default=0) * 1000:.0f} ms)",
            f"/healthz while full: {health.describe()}",
        ],
    )
    assert all(outcome(s) == "ok" for s in admitted), [s.describe() for s in admitted]
    # Exactly the limit was held up by LiveKit at once; a request may finish just before the pause
    # lands and free its slot, so one more can be admitted, but never more than that.
    held = [s for s in admitted if s.latency >= 0.8]
    assert len(held) == MAX_IN_FLIGHT, [s.describe() for s in admitted]
    assert len(admitted) <= MAX_IN_FLIGHT + 1, [s.describe() for s in admitted]
    assert len(shed) == 20 - len(admitted)
    for sample in shed:
        assert outcome(sample) == "503", sample.describe()
        assert (sample.meta or {}).get("error") == "overloaded", sample.describe()
        assert sample.latency < FAST, sample.describe()
    assert health.status == 200, health.describe()
    assert health.latency < FAST, health.describe()
    assert all(outcome(s) == "ok" for answers_ in rounds for s in answers_), [s.describe() for r in rounds for s in r]


# -- bad input is cheap -------------------------------------------------------------------------

TEN_MB = 10 * 1024 * 1024
DEEP = 10_000
ROUNDS = 20  # of every case below, after one warm-up round


async def raw_declared_body(base_url: str, path: str, content_type: str, length: int) -> tuple[int | None, bytes]:
    """Declare a `length`-byte body but send only the headers, as a client waiting for
    `100 Continue` would: the service must refuse on the headers alone, before any of the body."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\nAccept-Language: en\r\n\r\n"
    )
    raw = b""
    try:
        writer.write(head.encode())
        await writer.drain()
        async with asyncio.timeout(5):
            while b"\r\n\r\n" not in raw or len(raw.partition(b"\r\n\r\n")[2]) < _content_length(raw):
                chunk = await reader.read(65536)
                if not chunk:
                    break
                raw += chunk
    except TimeoutError:
        return None, b"no answer to the headers alone (does the service wait for the body?): " + raw[:200]
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    head_bytes, _, body = raw.partition(b"\r\n\r\n")
    parts = head_bytes.split(b"\r\n", 1)[0].split()
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None), body


def _content_length(raw: bytes) -> int:
    for line in raw.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value)
    return 0


def bad_inputs(
    base_url: str,
) -> dict[str, tuple[int, Callable[[httpx.AsyncClient], Awaitable[tuple[int | None, bytes]]]]]:
    """name -> (the status it must get, how to send it)."""
    token, graphql = "/api/v1/room/token", "/graphql"
    form, json_type = "application/x-www-form-urlencoded", "application/json"

    def post(
        path: str, content_type: str, content: Any
    ) -> Callable[[httpx.AsyncClient], Awaitable[tuple[int | None, bytes]]]:
        async def send(client: httpx.AsyncClient) -> tuple[int | None, bytes]:
            body = content() if callable(content) else content
            response = await client.post(path, content=body, headers={"content-type": content_type})
            return response.status_code, response.content

        return send

    def declared(path: str, content_type: str) -> Callable[[httpx.AsyncClient], Awaitable[tuple[int | None, bytes]]]:
        async def send(client: httpx.AsyncClient) -> tuple[int | None, bytes]:
            return await raw_declared_body(base_url, path, content_type, TEN_MB)

        return send

    async def ten_mb_stream() -> AsyncIterator[bytes]:
        for _ in range(TEN_MB // 65536):
            yield b"x" * 65536

    deep_object = b'{"a":' * DEEP + b"1" + b"}" * DEEP
    deep_array = b"[" * DEEP + b"]" * DEEP
    return {
        "REST 10 MB declared, headers first": (413, declared(token, form)),
        "GraphQL 10 MB declared, headers first": (413, declared(graphql, json_type)),
        # What most clients do: write the whole body, then read the answer.
        "REST 10 MB declared, sent whole": (413, post(token, form, b"x" * TEN_MB)),
        "REST 10 MB, chunked": (413, post(token, form, ten_mb_stream)),
        "GraphQL 10 MB, chunked": (413, post(graphql, json_type, ten_mb_stream)),
        "REST 100,000 form fields (over the cap)": (
            413,
            post(token, form, "&".join(f"f{i}=1" for i in range(100_000)).encode()),
        ),
        "REST 10,000 form fields (under the cap)": (400, post(token, form, b"a=&" * 10_000)),
        "REST 1,000 multipart fields": (
            400,
            post(
                token,
                "multipart/form-data; boundary=x",
                b"".join(b'--x\r\nContent-Disposition: form-data; name="f%d"\r\n\r\n1\r\n' % i for i in range(1000))
                + b"--x--\r\n",
            ),
        ),
        "REST invalid UTF-8 form": (400, post(token, form, b"uid=\xff\xfe&room=\xc3")),
        "REST invalid UTF-8, percent-encoded": (400, post(token, form, b"uid=%ff%fe&room=r")),
        "REST invalid UTF-8 JSON": (400, post(token, json_type, b'{"uid": "\xff", "room": "r"}')),
        "GraphQL invalid UTF-8 JSON": (400, post(graphql, json_type, b'{"query": "{ rooms { name \xff } }"}')),
        f"REST JSON {DEEP:,} deep": (400, post(token, json_type, deep_object)),
        f"GraphQL JSON {DEEP:,} deep": (400, post(graphql, json_type, deep_array)),
        f"GraphQL variables {DEEP:,} deep": (
            400,
            post(graphql, json_type, b'{"query": "{ rooms { name } }", "variables": {"a": ' + deep_array + b"}}"),
        ),
        "REST XML body": (415, post(token, "application/xml", b"<room>r</room>")),
    }


def envelope_problem(status: int | None, body: bytes, expected: int) -> str | None:
    if status != expected:
        return f"got {status}, expected {expected}: {body[:200]!r}"
    try:
        meta = json.loads(body)["meta"]
    except (ValueError, KeyError, TypeError):
        return f"{status} outside the envelope: {body[:200]!r}"
    if meta.get("code") != status or not meta.get("message") or not meta.get("error"):
        return f"{status} with an incomplete envelope (code, message and error): {meta}"
    return None


async def test_bad_input_is_refused_cheaply(livekit: LiveKitServer, request: pytest.FixtureRequest) -> None:
    with run_service(service_settings(livekit)) as service:
        cases = bad_inputs(service.base_url)
        # A new connection for every request, so that one refusal closing its connection cannot touch the next.
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=service.base_url, timeout=30, limits=limits, headers=EN) as client:

            async def run(name: str) -> tuple[str, str | None, float]:
                expected, send = cases[name]
                start = time.monotonic()
                try:
                    status, body = await send(client)
                except (httpx.HTTPError, OSError, TimeoutError) as exc:
                    return name, f"no answer: {exc!r}", time.monotonic() - start
                return name, envelope_problem(status, body, expected), time.monotonic() - start

            results = list(await asyncio.gather(*(run(name) for name in cases)))  # warm-up round
            before = service.memory_kib()
            started = time.monotonic()
            for _ in range(ROUNDS):
                results += await asyncio.gather(*(run(name) for name in cases))
            elapsed = time.monotonic() - started
            after = service.memory_kib()
            healthy = await client.get("/api/v1/room/")
        alive = service.process.poll() is None
        service_log = service.log_tail(30)

    problems = sorted({f"{name}: {problem}" for name, problem, _ in results if problem})
    slowest = max(results, key=lambda r: r[2])
    grew, peak_grew = after["VmRSS"] - before["VmRSS"], after["VmHWM"] - before["VmHWM"]
    write_summary(
        request,
        "bad input",
        [
            f"{len(cases)} kinds x {ROUNDS + 1} rounds = {len(results)} requests in {elapsed:.1f}s "
            f"(after warm-up); slowest {slowest[0]} {slowest[2]:.2f}s",
            f"kinds: {', '.join(cases)}",
            f"refused as expected: {sum(1 for r in results if not r[1])}/{len(results)}; problems: "
            + ("; ".join(problems) or "none"),
            f"service RSS {before['VmRSS'] / 1024:.1f} MB -> {after['VmRSS'] / 1024:.1f} MB ({grew / 1024:+.1f} MB), "
            f"peak {before['VmHWM'] / 1024:.1f} MB -> {after['VmHWM'] / 1024:.1f} MB",
        ],
    )
    assert alive, service_log
    assert healthy.status_code == 200, service_log
    assert not problems, (
        "bad input not refused with a 4xx in the envelope:\n" + "\n".join(problems) + "\n" + service_log
    )
    assert grew < 20 * 1024, (before, after)
    assert peak_grew < 20 * 1024, (before, after)
    assert slowest[2] < 5.0

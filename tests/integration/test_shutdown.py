"""Graceful shutdown under load: what is in flight finishes, what comes after is refused, nothing hangs."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections import Counter
from collections.abc import Awaitable

import pytest

from tests.harness.livekit_server import LiveKitServer
from tests.harness.load import Sample, client_session, create_room, livekit_api_calls, outcome, timed
from tests.harness.reporting import report
from tests.harness.service import run_service
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration


# -- graceful shutdown under load ---------------------------------------------------------------

SHUTDOWN_TIMEOUT = 8  # GXRTC_SHUTDOWN_TIMEOUT_SECONDS of the service being stopped
IN_FLIGHT = ["rooms"] * 12 + ["participants"] * 6 + ["graphql"] * 6 + ["kick"] * 6


async def test_graceful_shutdown_finishes_what_is_in_flight(
    fault_livekit: LiveKitServer, request: pytest.FixtureRequest
) -> None:
    room = f"shutdown-{uuid.uuid4().hex[:8]}"
    ghost = f"ghost-{uuid.uuid4().hex[:8]}"
    await create_room(fault_livekit, room)
    assert fault_livekit.log_path is not None
    settings = service_settings(
        fault_livekit, GXRTC_LIVEKIT_TIMEOUT_SECONDS="6", GXRTC_SHUTDOWN_TIMEOUT_SECONDS=str(SHUTDOWN_TIMEOUT)
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

            fault_livekit.pause()  # so that every request waits on LiveKit, in flight, when the signal comes
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
                if fault_livekit.paused:
                    fault_livekit.resume()
            answers = list(await asyncio.gather(*in_flight))
            try:
                returncode = await asyncio.to_thread(service.process.wait, SHUTDOWN_TIMEOUT + 10)
            except Exception:
                returncode = None
            exited = time.monotonic() - t0 - sigterm
            after_exit = await timed(client, t0, "rooms", "GET", "/api/v1/room/")
        service_log = service.log_path.read_text(errors="replace")

    calls = livekit_api_calls(fault_livekit.log_path)
    removes = Counter(
        c.get("participant")
        for c in calls
        if c.get("method") == "RemoveParticipant" and str(c.get("participant", "")).startswith(ghost)
    )
    report(
        request.config,
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

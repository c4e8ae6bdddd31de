"""Shared fixtures: one real livekit-server per test session, an API client, rtc participants.

Run inside the test namespace (``dev/netns.sh up && dev/netns.sh exec pytest ...``)
so WebRTC traffic is confined to it; without it the server falls back to host loopback.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator, Generator, Iterator

import pytest
from livekit import api

from tests.harness.livekit_server import LiveKitServer, node_ip_from_environment
from tests.harness.participants import ParticipantPool


@pytest.fixture(scope="session")
def livekit_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKitServer]:
    server = LiveKitServer(node_ip=node_ip_from_environment(), workdir=tmp_path_factory.mktemp("livekit"))
    server.start()
    _announce(request.config, server.describe())
    try:
        yield server
    finally:
        server.stop()


def _announce(config: pytest.Config, line: str) -> None:
    """Print to the terminal even though output capture is active during fixture setup."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capman = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    with capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext():
        reporter.write_line(line)


@pytest.fixture
async def lkapi(livekit_server: LiveKitServer) -> AsyncIterator[api.LiveKitAPI]:
    # Explicit url and credentials, so ambient LIVEKIT_* variables can never point tests elsewhere.
    client = api.LiveKitAPI(livekit_server.url, livekit_server.api_key, livekit_server.api_secret, failover=False)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def room_name(request: pytest.FixtureRequest) -> str:
    """Unique per test, so tests sharing the session's server never see each other's rooms."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name).strip("-")[:40]
    return f"{stem}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def participants(livekit_server: LiveKitServer) -> AsyncIterator[ParticipantPool]:
    """``await participants.join(token, audio=True)``; everyone joined is disconnected after the test."""
    pool = ParticipantPool(livekit_server.ws_url)
    try:
        yield pool
    finally:
        await pool.aclose()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    # The server's own log usually explains a failed join or API call; attach its tail.
    server = getattr(item, "funcargs", {}).get("livekit_server")
    if report.failed and isinstance(server, LiveKitServer):
        report.sections.append(("livekit-server log (tail)", server.log_tail(40)))
    return report


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without the rtc SDK's exit-time teardown once pytest has said everything.

    The SDK disposes its Rust FFI from an atexit hook, and that teardown now and
    then panics (SIGABRT, exit 134) after the server kicked a participant that
    was publishing: the run had passed, and the abort would fail it. By now every
    fixture is finalized (LiveKit, services, participants) and the summary is
    printed, so skipping the interpreter's exit hooks loses nothing; the exit
    status is pytest's own.
    """
    exitstatus = getattr(config, "_gxrtc_exitstatus", None)
    if "livekit.rtc" not in sys.modules or exitstatus is None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config._gxrtc_exitstatus = exitstatus  # type: ignore[attr-defined]

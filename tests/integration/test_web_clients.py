"""The clients a web frontend uses, unmodified, against a real LiveKit and real participants.

Node runs the reference graphql-ws client (on `ws`), graphql-sse's client and urql with its
normalized cache; Debian's Chromium, driven by Playwright, opens GraphiQL and joins a room with
livekit-client. Each is a script in tests/web (packages pinned in its package-lock.json, installed
by `make setup` with `npm ci`), run here as a child process that reports in JSON lines. A Python
client that accepts what a browser refuses would not be a test of the web face.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness.livekit_server import LiveKitServer, node_ip_from_environment
from tests.harness.participants import ParticipantPool
from tests.harness.ports import free_port
from tests.harness.reporting import report
from tests.harness.service import Service, run_service
from tests.harness.subprocesses import end
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration

WEB = Path(__file__).resolve().parents[1] / "web"
ADMIN_KEY = "web-admin-key-0123456789abcdef0123456789abcdef"
ADMIN = f"Bearer {ADMIN_KEY}"
CHROMIUM = "/usr/bin/chromium"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: `make setup` installs Node.js (Debian's nodejs) for the web client tests")
    if not (WEB / "node_modules" / ".package-lock.json").is_file():
        pytest.fail("tests/web/node_modules is missing: `make setup` runs `npm ci` there")
    return node


def _chromium() -> str:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make setup` installs Debian's chromium (as root)")
    return CHROMIUM


class NodeScript:
    """A script of tests/web as a child process, read line by line as JSON."""

    def __init__(self, process: asyncio.subprocess.Process, name: str) -> None:
        self.process, self.name = process, name
        self.lines: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.seen: list[dict[str, Any]] = []
        self.stderr = b""
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def run(cls, script: str, *args: str, **env: str) -> AsyncIterator[NodeScript]:
        home = tempfile.mkdtemp(prefix="gxrtc-web-")  # Chromium's caches and settings go there
        process = await asyncio.create_subprocess_exec(
            _node(),
            str(WEB / script),
            *args,
            cwd=WEB,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={"PATH": "/usr/bin:/bin", "HOME": home, **env},
            limit=4 * 1024 * 1024,
        )
        running = cls(process, script)
        try:
            yield running
        finally:
            await end(process)
            running._reader.cancel()
            shutil.rmtree(home, ignore_errors=True)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = json.loads(raw)
            self.seen.append(line)
            self.lines.put_nowait(line)

    async def next(self, timeout: float = 30) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(self.lines.get(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.name}: nothing within {timeout}s; so far {self.seen[-5:]}") from None

    async def until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            line = await self.next(max(0.1, deadline - time.monotonic()))
            assert "error" not in line, f"{self.name}: {line}"
            assert line.get("stage") != "failed", f"{self.name}: {line}"
            if predicate(line):
                return line

    async def exit_code(self, timeout: float = 60) -> int:
        async with asyncio.timeout(timeout):
            code = await self.process.wait()
        assert self.process.stderr is not None
        self.stderr = await self.process.stderr.read()
        return code


@dataclass(frozen=True)
class Stack:
    livekit: LiveKitServer
    service: Service

    @property
    def ws_url(self) -> str:
        return self.service.base_url.replace("http", "ws") + "/graphql"

    @property
    def graphql_url(self) -> str:
        return self.service.base_url + "/graphql"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A LiveKit whose webhooks reach the service, as `make run` has it."""
    port = free_port()
    livekit = LiveKitServer(
        node_ip=node_ip_from_environment(),
        workdir=tmp_path_factory.mktemp("lk-web"),
        webhook_urls=[f"http://127.0.0.1:{port}/webhooks/livekit"],
    )
    livekit.start()
    try:
        with run_service(service_settings(livekit, GXRTC_ADMIN_KEY=ADMIN_KEY), port=port) as service:
            yield Stack(livekit, service)
    finally:
        livekit.stop()


@pytest.fixture
async def pool(stack: Stack) -> AsyncIterator[ParticipantPool]:
    participants = ParticipantPool(stack.livekit.ws_url)
    yield participants
    await participants.aclose()


async def graphql(stack: Stack, query: str, **variables: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=20, headers={"authorization": ADMIN}) as client:
        response = await client.post(stack.graphql_url, json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def create_room(stack: Stack, room: str) -> None:
    await graphql(stack, "mutation($r: String!) { createRoom(name: $r) { id } }", r=room)


async def join_token(stack: Stack, room: str, identity: str) -> str:
    data = await graphql(
        stack,
        "mutation($r: String!, $i: String!) { createToken(room: $r, identity: $i) { token } }",
        r=room,
        i=identity,
    )
    return str(data["createToken"]["token"])


def _is(kind: str, identity: str) -> Callable[[dict[str, Any]], bool]:
    def matches(line: dict[str, Any]) -> bool:
        event = line.get("event") or {}
        return event.get("kind") == kind and (event.get("participant") or {}).get("identity") == identity

    return matches


async def exercise(
    stack: Stack, pool: ParticipantPool, client: NodeScript, room: str, rounds: int
) -> dict[str, list[float]]:
    """`rounds` times: join, mute, update, kick; each action's latency to the client, in seconds."""
    latencies: dict[str, list[float]] = {"join": [], "mute": [], "attributes": [], "kick": []}
    for index in range(rounds):
        identity = f"web-{index}-{uuid.uuid4().hex[:4]}"
        token = await join_token(stack, room, identity)
        started = time.time()
        joining = asyncio.create_task(pool.join(token, audio=True))
        joined = await client.until(_is("PARTICIPANT_JOINED", identity))
        latencies["join"].append(joined["at"] / 1000 - started)
        participant = await joining
        await client.until(_is("TRACK_PUBLISHED", identity))

        variables = {"r": room, "i": identity}
        started = time.time()
        await graphql(
            stack, "mutation($r: String!, $i: String!) { muteParticipant(room: $r, identity: $i) { id } }", **variables
        )
        muted = await client.until(_is("TRACK_MUTED", identity))
        latencies["mute"].append(muted["at"] / 1000 - started)

        started = time.time()
        await graphql(
            stack,
            "mutation($r: String!, $i: String!) {"
            ' updateParticipantInfo(room: $r, identity: $i, attributes: {hand: "up"}) { id } }',
            **variables,
        )
        updated = await client.until(_is("PARTICIPANT_UPDATED", identity))
        assert updated["event"]["participant"]["attributes"] == {"hand": "up"}
        latencies["attributes"].append(updated["at"] / 1000 - started)

        # The one with a microphone leaves by itself; a second participant, publishing nothing, is
        # kicked (the rtc SDK may abort the process at exit after a kick of one that publishes audio).
        await participant.aclose()
        await client.until(_is("PARTICIPANT_LEFT", identity))
        kicked = f"{identity}-kicked"
        kicked_participant = await pool.join(await join_token(stack, room, kicked))
        await client.until(_is("PARTICIPANT_JOINED", kicked))
        started = time.time()
        await graphql(
            stack, "mutation($r: String!, $i: String!) { kickParticipant(room: $r, identity: $i) }", r=room, i=kicked
        )
        left = await client.until(_is("PARTICIPANT_LEFT", kicked))
        latencies["kick"].append(left["at"] / 1000 - started)
        await kicked_participant.wait_disconnected(timeout=15)
    return latencies


def _once_each(client: NodeScript) -> None:
    """Every change was delivered once, in sequence order."""
    events = [line["event"] for line in client.seen if "event" in line]
    sequences = [event["sequence"] for event in events if event["kind"] != "SNAPSHOT"]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == len(sequences)
    counted = Counter((event["kind"], (event.get("participant") or {}).get("identity")) for event in events)
    repeated = {key: n for key, n in counted.items() if n > 1 and key[0] != "SNAPSHOT"}
    assert not repeated, repeated


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def test_the_reference_graphql_ws_client_on_node_follows_a_room(
    stack: Stack, pool: ParticipantPool, room_name: str, request: pytest.FixtureRequest
) -> None:
    await create_room(stack, room_name)
    async with NodeScript.run("subscribe.mjs", "ws", stack.ws_url, room_name, ADMIN) as client:
        snapshot = await client.until(lambda line: "event" in line)
        assert snapshot["event"]["kind"] == "SNAPSHOT", snapshot
        latencies = await exercise(stack, pool, client, room_name, rounds=8)
        await asyncio.sleep(3)  # webhooks and reconcile rounds that must add nothing
        _once_each(client)
    everything = [seconds for values in latencies.values() for seconds in values]
    lines = [
        f"{action}: p50 {statistics.median(values) * 1000:.0f} ms, p95 {_percentile(values, 0.95) * 1000:.0f} ms "
        f"({len(values)} samples)"
        for action, values in latencies.items()
    ]
    lines.append(
        f"all: p50 {statistics.median(everything) * 1000:.0f} ms, p95 {_percentile(everything, 0.95) * 1000:.0f} ms"
    )
    report(request.config, "graphql-ws 6.4.2 on Node: action to event", lines)
    # Generous: a loaded 2-core machine; what matters is that events come as they happen.
    assert all(seconds < 5 for seconds in everything), latencies


async def test_the_graphql_sse_client_follows_a_room(stack: Stack, pool: ParticipantPool, room_name: str) -> None:
    await create_room(stack, room_name)
    async with NodeScript.run("subscribe.mjs", "sse", stack.graphql_url, room_name, ADMIN) as client:
        snapshot = await client.until(lambda line: "event" in line)
        assert snapshot["event"]["kind"] == "SNAPSHOT", snapshot
        await exercise(stack, pool, client, room_name, rounds=1)
        await asyncio.sleep(3)
        _once_each(client)


async def test_sse_with_a_bad_credential_is_refused_before_streaming(stack: Stack, room_name: str) -> None:
    async with NodeScript.run("subscribe.mjs", "sse", stack.graphql_url, room_name, "Bearer wrong") as client:
        line = await client.next()
        assert "error" in line, line
        assert await client.exit_code() == 1


async def test_urql_with_its_normalized_cache(stack: Stack, pool: ParticipantPool, room_name: str) -> None:
    await create_room(stack, room_name)
    identity = "urql-" + uuid.uuid4().hex[:4]
    await pool.join(await join_token(stack, room_name, identity))
    async with NodeScript.run("urql.mjs", stack.graphql_url, room_name, identity, ADMIN) as client:
        findings = await client.next(timeout=60)
        code = await client.exit_code()
    assert findings["failures"] == [], findings
    assert code == 0, client.stderr.decode(errors="replace")
    assert "application/graphql-response+json" in findings["contentTypes"], findings


async def test_graphiql_in_chromium_runs_the_readmes_subscription(
    stack: Stack, pool: ParticipantPool, room_name: str, tmp_path: Path
) -> None:
    await create_room(stack, room_name)
    identity = "graphiql-" + uuid.uuid4().hex[:4]
    screenshot = tmp_path / "graphiql.png"
    async with NodeScript.run(
        "browser.mjs",
        "graphiql",
        stack.service.base_url,
        room_name,
        ADMIN,
        identity,
        CHROMIUM=_chromium(),
        SCREENSHOT=str(screenshot),
    ) as browser:
        snapshot = await browser.until(lambda line: line.get("stage") == "snapshot", timeout=120)
        assert '"kind": "SNAPSHOT"' in snapshot["text"], snapshot
        await pool.join(await join_token(stack, room_name, identity))
        live = await browser.until(lambda line: line.get("stage") == "live", timeout=60)
        assert identity in live["text"]
        assert await browser.exit_code() == 0, browser.stderr.decode(errors="replace")
    offsite = [line for line in browser.seen if line.get("stage") == "offsite"]
    assert not offsite, offsite


async def test_livekit_client_in_chromium_joins_with_a_token_and_sees_a_server_side_mute(
    stack: Stack, room_name: str
) -> None:
    await create_room(stack, room_name)
    identity = "browser-" + uuid.uuid4().hex[:4]
    token = await join_token(stack, room_name, identity)
    async with NodeScript.run("browser.mjs", "livekit", stack.livekit.ws_url, token, CHROMIUM=_chromium()) as browser:
        published = await browser.until(lambda line: line.get("stage") == "published", timeout=120)
        assert published["identity"] == identity
        assert published["trackSid"], published
        data = await graphql(
            stack,
            "mutation($r: String!, $i: String!) { muteParticipant(room: $r, identity: $i) { tracks { sid muted } } }",
            r=room_name,
            i=identity,
        )
        assert data["muteParticipant"]["tracks"] == [{"sid": published["trackSid"], "muted": True}]
        muted = await browser.until(lambda line: line.get("stage") == "muted", timeout=60)
        assert muted == {"stage": "muted", "trackSid": published["trackSid"], "isMuted": True}
        assert await browser.exit_code() == 0, browser.stderr.decode(errors="replace")

"""It holds when an instance dies: three instances behind nginx (the reference deployment of `make cluster`,
tests/harness/cluster.py), open-loop load through nginx and 50 subscribers, then SIGKILL of one instance.

What may fail is what was in flight on the dead instance, and nothing else: every request sent once nginx
had its chance to notice succeeds; the subscribers that were on it reconnect through nginx to another
instance and get a SNAPSHOT first; every acknowledged act is in the audit trail (PostgreSQL) exactly once and
in the state it made; and the survivors' `gxrtc_requests_total` counts exactly the requests nginx says they
answered (`X-Gxrtc-Upstream`, the instances it tried in order).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import aiohttp
import httpx
import pytest
from livekit import api
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from graphql_api.core.store.tables import audit_events
from tests.harness.cluster import ADMIN, MAX_BODY_BYTES, UPSTREAM, Cluster, api_requests, chain, run_cluster
from tests.harness.graphql_ws import SubscriptionClient
from tests.harness.load import livekit_api, percentile
from tests.harness.participants import ParticipantPool
from tests.harness.postgres_server import PostgresServer
from tests.harness.reporting import report
from tests.harness.service import Service

pytestmark = pytest.mark.integration

RATE = 40.0
"""Requests a second through nginx, each sent on schedule whatever became of the ones before (open loop)."""
BEFORE_KILL, AFTER_KILL = 4.0, 8.0
SUBSCRIBERS = 50
PUBLISHERS = 3
NOTICE_BOUND = 2.0
"""How long after the kill a request may still fail: nginx notices a dead instance on the first connection
it refuses (proxy_connect_timeout, 1 s, bounds a hung one), and a request may have gone out on a pooled
connection to it before its close was seen. Generous for a loaded machine; much shorter than the load."""
RECONNECT_BOUND = 10.0
"""Kill to SNAPSHOT on the new connection, for a subscriber that was on the dead instance."""
SUBSCRIBE = "subscription($room: String) { roomEvents(room: $room) { kind participant { identity } } }"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer) -> Iterator[Cluster]:
    if not postgres_server.running:  # a store test may have killed the session's cluster
        postgres_server.restart()
    with run_cluster(tmp_path_factory.mktemp("cluster"), postgres=postgres_server) as running:
        yield running


@dataclass
class Answer:
    index: int
    kind: str
    request_id: str
    sent: float
    latency: float
    status: int | None
    upstreams: list[str]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Subscriber:
    client: SubscriptionClient
    upstream: str
    closed_at: float | None = None
    snapshot_at: float | None = None
    new_upstream: str | None = None
    failures: list[str] = field(default_factory=list)
    replacement: SubscriptionClient | None = None
    first_after: str | None = None
    """The kind of the first event on the new connection."""
    key: str = "1"


async def subscribe(url: str, room: str) -> tuple[SubscriptionClient, str, str, float, str]:
    """A graphql-ws connection through nginx with one subscription: the client, the instance that took it, the
    subscription's id, and the first event's arrival and kind."""
    client = SubscriptionClient(url, ADMIN["authorization"])
    try:
        await asyncio.wait_for(client.connect(), 15)
        assert client.connection is not None
        upstream = client.connection.response.headers.get(UPSTREAM, "") if client.connection.response else ""
        key = await client.subscribe(SUBSCRIBE, room=room)
        at, first = await client.next_event(key, timeout=15)
    except BaseException:
        await client.aclose()
        raise
    return client, chain(upstream)[-1], key, at, first["kind"]


async def follow(subscriber: Subscriber, url: str, room: str, deadline: float) -> None:
    """When the connection closes, reconnect through nginx until a SNAPSHOT arrives (or the deadline)."""
    assert subscriber.client.closed is not None
    await subscriber.client.closed
    subscriber.closed_at = time.monotonic()
    while time.monotonic() < deadline:
        try:
            client, upstream, key, at, kind = await subscribe(url, room)
        except Exception as exc:  # tried again: nginx may not know yet
            subscriber.failures.append(repr(exc)[:200])
            await asyncio.sleep(0.2)
            continue
        subscriber.replacement, subscriber.new_upstream, subscriber.key = client, upstream, key
        subscriber.snapshot_at, subscriber.first_after = at, kind
        return


ROOMS_QUERY = "{ rooms { name numParticipants } }"
Form = dict[str, str]


def plan(index: int, room: str, publishers: list[str]) -> tuple[str, str, str, Form | None, dict[str, str] | None]:
    """The index-th request: kind, method, path, form, JSON. Tokens, reads on both faces, moderation acts."""
    slot = index % 10
    if slot < 3:
        return "token", "POST", "/api/v1/room/token", {"uid": f"user-{index}", "room": room}, None
    if slot < 5:
        return "participants", "GET", f"/api/v1/room/{room}/participants", None, None
    if slot < 6:
        if (index // 10) % 2:
            return "graphql rooms", "POST", "/graphql", None, {"query": ROOMS_QUERY}
        return "rooms", "GET", "/api/v1/room/", None, None
    if slot < 8:
        return "ban", "POST", f"/api/v1/room/{room}/participant/ghost-{index}/ban", {"reason": "load"}, None
    speaker = publishers[index % len(publishers)]
    return "mute", "POST", f"/api/v1/room/{room}/participant/{speaker}/mute", {"source": "MICROPHONE"}, None


async def send(session: aiohttp.ClientSession, t0: float, index: int, room: str, publishers: list[str]) -> Answer:
    kind, method, path, form, payload = plan(index, room, publishers)
    request_id = f"cluster-{index}-{uuid.uuid4().hex[:8]}"
    start = time.monotonic()
    try:
        async with session.request(
            method, path, data=form, json=payload, headers={"x-request-id": request_id}
        ) as response:
            body = await response.read()
            status, upstreams = response.status, chain(response.headers.get(UPSTREAM, ""))
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Answer(index, kind, request_id, start - t0, time.monotonic() - start, None, [], repr(exc))
    if payload is not None and status == 200 and b'"errors"' in body:
        status = 0  # answered, but with GraphQL errors: not a success
    return Answer(index, kind, request_id, start - t0, time.monotonic() - start, status, upstreams)


@contextlib.asynccontextmanager
async def publishing(cluster: Cluster, room: str, count: int) -> AsyncIterator[list[str]]:
    """`count` real participants in `room`, each publishing a microphone track; their identities."""
    pool = ParticipantPool(cluster.livekit.ws_url)
    try:
        async with httpx.AsyncClient(base_url=f"{cluster.nginx.url}/api/v1", headers=ADMIN, timeout=15) as http:
            assert (await http.post("/room/", data={"room": room})).status_code == 200
            for n in range(count):
                minted = await http.post("/room/token", data={"uid": f"speaker-{n}", "room": room})
                assert minted.status_code == 200, minted.text
                await pool.join(minted.json()["data"]["access_token"], audio=True)
        yield [p.identity for p in pool.participants]
    finally:
        await pool.aclose()


async def audit_rows(cluster: Cluster) -> dict[str, list[str]]:
    """request id -> the results of the audit rows carrying it, straight from PostgreSQL."""
    engine = create_async_engine(cluster.database_url)
    try:
        async with engine.connect() as connection:
            query = select(audit_events.c.request_id, audit_events.c.result).where(
                audit_events.c.request_id.like("cluster-%")
            )
            rows = (await connection.execute(query)).all()
    finally:
        await engine.dispose()
    found: dict[str, list[str]] = {}
    for request_id, result in rows:
        found.setdefault(request_id, []).append(result)
    return found


@dataclass
class Run:
    """One run of the load, with the kill in it."""

    answers: list[Answer]
    killed_at: float
    """Seconds since the load began."""
    t0: float


async def load_with_a_kill(cluster: Cluster, victim: Service, room: str, publishers: list[str]) -> Run:
    """RATE requests a second through nginx for BEFORE_KILL + AFTER_KILL seconds; SIGKILL of `victim` between."""
    total = int(RATE * (BEFORE_KILL + AFTER_KILL))
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(
        cluster.nginx.url, connector=connector, headers={**ADMIN, "accept-language": "en"},
        timeout=aiohttp.ClientTimeout(total=40),
    ) as session:  # fmt: skip
        t0 = time.monotonic()
        tasks = []
        killed_at = 0.0
        for index in range(total):
            due = t0 + index / RATE
            if not killed_at and due >= t0 + BEFORE_KILL:
                await asyncio.sleep(max(0.0, t0 + BEFORE_KILL - time.monotonic()))
                victim.process.kill()
                killed_at = time.monotonic() - t0
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            tasks.append(asyncio.create_task(send(session, t0, index, room, publishers)))
        answers = await asyncio.gather(*tasks)
    await asyncio.to_thread(victim.process.wait, 10)
    return Run(list(answers), killed_at, t0)


async def check_acts(cluster: Cluster, http: httpx.AsyncClient, room: str, run: Run) -> None:
    """Every acknowledged act recorded once, and in force; none twice."""
    rows = await audit_rows(cluster)
    acts = [a for a in run.answers if a.kind in ("ban", "mute", "token")]
    for act in acts:
        results = rows.get(act.request_id, [])
        if act.ok:
            assert results == ["ok"], f"{act}: audit rows {results}"
        else:
            assert len(results) <= 1, f"{act}: audit rows {results}"
    bans = await http.get(f"/api/v1/room/{room}/bans")
    banned = {b["uid"] for b in bans.json()["data"]["bans"]}
    acknowledged = {f"ghost-{a.index}" for a in acts if a.kind == "ban" and a.ok}
    assert acknowledged <= banned, acknowledged - banned
    async with livekit_api(cluster.livekit) as lkapi:
        listed = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
    assert len(listed.participants) == PUBLISHERS, listed
    for participant in listed.participants:
        assert participant.tracks, participant
        assert all(t.muted for t in participant.tracks), participant


async def check_everyone_hears(http: httpx.AsyncClient, room: str, subscribers: list[Subscriber]) -> None:
    """One more ban, heard by every subscriber, resubscribed or not (Redis across the survivors)."""
    last = await http.post(f"/api/v1/room/{room}/participant/ghost-last/ban")
    assert last.status_code == 200, last.text
    for s in subscribers:
        client = s.replacement or s.client
        while True:
            _, event = await client.next_event(s.key, timeout=15)
            identity = (event["participant"] or {}).get("identity")
            if event["kind"] == "PARTICIPANT_BANNED" and identity == "ghost-last":
                break


def attempts_on(addresses: dict[str, Service], upstream_chains: list[list[str]]) -> dict[str, int]:
    """How many requests nginx passed to each of `addresses`, from each answer's X-Gxrtc-Upstream."""
    expected = dict.fromkeys(addresses, 0)
    for tried in upstream_chains:
        for address in tried:
            if address in expected:
                expected[address] += 1
    return expected


async def settled_counts(
    survivors: dict[str, Service], before: dict[str, float], expected: dict[str, int]
) -> dict[str, float]:
    """Each survivor's REST and GraphQL requests since `before`, once they equal `expected` (a count lands as its
    answer is sent) or after a few seconds."""
    deadline = time.monotonic() + 5
    while True:
        counted = {a: await asyncio.to_thread(api_requests, i) - before[a] for a, i in survivors.items()}
        if counted == expected or time.monotonic() > deadline:
            return counted
        await asyncio.sleep(0.2)


async def test_nginx_bounds_bodies_as_the_service_does_and_answers_in_its_envelope(cluster: Cluster) -> None:
    """One byte over GXRTC_MAX_BODY_BYTES is refused by nginx before any instance sees it, in the envelope."""
    async with httpx.AsyncClient(base_url=cluster.nginx.url, headers=ADMIN, timeout=15) as http:
        over = await http.post("/api/v1/room/", content=b"room=x&metadata=" + b"m" * MAX_BODY_BYTES)
        assert over.status_code == 413
        meta = over.json()["meta"]
        assert (meta["code"], meta["error"]) == (413, "payload too large")
        assert str(MAX_BODY_BYTES) in meta["message"]
        assert UPSTREAM not in over.headers  # no instance was asked
        within = await http.post("/api/v1/room/", data={"room": "bounded-body", "metadata": "m" * 1000})
        assert within.status_code == 200, within.text


async def test_one_instance_killed_under_load(cluster: Cluster, room_name: str, request: pytest.FixtureRequest) -> None:
    victim = cluster.instances[1]
    dead = cluster.address(victim)
    survivors = {cluster.address(i): i for i in cluster.instances if i is not victim}
    ws_url = f"{cluster.nginx.ws_url}/graphql"
    # The checks' own requests through nginx, each as the instances it tried (for the counters).
    checked: list[list[str]] = []

    async def note(response: httpx.Response) -> None:
        checked.append(chain(response.headers.get(UPSTREAM, "")))

    http = httpx.AsyncClient(base_url=cluster.nginx.url, headers=ADMIN, timeout=15, event_hooks={"response": [note]})
    async with http, publishing(cluster, room_name, PUBLISHERS) as publishers:
        opened = await asyncio.gather(*(subscribe(ws_url, room_name) for _ in range(SUBSCRIBERS)))
        assert [kind for *_, kind in opened] == ["SNAPSHOT"] * SUBSCRIBERS
        subscribers = [Subscriber(client, upstream, key=key) for client, upstream, key, *_ in opened]
        spread = Counter(s.upstream for s in subscribers)
        assert set(spread) == {dead, *survivors}, f"nginx spread the subscribers as {spread}"
        counted_before = {address: api_requests(i) for address, i in survivors.items()}
        deadline = time.monotonic() + BEFORE_KILL + RECONNECT_BOUND + 5
        followers = [asyncio.create_task(follow(s, ws_url, room_name, deadline)) for s in subscribers]
        try:
            run = await load_with_a_kill(cluster, victim, room_name, publishers)
            on_victim = [s for s in subscribers if s.upstream == dead]
            await asyncio.wait_for(asyncio.gather(*(followers[subscribers.index(s)] for s in on_victim)), 30)
            answers, killed_at = run.answers, run.killed_at

            # Requests: only those in flight on the dead instance may fail.
            assert all(a.status is not None for a in answers), [a for a in answers if a.status is None][:5]
            failed = [a for a in answers if not a.ok]
            late = [a for a in failed if a.sent > killed_at + NOTICE_BOUND or dead not in a.upstreams]
            assert not late, "failed though not in flight on the dead instance:\n" + "\n".join(map(repr, late[:10]))
            # nginx tries the dead instance again every fail_timeout; it refuses, and nginx passes the request on.
            after = [a for a in answers if a.sent > killed_at + NOTICE_BOUND]
            assert after
            assert all(a.ok for a in after)

            # Subscribers: those on the dead instance are back on another, a SNAPSHOT first; the rest stayed.
            for s in subscribers:
                if s.upstream == dead:
                    assert s.snapshot_at is not None, f"never resubscribed: {s.failures[-3:]}"
                    assert s.first_after == "SNAPSHOT", s.first_after
                    assert s.new_upstream in survivors, s.new_upstream
                else:
                    assert s.closed_at is None, f"a subscriber on a survivor ({s.upstream}) lost its connection"
            reconnects = sorted((s.snapshot_at or 0) - (run.t0 + killed_at) for s in on_victim)
            assert reconnects[-1] < RECONNECT_BOUND, reconnects

            await check_acts(cluster, http, room_name, run)
            await check_everyone_hears(http, room_name, subscribers)

            # The survivors' counters account for every request nginx says they answered, the checks' too
            # (the scrapes are face "service", and WebSockets are not HTTP requests: neither is counted here).
            expected = attempts_on(survivors, [a.upstreams for a in answers] + checked)
            counted = await settled_counts(survivors, counted_before, expected)
            assert counted == expected
        finally:
            for task in followers:
                task.cancel()
            for s in subscribers:
                for client in (s.client, s.replacement):
                    if client is not None:
                        with contextlib.suppress(Exception):
                            await client.aclose()

    during = [a.latency for a in answers if a.ok and killed_at <= a.sent <= killed_at + AFTER_KILL]
    before = [a.latency for a in answers if a.ok and a.sent < killed_at]
    window = "none"
    if failed:
        first, last = min(a.sent for a in failed), max(a.sent + a.latency for a in failed)
        window = f"{first - killed_at:+.2f}s to {last - killed_at:+.2f}s"
    report(
        request.config,
        "instance death behind nginx",
        [
            f"{len(answers)} requests at {RATE:.0f}/s over {BEFORE_KILL + AFTER_KILL:.0f}s; instance {dead} "
            f"SIGKILLed at {killed_at:.2f}s; subscribers per instance {dict(spread)}",
            f"failed: {len(failed)} {dict(Counter(a.kind for a in failed))}, all in flight on it; "
            f"from the kill, failures sent and answered {window}",
            f"passed on by nginx to another instance: {sum(1 for a in answers if len(a.upstreams) > 1)}",
            f"subscribers reconnected: {len(on_victim)}, kill to SNAPSHOT min {reconnects[0]:.2f}s, "
            f"median {reconnects[len(reconnects) // 2]:.2f}s, max {reconnects[-1]:.2f}s",
            f"survivors' p50 / p99 in the {AFTER_KILL:.0f}s after the kill: {percentile(during, 0.5) * 1000:.0f} / "
            f"{percentile(during, 0.99) * 1000:.0f} ms (before it: {percentile(before, 0.5) * 1000:.0f} / "
            f"{percentile(before, 0.99) * 1000:.0f} ms)",
            f"survivors counted {counted} REST and GraphQL requests, as many as nginx saw them answer",
        ],
    )

"""What the several-workers tests share: a deployment (a LiveKit whose webhooks reach the first
instance; 1 or 2 instances of 2 workers on one Redis and one store), REST and GraphQL calls served by a
chosen worker, and subscribers on every worker collecting their events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.harness.graphql_ws import SubscriptionClient
from tests.harness.livekit_server import LiveKitServer, node_ip_from_environment
from tests.harness.ports import free_port
from tests.harness.redis_server import RedisServer
from tests.harness.workers import HttpAnswer, Workers, run_workers
from tests.integration.conftest import service_settings

ADMIN_KEY = "workers-admin-key-0123456789abcdef0123456789"
ADMIN = f"Bearer {ADMIN_KEY}"
SUBSCRIBE = (
    "subscription($room: String) { roomEvents(room: $room) {"
    " kind room sequence source participant { identity sid } track { sid muted } } }"
)


@dataclass
class Deployment:
    livekit: LiveKitServer
    redis: RedisServer
    instances: list[Workers]

    @property
    def pids(self) -> list[int]:
        return [pid for instance in self.instances for pid in instance.pids]

    def instance_of(self, pid: int) -> Workers:
        return next(instance for instance in self.instances if pid in instance.pids)

    async def call(self, pid: int, method: str, path: str, **form: str) -> HttpAnswer:
        """A REST call served by worker `pid`."""
        body = urllib.parse.urlencode(form).encode()
        headers = {"authorization": ADMIN, "accept-language": "en"}
        if form:
            headers["content-type"] = "application/x-www-form-urlencoded"
        return await self.instance_of(pid).request(method, "/api/v1" + path, worker=pid, body=body, headers=headers)

    async def graphql(self, pid: int, query: str, **variables: Any) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables}).encode()
        headers = {"authorization": ADMIN, "content-type": "application/json"}
        answer = await self.instance_of(pid).request("POST", "/graphql", worker=pid, body=body, headers=headers)
        assert answer.status == 200, answer.body
        result: dict[str, Any] = answer.json()
        assert "errors" not in result, result
        data: dict[str, Any] = result["data"]
        return data


@contextlib.contextmanager
def deployment(tmp_path_factory: pytest.TempPathFactory, instances: int) -> Iterator[Deployment]:
    """A LiveKit whose webhooks go to the first instance; `instances` instances of 2 workers on one Redis."""
    first_port = free_port()
    livekit = LiveKitServer(
        node_ip=node_ip_from_environment(),
        workdir=tmp_path_factory.mktemp("lk-workers"),
        webhook_urls=[f"http://127.0.0.1:{first_port}/webhooks/livekit"],
    )
    redis = RedisServer(workdir=tmp_path_factory.mktemp("redis-workers"))
    livekit.start()
    redis.start()
    try:
        settings = service_settings(
            livekit,
            GXRTC_ADMIN_KEY=ADMIN_KEY,
            GXRTC_REDIS_URL=redis.url,
            GXRTC_RECONCILE_INTERVAL_SECONDS="1",
            GXRTC_PARTICIPANT_CACHE_SECONDS="30",
            GXRTC_AUTH_BRAKE_FAILURES="10",
            # One store for every instance, as a deployment has (bans and locks decide admission everywhere).
            GXRTC_STATE_DIR=str(tmp_path_factory.mktemp("state-workers")),
        )
        with contextlib.ExitStack() as stack:
            started = [stack.enter_context(run_workers(settings, workers=2, port=first_port))]
            started += [stack.enter_context(run_workers(settings, workers=2)) for _ in range(instances - 1)]
            yield Deployment(livekit, redis, started)
    finally:
        redis.stop()
        livekit.stop()


@dataclass
class Listener:
    """One subscriber's events, collected as they come."""

    client: SubscriptionClient
    key: str
    worker: int
    events: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    async def collect(self) -> None:
        while True:
            _, event = await self.client.next_event(self.key, timeout=3600)
            self.events.append(event)
            self.changed.set()

    async def until(self, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not done(self.events):
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"worker {self.worker}'s subscriber: not done; it has {self.events[-20:]}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)


@contextlib.asynccontextmanager
async def listeners_on_every_worker(stack: Deployment, room: str | None) -> AsyncIterator[list[Listener]]:
    """Subscribers to `room` until every worker of the deployment has one (by the pid holding the socket)."""
    listeners: list[Listener] = []
    clients: list[SubscriptionClient] = []
    try:
        for instance in stack.instances:
            for _ in range(40):
                if set(instance.pids) <= {listener.worker for listener in listeners}:
                    break
                client = SubscriptionClient(instance.base_url.replace("http", "ws") + "/graphql", ADMIN)
                await client.connect()
                clients.append(client)
                assert client.connection is not None
                worker = await asyncio.to_thread(instance.serving, client.connection.local_address[1])
                key = await client.subscribe(SUBSCRIBE, room=room)
                if room is not None:
                    _, snapshot = await client.next_event(key)
                    assert snapshot["kind"] == "SNAPSHOT"
                listener = Listener(client, key, worker)
                listener.task = asyncio.create_task(listener.collect())
                listeners.append(listener)
        assert {listener.worker for listener in listeners} == set(stack.pids)
        if room is None:  # no snapshot says the subscription is in effect: a room opened does
            probe = f"probe-{uuid.uuid4().hex[:8]}"
            assert (await stack.call(stack.pids[0], "POST", "/room/", room=probe)).status == 200
            for listener in listeners:
                await listener.until(lambda events: any(event["room"] == probe for event in events))
            assert (await stack.call(stack.pids[0], "DELETE", f"/room/{probe}")).status == 200
        yield listeners
    finally:
        for listener in listeners:
            if listener.task is not None:
                listener.task.cancel()
        for client in clients:
            with contextlib.suppress(Exception):
                await client.aclose()


def per_room(events: list[dict[str, Any]], prefix: str) -> dict[str, list[dict[str, Any]]]:
    rooms: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event["room"] and event["room"].startswith(prefix):
            rooms.setdefault(event["room"], []).append(event)
    return rooms


def audited_workers(stack: Deployment, room_prefix: str) -> set[int]:
    """The pids whose audit lines name a room of `room_prefix` (every change is audited, with the pid)."""
    pids = set()
    for instance in stack.instances:
        for line in instance.service.log_path.read_text(errors="replace").splitlines():
            if " audit " in line and room_prefix in line and "[" in line:
                pids.add(int(line.split("[", 1)[1].split("]", 1)[0]))
    return pids

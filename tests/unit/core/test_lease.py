"""Leases on a real Redis (one duty, one doer), and the reconciler that does only what it holds."""

from __future__ import annotations

import asyncio

from graphql_api.core import bans, room_events
from graphql_api.core.fake_livekit import FakeRoomService
from graphql_api.core.lease import LocalLeases, RedisLeases, lease_ttl, open_leases
from graphql_api.core.metrics import REDIS_ERRORS
from graphql_api.core.reconcile import ENFORCEMENT_LEASE, Reconciler, room_lease
from graphql_api.core.services import Core
from tests.harness.ports import free_port
from tests.harness.redis_server import RedisServer

from .conftest import ADMIN


def leases(redis: RedisServer, prefix: str, ttl: float = 5.0) -> RedisLeases:
    return RedisLeases(redis.url, ttl=ttl, prefix=prefix)


async def test_a_lease_has_one_holder_until_it_is_released(redis_server: RedisServer, redis_prefix: str) -> None:
    a, b = leases(redis_server, redis_prefix), leases(redis_server, redis_prefix)
    assert a.token != b.token
    assert await a.hold({"room:x", "enforcement"}) == {"room:x", "enforcement"}
    assert await b.hold({"room:x", "room:y", "enforcement"}) == {"room:y"}
    assert await a.hold({"room:x", "enforcement"}) == {"room:x", "enforcement"}  # renewed, still a's
    # Not named any more: released, and the other takes it at its next pass.
    assert await a.hold({"enforcement"}) == {"enforcement"}
    assert await b.hold({"room:x", "room:y", "enforcement"}) == {"room:x", "room:y"}
    await a.aclose()
    assert await b.hold({"room:x", "room:y", "enforcement"}) == {"room:x", "room:y", "enforcement"}
    await b.aclose()


async def test_an_expired_lease_goes_to_another_and_its_old_holder_drops_it(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    a, b = leases(redis_server, redis_prefix, ttl=0.2), leases(redis_server, redis_prefix, ttl=0.2)
    assert await a.hold({"room:x"}) == {"room:x"}
    await asyncio.sleep(0.4)  # a missed its renewal (hung, or gone)
    assert await b.hold({"room:x"}) == {"room:x"}
    assert await a.hold({"room:x"}) == set()
    assert a.held == frozenset()
    # Its release cannot take b's lease away: the compare-and-set is on a's own token.
    await a.aclose()
    c = leases(redis_server, redis_prefix, ttl=0.2)
    assert await c.hold({"room:x"}) == set()
    await b.aclose()
    await c.aclose()


async def test_without_redis_a_process_holds_nothing_and_says_so_quickly(redis_prefix: str) -> None:
    unreachable = RedisLeases(f"redis://127.0.0.1:{free_port()}/0", ttl=1, prefix=redis_prefix, timeout=0.3)
    before = REDIS_ERRORS.labels("lease_hold")._value.get()
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await unreachable.hold({"room:x"}) == set()
    assert loop.time() - started < 1.0  # within its deadline, not a hang
    assert REDIS_ERRORS.labels("lease_hold")._value.get() == before + 1
    await unreachable.aclose()


async def test_one_process_holds_every_lease_locally() -> None:
    assert isinstance(open_leases(None, interval=5), LocalLeases)
    assert await LocalLeases().hold({"room:a", "enforcement"}) == {"room:a", "enforcement"}
    assert lease_ttl(5) == 15
    assert lease_ttl(0.1) == 1.0


async def test_two_reconcilers_repair_a_room_from_the_one_that_holds_it(
    core: Core, service: FakeRoomService, redis_server: RedisServer, redis_prefix: str
) -> None:
    service.add_participant("ours", "alice")
    first = Reconciler(core, leases(redis_server, redis_prefix))
    second = Reconciler(core, leases(redis_server, redis_prefix))
    stream = room_events.room_events(core, ADMIN, "ours")
    await anext(stream)  # the snapshot: both reconcilers take it as their baseline
    service.add_participant("ours", "bob")  # joined with no webhook
    service.calls.clear()
    published = await first.reconcile_once()
    assert [(event.kind, event.participant and event.participant.identity) for event in published] == [
        ("participant_joined", "bob")
    ]
    assert await second.reconcile_once() == []
    assert first.held == {room_lease("ours"), ENFORCEMENT_LEASE}
    assert second.held == frozenset()
    # Only the holder asked LiveKit: the other did no work for the room at all.
    assert [method for method, _ in service.calls] == ["list_participants"]
    await stream.aclose()


async def test_ban_enforcement_runs_in_the_one_process_with_its_lease(
    core: Core, service: FakeRoomService, redis_server: RedisServer, redis_prefix: str
) -> None:
    await bans.ban_participant(core, ADMIN, "ours", "alice")
    service.add_participant("ours", "alice")  # back with an older token; its webhook was lost
    first = Reconciler(core, leases(redis_server, redis_prefix))
    second = Reconciler(core, leases(redis_server, redis_prefix))
    await first.reconcile_once()
    await second.reconcile_once()
    service.calls.clear()
    assert await second.enforce_once() == []
    assert service.calls == []  # not even a look
    [refused] = await first.enforce_once()
    assert (refused.kind, refused.reason) == ("participant_refused", "banned")

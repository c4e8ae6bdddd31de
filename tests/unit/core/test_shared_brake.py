"""The brake on failed authentications shared through a real Redis, and its fallback when Redis is away.

Several `SharedBrake`s on one redis-server stand for several processes: a key braked by failures through
any of them is braked in each, told over pub/sub, and `check` itself never talks to Redis.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pydantic import SecretStr

from graphql_api.core.brake import LocalBrake
from graphql_api.core.metrics import REDIS_ERRORS
from graphql_api.core.shared_brake import SharedBrake, open_brake
from graphql_api.errors import TooManyRequests
from graphql_api.settings import Settings
from tests.harness.ports import free_port
from tests.harness.redis_server import RedisServer

KEYS = ("address:10.0.0.1", "api-key:abcdefgh")

PROPAGATION_BOUND = 1.0
"""Seconds within which a brake made through one process holds in another (pub/sub delivery)."""


async def brake(redis: RedisServer, prefix: str, *, failures: int = 10, window: float = 60.0) -> SharedBrake:
    shared = SharedBrake(redis.url, failures=failures, window_seconds=window, prefix=prefix)
    async with asyncio.timeout(5):
        await shared.wait_subscribed()
    return shared


async def refused_within(bound: float, check: Callable[[], Awaitable[None]]) -> TooManyRequests:
    """The refusal `check` raises once the brake has reached it; fails if it has not within `bound` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound
    while True:
        try:
            await check()
        except TooManyRequests as refused:
            return refused
        if loop.time() > deadline:
            pytest.fail(f"not braked within {bound} s")
        await asyncio.sleep(0.005)


async def test_failures_in_several_processes_share_one_allowance(redis_server: RedisServer, redis_prefix: str) -> None:
    workers = [await brake(redis_server, redis_prefix) for _ in range(3)]
    for attempt in range(10):  # spread over the workers, as a guesser behind one port would
        worker = workers[attempt % 3]
        await worker.check(KEYS)
        await worker.failed(KEYS)
    # The worker that counted the tenth failure refuses at once: the script's answer said so.
    with pytest.raises(TooManyRequests):
        await workers[0].check(KEYS)
    for worker in workers:  # each saw at most 4 failures itself, yet every one refuses the 11th
        refused = await refused_within(PROPAGATION_BOUND, functools.partial(worker.check, KEYS))
        assert refused.retry_after is not None
        assert 1 <= refused.retry_after <= 6
    # Either key alone is braked (the address and the key prefix each had ten failures)...
    with pytest.raises(TooManyRequests):
        await workers[1].check(("address:10.0.0.1",))
    with pytest.raises(TooManyRequests):
        await workers[1].check(("address:10.0.0.9", "api-key:abcdefgh"))
    # ...another address is not.
    await workers[0].check(("address:10.0.0.2",))
    for worker in workers:
        await worker.aclose()


async def test_a_process_started_later_hears_brakes_made_after_it_subscribed(
    redis_server: RedisServer, redis_prefix: str
) -> None:
    a = await brake(redis_server, redis_prefix, failures=3)
    for _ in range(2):
        await a.failed(KEYS)
    b = await brake(redis_server, redis_prefix, failures=3)
    await b.check(KEYS)  # nothing braked yet anywhere
    await a.failed(KEYS)  # the third: braked
    await refused_within(PROPAGATION_BOUND, lambda: b.check(KEYS))
    await a.aclose()
    await b.aclose()


async def test_the_allowance_refills_with_time(redis_server: RedisServer, redis_prefix: str) -> None:
    a = await brake(redis_server, redis_prefix, failures=2, window=0.4)
    b = await brake(redis_server, redis_prefix, failures=2, window=0.4)
    await a.failed(KEYS)
    await b.failed(KEYS)
    with pytest.raises(TooManyRequests):
        await b.check(KEYS)
    await refused_within(PROPAGATION_BOUND, lambda: a.check(KEYS))
    await asyncio.sleep(0.25)  # one attempt's worth (0.2 s) has drained
    await a.check(KEYS)
    await b.check(KEYS)
    # One more failure, through either, brakes it again for both.
    await a.failed(KEYS)
    await refused_within(PROPAGATION_BOUND, lambda: b.check(KEYS))
    await a.aclose()
    await b.aclose()


class _NoRedis:
    """Stands in for the brake's Redis client: any use is a test failure."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"check used Redis ({name})")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("check used Redis")


async def test_check_does_not_talk_to_redis(
    redis_server: RedisServer, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = await brake(redis_server, redis_prefix, failures=2)
    b = await brake(redis_server, redis_prefix, failures=2)
    monkeypatch.setattr(b, "_redis", _NoRedis())
    monkeypatch.setattr(b, "_script", _NoRedis())
    for _ in range(100):  # nothing braked: the usual case
        await b.check(KEYS)
    await a.failed(KEYS)
    await a.failed(KEYS)
    await refused_within(PROPAGATION_BOUND, lambda: b.check(KEYS))  # braked: still no call
    await b.check(("address:10.0.0.2",))
    monkeypatch.undo()
    await a.aclose()
    await b.aclose()


async def test_the_map_of_braked_keys_is_bounded(redis_server: RedisServer, redis_prefix: str) -> None:
    small = SharedBrake(redis_server.url, failures=1, window_seconds=60, prefix=redis_prefix, max_keys=50)
    async with asyncio.timeout(5):
        await small.wait_subscribed()
    for i in range(200):  # a guesser rotating addresses, one failure each
        await small.failed((f"address:10.1.{i // 256}.{i % 256}",))
    assert small.braked_keys <= 50
    with pytest.raises(TooManyRequests):  # the latest are kept
        await small.check(("address:10.1.0.199",))
    await small.aclose()


async def test_without_redis_the_local_brake_decides_and_it_is_logged_once(
    redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="graphql_api.core.shared_brake"):
        away = SharedBrake(
            f"redis://127.0.0.1:{free_port()}/0", failures=3, window_seconds=60, prefix=redis_prefix, timeout=0.25
        )
        before = REDIS_ERRORS.labels("brake_fail")._value.get()
        for _ in range(3):
            await away.check(KEYS)  # answered, not raised: authentication goes on without Redis
            await away.failed(KEYS)
        with pytest.raises(TooManyRequests):
            await away.check(KEYS)  # this process's own count still holds
        assert away.falling_back
        assert REDIS_ERRORS.labels("brake_fail")._value.get() == before + 3
        await asyncio.sleep(0.3)  # the subscriber retries meanwhile, and says nothing more
    assert len([record for record in caplog.records if "did not answer" in record.message]) == 1
    await away.aclose()


async def test_redis_stopped_checks_answer_locally_and_failures_are_counted(
    redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    with RedisServer() as stopping:
        shared = SharedBrake(stopping.url, failures=3, window_seconds=60, prefix=redis_prefix, timeout=0.25)
        async with asyncio.timeout(5):
            await shared.wait_subscribed()
        stopping.stop()
        with caplog.at_level(logging.WARNING, logger="graphql_api.core.shared_brake"):
            for _ in range(3):
                await shared.check(KEYS)
                await shared.failed(KEYS)
            with pytest.raises(TooManyRequests):
                await shared.check(KEYS)
        assert shared.falling_back
        assert len([record for record in caplog.records if "did not answer" in record.message]) == 1
        await shared.aclose()


async def test_after_a_redis_restart_brakes_reach_every_process_again(
    redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    with RedisServer() as restarting:
        a = SharedBrake(restarting.url, failures=2, window_seconds=60, prefix=redis_prefix, timeout=0.25)
        b = SharedBrake(restarting.url, failures=2, window_seconds=60, prefix=redis_prefix, timeout=0.25)
        async with asyncio.timeout(5):
            await a.wait_subscribed()
            await b.wait_subscribed()
        restarting.kill()
        with caplog.at_level(logging.WARNING, logger="graphql_api.core.shared_brake"):
            await a.failed(("address:10.3.0.1",))  # counted by a alone
            assert a.falling_back
            for _ in range(500):  # within 5 s, b's listener has seen its connection go
                if b.falling_back:
                    break
                await asyncio.sleep(0.01)
            assert b.falling_back
            await asyncio.to_thread(restarting.restart)
            async with asyncio.timeout(5):  # each listener subscribes again by itself
                await a.wait_subscribed()
                await b.wait_subscribed()
            assert not b.falling_back
            await a.failed(KEYS)  # its script answers: a is back too
            await a.failed(KEYS)
            assert not a.falling_back
        await refused_within(PROPAGATION_BOUND, lambda: b.check(KEYS))
        assert any("answers again" in record.message for record in caplog.records)
        await a.aclose()
        await b.aclose()


async def test_a_hung_redis_costs_a_failure_at_most_the_deadline_and_a_check_nothing(redis_prefix: str) -> None:
    with RedisServer() as hung:
        shared = SharedBrake(hung.url, failures=3, window_seconds=60, prefix=redis_prefix, timeout=0.25)
        async with asyncio.timeout(5):
            await shared.wait_subscribed()
        await shared.failed(KEYS)  # connected while it answered
        hung.pause()
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            await shared.check(KEYS)
            await shared.failed(KEYS)
            assert loop.time() - started < 0.6
            assert shared.falling_back
            await shared.failed(KEYS)
            with pytest.raises(TooManyRequests):  # the local count of all three
                await shared.check(KEYS)
        finally:
            hung.resume()
        await shared.aclose()


async def test_nonsense_on_the_channel_brakes_nothing(redis_server: RedisServer, redis_prefix: str) -> None:
    shared = await brake(redis_server, redis_prefix)
    client = shared._redis
    channel = f"{redis_prefix}:brake"
    for junk in (b"nan address:10.0.0.1", b"-5 address:10.0.0.1", b"x" * 5000, b"soon address:10.0.0.1"):
        await client.publish(channel, junk)
    await client.publish(channel, b"30 address:10.9.9.9")  # then a real one, heard after the junk
    await refused_within(PROPAGATION_BOUND, lambda: shared.check(("address:10.9.9.9",)))
    await shared.check(KEYS)
    assert shared.braked_keys == 1
    await shared.aclose()


async def test_open_brake_chooses_by_the_redis_url(redis_server: RedisServer) -> None:
    settings = Settings(livekit_api_key="key", livekit_api_secret=SecretStr("s" * 32))
    assert isinstance(open_brake(settings), LocalBrake)
    shared = Settings(livekit_api_key="key", livekit_api_secret=SecretStr("s" * 32), redis_url=redis_server.url)
    opened = open_brake(shared)
    assert isinstance(opened, SharedBrake)
    await opened.aclose()

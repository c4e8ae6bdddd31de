"""The brake on failed authentications shared through a real Redis, and its fallback when Redis is away."""

from __future__ import annotations

import asyncio
import logging

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


def brake(redis: RedisServer, prefix: str, *, failures: int = 10, window: float = 60.0) -> SharedBrake:
    return SharedBrake(redis.url, failures=failures, window_seconds=window, prefix=prefix)


async def test_failures_in_several_processes_share_one_allowance(redis_server: RedisServer, redis_prefix: str) -> None:
    workers = [brake(redis_server, redis_prefix) for _ in range(3)]
    for attempt in range(10):  # spread over the workers, as a guesser behind one port would
        worker = workers[attempt % 3]
        await worker.check(KEYS)
        await worker.failed(KEYS)
    for worker in workers:  # each saw at most 4 failures itself, yet every one refuses the 11th
        with pytest.raises(TooManyRequests) as refused:
            await worker.check(KEYS)
        assert refused.value.retry_after is not None
        assert 1 <= refused.value.retry_after <= 6
    # Another address is not braked.
    await workers[0].check(("address:10.0.0.2",))
    for worker in workers:
        await worker.aclose()


async def test_the_allowance_refills_with_time(redis_server: RedisServer, redis_prefix: str) -> None:
    a, b = (
        brake(redis_server, redis_prefix, failures=2, window=0.4),
        brake(redis_server, redis_prefix, failures=2, window=0.4),
    )
    await a.failed(KEYS)
    await b.failed(KEYS)
    with pytest.raises(TooManyRequests):
        await a.check(KEYS)
    await asyncio.sleep(0.25)  # one attempt's worth (0.2 s) has drained
    await b.check(KEYS)
    await a.aclose()
    await b.aclose()


async def test_without_redis_the_local_brake_decides_and_it_is_logged_once(
    redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    away = SharedBrake(
        f"redis://127.0.0.1:{free_port()}/0", failures=3, window_seconds=60, prefix=redis_prefix, timeout=0.25
    )
    before = REDIS_ERRORS.labels("brake_check")._value.get()
    with caplog.at_level(logging.WARNING, logger="graphql_api.core.shared_brake"):
        for _ in range(3):
            await away.check(KEYS)  # answered, not raised: authentication goes on without Redis
            await away.failed(KEYS)
        with pytest.raises(TooManyRequests):
            await away.check(KEYS)  # this process's own count still holds
    assert away.falling_back
    assert REDIS_ERRORS.labels("brake_check")._value.get() == before + 4
    assert len([record for record in caplog.records if "did not answer" in record.message]) == 1
    await away.aclose()


async def test_a_hung_redis_costs_at_most_the_deadline(redis_prefix: str) -> None:
    with RedisServer() as hung:
        shared = SharedBrake(hung.url, failures=3, window_seconds=60, prefix=redis_prefix, timeout=0.25)
        await shared.check(KEYS)  # connected while it answered
        hung.pause()
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            await shared.check(KEYS)
            assert loop.time() - started < 0.6
            assert shared.falling_back
        finally:
            hung.resume()
        await shared.aclose()


def test_open_brake_chooses_by_the_redis_url(redis_server: RedisServer) -> None:
    settings = Settings(livekit_api_key="key", livekit_api_secret=SecretStr("s" * 32))
    assert isinstance(open_brake(settings), LocalBrake)
    shared = Settings(livekit_api_key="key", livekit_api_secret=SecretStr("s" * 32), redis_url=redis_server.url)
    assert isinstance(open_brake(shared), SharedBrake)

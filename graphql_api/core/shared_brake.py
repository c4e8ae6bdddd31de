"""The brake on failed authentications, shared by every worker and instance through Redis.

A guesser spreading its attempts over the workers behind one port (or the instances behind a balancer)
must meet one allowance, not one per process: `SharedBrake` keeps each key's leaky bucket (see
`brake`) in Redis, one Lua script per call so that reading, draining and counting are one step, with
Redis's own clock so that every process drains alike. Each call has a short deadline; when Redis fails
or does not answer in time, the process falls back to its own `LocalBrake` (which has counted every
failure meanwhile, so it is not empty) and says so once in the log, and once again when Redis answers.

Redis layout: ``<prefix>:brake:<key>``, a hash of the level and when it was computed (Unix
microseconds), expiring once it would have drained.

`open_brake` chooses: shared with a Redis URL, local without.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from typing import Final

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from ..errors import TooManyRequests
from ..settings import Settings
from . import tracing
from .brake import Brake, LocalBrake
from .metrics import REDIS_DURATION, REDIS_ERRORS

__all__ = ["DEFAULT_BRAKE_TIMEOUT", "SharedBrake", "open_brake"]

log = logging.getLogger(__name__)

_SPAN: Final = {"db.system.name": "redis", "db.operation.name": "EVALSHA"}

DEFAULT_BRAKE_TIMEOUT: Final = 0.25
"""Deadline of one brake call to Redis, in seconds: an authentication waits at most this long on it."""

# KEYS: the allowances' keys. ARGV[1]: "check" or "fail", ARGV[2]: the capacity (failures),
# ARGV[3]: the drain rate (failures per second). Answers the highest level among the keys after the
# call, as a string (a Lua number would be cut to an integer).
_SCRIPT: Final = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local capacity = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local highest = 0
for _, key in ipairs(KEYS) do
  local entry = redis.call('HMGET', key, 'level', 'at')
  local level = 0
  if entry[1] then
    level = math.max(0, tonumber(entry[1]) - (now - tonumber(entry[2])) * rate)
  end
  if ARGV[1] == 'fail' then
    level = level + 1
    redis.call('HSET', key, 'level', string.format('%.6f', level), 'at', string.format('%.6f', now))
    redis.call('PEXPIRE', key, math.ceil(level / rate * 1000) + 1000)
  end
  if level > highest then
    highest = level
  end
end
return string.format('%.6f', highest)
"""


class SharedBrake:
    """`Brake` over Redis, falling back to a `LocalBrake` of the same allowance while Redis is away."""

    def __init__(
        self,
        url: str,
        *,
        failures: int,
        window_seconds: float,
        prefix: str = "gxrtc",
        timeout: float = DEFAULT_BRAKE_TIMEOUT,
        max_connections: int = 16,
    ) -> None:
        if failures <= 0 or window_seconds <= 0 or timeout <= 0:
            raise ValueError("failures, window_seconds and timeout must be positive")
        self._capacity = float(failures)
        self._rate = failures / window_seconds
        self._prefix = f"{prefix}:brake:"
        self._timeout = timeout
        self._local = LocalBrake(failures=failures, window_seconds=window_seconds)
        # A bounded, blocking pool: a burst of authentications waits its turn (within the deadline, then
        # the local brake decides) rather than opening a connection to Redis each.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            protocol=2,
            client_name=f"{prefix}-brake",
        )
        self._redis = aioredis.Redis.from_pool(pool)
        self._script = self._redis.register_script(_SCRIPT)
        self._falling_back = False

    @property
    def falling_back(self) -> bool:
        """Whether the last call found Redis away (the local brake decided)."""
        return self._falling_back

    async def check(self, keys: Sequence[str]) -> None:
        highest = await self._call("brake_check", "check", keys)
        if highest is None:
            await self._local.check(keys)
            return
        over = highest - (self._capacity - 1)
        if over > 0:
            retry_after = max(1, math.ceil(over / self._rate))
            raise TooManyRequests(
                f"too many failed authentications, try again in {retry_after} s", retry_after=retry_after
            )

    async def failed(self, keys: Sequence[str]) -> None:
        # Counted locally too, so a fallback starts from what this process saw rather than from nothing.
        await self._local.failed(keys)
        await self._call("brake_fail", "fail", keys)

    async def aclose(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._redis.aclose()
        except (TimeoutError, RedisError, OSError):
            log.debug("brake: closing the Redis connection failed", exc_info=True)

    async def _call(self, operation: str, mode: str, keys: Sequence[str]) -> float | None:
        started = time.perf_counter()
        try:
            # A child of the request's span: the authentication waited on it.
            with tracing.client_span("EVALSHA", _SPAN) as span:
                try:
                    async with asyncio.timeout(self._timeout):
                        answer = await self._script(
                            keys=[self._prefix + key for key in keys], args=[mode, self._capacity, self._rate]
                        )
                except (TimeoutError, RedisError, OSError) as exc:
                    tracing.failed(span, type(exc).__name__)
                    raise
        except (TimeoutError, RedisError, OSError) as exc:
            REDIS_ERRORS.labels(operation).inc()
            if not self._falling_back:
                log.warning(
                    "brake: Redis did not answer (%s: %s); this process counts failed authentications alone meanwhile",
                    type(exc).__name__,
                    exc,
                )
                self._falling_back = True
            return None
        finally:
            REDIS_DURATION.labels(operation).observe(time.perf_counter() - started)
        if self._falling_back:
            log.warning("brake: Redis answers again; failed authentications are counted for every process")
            self._falling_back = False
        return float(answer)


def open_brake(settings: Settings, *, prefix: str = "gxrtc", timeout: float = DEFAULT_BRAKE_TIMEOUT) -> Brake:
    """Shared through Redis with `GXRTC_REDIS_URL`, else this process's own."""
    if settings.redis_url:
        return SharedBrake(
            settings.redis_url,
            failures=settings.auth_brake_failures,
            window_seconds=settings.auth_brake_window_seconds,
            prefix=prefix,
            timeout=timeout,
        )
    return LocalBrake(failures=settings.auth_brake_failures, window_seconds=settings.auth_brake_window_seconds)

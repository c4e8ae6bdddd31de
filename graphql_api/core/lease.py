"""Leases: which worker or instance does a duty that must be done once per deployment.

Several workers are several instances (docs/workers.md), and some work must happen once whichever of
them noticed the need: the reconciler's repair of a room, and its pass over the rooms with bans or a
lock. Each such duty has a name ("room:<room>", "enforcement"), and only the process holding that
name's lease does it.

With Redis a lease is a key holding a token unique to this process, set with SET NX PX (taken only if
nobody holds it) and renewed or released by a Lua compare-and-set on the token, so a process can only
extend or drop its own lease. One script call takes or renews every name at once. The TTL is a few
reconcile intervals: a holder that dies or hangs is replaced within one TTL, and one that is merely
slow keeps its lease as long as it renews within it. A lease that could not be renewed (taken by
another after it expired, or Redis did not answer within the deadline) is dropped at once: this
process stops the duty rather than risk doing it twice. While Redis is unreachable nothing is held,
so nothing is done twice; the broker, which the repairs are published through, is down as well.

Without Redis (one process) every name is held locally.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable
from typing import Final, Protocol

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError
from redis.retry import Retry

from . import tracing
from .metrics import REDIS_DURATION, REDIS_ERRORS

__all__ = ["DEFAULT_LEASE_TIMEOUT", "Leases", "LocalLeases", "RedisLeases", "lease_ttl", "open_leases"]

log = logging.getLogger(__name__)

_SPAN: Final = {"db.system.name": "redis", "db.operation.name": "EVALSHA"}

DEFAULT_LEASE_TIMEOUT: Final = 0.5
"""Deadline of one lease call to Redis, in seconds."""
_TTL_INTERVALS: Final = 3
_MIN_TTL: Final = 1.0

# KEYS: the leases' keys; ARGV[1]: this process's token, ARGV[2]: the TTL in ms. Per key, 1 if this
# process holds it afterwards (taken now, or renewed because it already held it), else 0.
_HOLD_SCRIPT: Final = """
local held = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then
    held[i] = 1
  elseif redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    held[i] = 1
  else
    held[i] = 0
  end
end
return held
"""
# Deletes only the keys that still hold this process's token.
_RELEASE_SCRIPT: Final = """
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    released = released + 1
  end
end
return released
"""


def lease_ttl(interval: float) -> float:
    """The TTL for duties done every `interval` seconds: a few intervals, so one late renewal is no loss."""
    return max(_MIN_TTL, _TTL_INTERVALS * interval)


class Leases(Protocol):
    async def hold(self, names: Iterable[str]) -> set[str]:
        """Take or renew the leases of `names`, release those held before and not named now; those held."""
        ...

    async def aclose(self) -> None:
        """Release every lease held."""
        ...


class LocalLeases:
    """One process: it holds every lease."""

    async def hold(self, names: Iterable[str]) -> set[str]:
        return set(names)

    async def aclose(self) -> None:
        return None


class RedisLeases:
    """Leases shared by every process on one Redis. Construct it inside the running event loop."""

    def __init__(self, url: str, *, ttl: float, prefix: str = "gxrtc", timeout: float = DEFAULT_LEASE_TIMEOUT) -> None:
        if ttl <= 0 or timeout <= 0:
            raise ValueError("ttl and timeout must be positive")
        self._prefix = f"{prefix}:lease:"
        self._ttl_ms = max(1, round(ttl * 1000))
        self._timeout = timeout
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        """Unique to this process: what its leases hold, so only it renews or releases them."""
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            protocol=2,
            client_name=f"{prefix}-leases",
        )
        self._hold = self._redis.register_script(_HOLD_SCRIPT)
        self._release = self._redis.register_script(_RELEASE_SCRIPT)
        self._held: set[str] = set()
        self._failing = False

    @property
    def held(self) -> frozenset[str]:
        return frozenset(self._held)

    async def hold(self, names: Iterable[str]) -> set[str]:
        wanted = sorted(set(names))
        let_go = self._held - set(wanted)
        if let_go:
            await self._call("lease_release", self._release, sorted(let_go))
            self._held -= let_go
        if not wanted:
            return set()
        answer = await self._call("lease_hold", self._hold, wanted)
        if answer is None:
            self._held.clear()  # unknown who holds what now: do nothing rather than do it twice
            return set()
        self._held = {name for name, held in zip(wanted, answer, strict=True) if int(held) == 1}
        return set(self._held)

    async def aclose(self) -> None:
        if self._held:
            await self._call("lease_release", self._release, sorted(self._held))
            self._held.clear()
        try:
            async with asyncio.timeout(self._timeout):
                await self._redis.aclose()
        except (TimeoutError, RedisError, OSError):
            log.debug("leases: closing the Redis connection failed", exc_info=True)

    async def _call(self, operation: str, script: AsyncScript, names: list[str]) -> list[int] | None:
        keys = [self._prefix + name for name in names]
        started = time.perf_counter()
        try:
            with tracing.client_span("EVALSHA", _SPAN) as span:
                try:
                    async with asyncio.timeout(self._timeout):
                        result = await script(keys=keys, args=[self.token, self._ttl_ms])
                except (TimeoutError, RedisError, OSError) as exc:
                    tracing.failed(span, type(exc).__name__)
                    raise
        except (TimeoutError, RedisError, OSError) as exc:
            REDIS_ERRORS.labels(operation).inc()
            if not self._failing:
                log.warning("leases: Redis did not answer (%s: %s); none held until it does", type(exc).__name__, exc)
                self._failing = True
            return None
        finally:
            REDIS_DURATION.labels(operation).observe(time.perf_counter() - started)
        if self._failing:
            log.warning("leases: Redis answers again")
            self._failing = False
        return result if isinstance(result, list) else [int(result)]


def open_leases(redis_url: str | None, *, interval: float, prefix: str = "gxrtc") -> Leases:
    """Redis leases when a URL is given (a TTL of a few `interval`s), else every lease held locally."""
    if redis_url:
        return RedisLeases(redis_url, ttl=lease_ttl(interval), prefix=prefix)
    return LocalLeases()

"""The brake on failed authentications, shared by every worker and instance through Redis.

A guesser spreading its attempts over the workers behind one port (or the instances behind a balancer)
must meet one allowance, not one per process. Failures are rare and checks are every request, so only a
failure goes to Redis:

- `failed` counts the failure in this process's `LocalBrake` and in Redis, in one Lua script that keeps
  each key's leaky bucket (see `brake`) with Redis's own clock, so that every process drains alike. When
  a key is now over the allowance, the same script PUBLISHes how long it is braked on
  ``<prefix>:brake``, and the process records it at once.
- Every process subscribes to that channel (a task started with the brake, stopped by `aclose`) and
  records what it hears in its own map of braked keys, monotonic deadlines computed on arrival, so no
  two clocks are compared.
- `check` is local, no I/O: refused while any key is braked in that map, else whatever this process's
  own `LocalBrake` says.

Between a failure that brakes a key and its message reaching another process (pub/sub delivery, usually
well under a millisecond on loopback) that process still lets attempts through: at most a few extra tries,
bounded by the number of processes. A process that missed the message (its subscription was down) lets
through at most one more failure under that key: that failure runs the script again, the key is still
over, and the script publishes again.

When Redis fails or does not answer within the deadline, each process's own count decides (it has
counted every failure meanwhile, so it is not empty): no worse than a single process. That is said once
in the log, and once again when Redis answers again.

Redis layout: ``<prefix>:brake:<key>``, a hash of the level and when it was computed (Unix
microseconds), expiring once it would have drained; channel ``<prefix>:brake``.

`open_brake` chooses: shared with a Redis URL, local without.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from typing import Final

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.retry import Retry

from ..errors import TooManyRequests
from ..settings import Settings
from . import tracing
from .brake import _MAX_KEYS, Brake, LocalBrake
from .metrics import REDIS_DURATION, REDIS_ERRORS

__all__ = ["DEFAULT_BRAKE_TIMEOUT", "SharedBrake", "open_brake"]

log = logging.getLogger(__name__)

_SPAN: Final = {"db.system.name": "redis", "db.operation.name": "EVALSHA"}

DEFAULT_BRAKE_TIMEOUT: Final = 0.25
"""Deadline of one brake call to Redis, in seconds: a failed authentication waits at most this long on it."""

_PING_INTERVAL: Final = 1.0
"""A silent subscription is pinged after this long, and given up on when the PING is not answered in time."""

_BACKOFF_MAX: Final = 1.0
"""At most this long between attempts to subscribe again."""

_MAX_MESSAGE_BYTES: Final = 1024
"""A brake message is a number and a key; anything longer on the channel is not ours."""

# KEYS: the allowances' Redis keys. ARGV[1]: the capacity (failures), ARGV[2]: the drain rate (failures
# per second), ARGV[3]: the channel, ARGV[3 + i]: KEYS[i] as the service names it. Counts one failure per
# key; answers, per key, for how many seconds it is now braked ('0': not braked), as strings (a Lua
# number would be cut to an integer), and publishes "<seconds> <key>" for each braked one.
_SCRIPT: Final = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local answer = {}
for i, key in ipairs(KEYS) do
  local entry = redis.call('HMGET', key, 'level', 'at')
  local level = 0
  if entry[1] then
    level = math.max(0, tonumber(entry[1]) - (now - tonumber(entry[2])) * rate)
  end
  level = level + 1
  redis.call('HSET', key, 'level', string.format('%.6f', level), 'at', string.format('%.6f', now))
  redis.call('PEXPIRE', key, math.ceil(level / rate * 1000) + 1000)
  local over = level - (capacity - 1)
  if over > 0 then
    local seconds = string.format('%.6f', over / rate)
    redis.call('PUBLISH', ARGV[3], seconds .. ' ' .. ARGV[3 + i])
    answer[i] = seconds
  else
    answer[i] = '0'
  end
end
return answer
"""


class SharedBrake:
    """`Brake` over Redis, falling back to a `LocalBrake` of the same allowance while Redis is away.

    Construct it inside the running event loop: it starts its subscriber at once.
    """

    def __init__(
        self,
        url: str,
        *,
        failures: int,
        window_seconds: float,
        prefix: str = "gxrtc",
        timeout: float = DEFAULT_BRAKE_TIMEOUT,
        max_connections: int = 16,
        max_keys: int = _MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        loop = asyncio.get_running_loop()
        if failures <= 0 or window_seconds <= 0 or timeout <= 0 or max_keys <= 0:
            raise ValueError("failures, window_seconds, timeout and max_keys must be positive")
        self._capacity = float(failures)
        self._rate = failures / window_seconds
        self._window = window_seconds
        self._prefix = f"{prefix}:brake:"
        self._channel = f"{prefix}:brake"
        self._timeout = timeout
        self._max_keys = max_keys
        self._clock = clock
        self._local = LocalBrake(failures=failures, window_seconds=window_seconds, max_keys=max_keys, clock=clock)
        self._braked_until: dict[str, float] = {}
        """Per key braked by any process: until when (this process's monotonic clock), oldest first."""
        # A bounded, blocking pool: a burst of failures waits its turn (within the deadline, then the
        # local brake decides) rather than opening a connection to Redis each. The subscription holds one.
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
        self._away: set[str] = set()
        """What of Redis failed last time: "counting" (the script), "listening" (the subscription)."""
        self._closed = False
        self._subscribed = asyncio.Event()
        self._listener = loop.create_task(self._listen_forever(), name=f"{prefix}-brake-listener")

    @property
    def falling_back(self) -> bool:
        """Whether Redis is away (the last failure could not be counted there, or the subscription is down)."""
        return bool(self._away)

    @property
    def braked_keys(self) -> int:
        """How many keys this process holds as braked by the deployment (expired ones not yet dropped included)."""
        return len(self._braked_until)

    async def wait_subscribed(self) -> None:
        """Returns once the subscription is listening (for tests and start-up)."""
        await self._subscribed.wait()

    async def check(self, keys: Sequence[str]) -> None:
        braked = self._braked_until
        if braked:  # the usual case is an empty map: no key is braked anywhere
            now = self._clock()
            latest = 0.0
            for key in keys:
                until = braked.get(key)
                if until is None:
                    continue
                if until <= now:
                    del braked[key]
                elif until > latest:
                    latest = until
            if latest:
                retry_after = max(1, math.ceil(latest - now))
                raise TooManyRequests(
                    f"too many failed authentications, try again in {retry_after} s", retry_after=retry_after
                )
        await self._local.check(keys)

    async def failed(self, keys: Sequence[str]) -> None:
        # Counted locally too, so a fallback starts from what this process saw rather than from nothing.
        await self._local.failed(keys)
        answer = await self._count(keys)
        if answer is None:
            return
        for key, seconds in zip(keys, answer, strict=True):
            self._brake(key, float(seconds))

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._listener
        try:
            async with asyncio.timeout(self._timeout):
                await self._redis.aclose()
        except (TimeoutError, RedisError, OSError):
            log.debug("brake: closing the Redis connection failed", exc_info=True)

    # -- the map of braked keys ----------------------------------------------------------------

    def _brake(self, key: str, seconds: float) -> None:
        if not seconds > 0:  # also refuses NaN
            return
        now = self._clock()
        # Never longer than a whole window: one allowance refills in it, whatever a message claims.
        until = now + min(seconds, self._window)
        braked = self._braked_until
        earlier = braked.pop(key, None)
        if earlier is not None and earlier > until:
            until = earlier
        # Expired entries go first; then the oldest, so a guesser rotating keys cannot grow the map.
        while braked:
            oldest = next(iter(braked))
            if braked[oldest] > now and len(braked) < self._max_keys:
                break
            del braked[oldest]
        braked[key] = until

    # -- counting in Redis -----------------------------------------------------------------------

    async def _count(self, keys: Sequence[str]) -> list[bytes] | None:
        started = time.perf_counter()
        try:
            # A child of the request's span: the authentication waited on it.
            with tracing.client_span("EVALSHA", _SPAN) as span:
                try:
                    async with asyncio.timeout(self._timeout):
                        answer: list[bytes] = await self._script(
                            keys=[self._prefix + key for key in keys],
                            args=[self._capacity, self._rate, self._channel, *keys],
                        )
                except (TimeoutError, RedisError, OSError) as exc:
                    tracing.failed(span, type(exc).__name__)
                    raise
        except (TimeoutError, RedisError, OSError) as exc:
            REDIS_ERRORS.labels("brake_fail").inc()
            self._went_away("counting", exc)
            return None
        finally:
            REDIS_DURATION.labels("brake_fail").observe(time.perf_counter() - started)
        self._came_back("counting")
        return answer

    def _went_away(self, part: str, exc: BaseException) -> None:
        if not self._away:
            log.warning(
                "brake: Redis did not answer (%s: %s); this process counts failed authentications alone meanwhile",
                type(exc).__name__,
                exc,
            )
        else:
            log.debug("brake: Redis still away (%s: %s: %s)", part, type(exc).__name__, exc)
        self._away.add(part)

    def _came_back(self, part: str) -> None:
        if part not in self._away:
            return
        self._away.discard(part)
        if not self._away:
            log.warning("brake: Redis answers again; failed authentications are counted for every process")

    # -- listening ---------------------------------------------------------------------------------

    async def _listen_forever(self) -> None:
        failures = 0
        while not self._closed:
            pubsub = self._redis.pubsub()
            try:
                await self._subscribe(pubsub)
                self._came_back("listening")
                self._subscribed.set()
                failures = 0
                await self._pump(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # RedisError, OSError, TimeoutError, a protocol surprise: subscribe again
                if self._closed:
                    break
                self._subscribed.clear()
                REDIS_ERRORS.labels("brake_subscribe").inc()
                self._went_away("listening", exc)
                failures += 1
            finally:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    async with asyncio.timeout(self._timeout):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
            # Exponential backoff with jitter: 50 ms, 100 ms, ... up to _BACKOFF_MAX.
            delay = min(_BACKOFF_MAX, 0.05 * 2 ** min(failures, 16))
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    async def _subscribe(self, pubsub: PubSub) -> None:
        async with asyncio.timeout(self._timeout * 2):
            await pubsub.subscribe(self._channel)
            while True:  # the confirmation: from then on no brake is missed
                message = await pubsub.get_message(timeout=self._timeout)
                if message is not None and message.get("type") == "subscribe":
                    return

    async def _pump(self, pubsub: PubSub) -> None:
        """Records brakes until the connection fails (raises); a silent Redis is pinged, then given up on."""
        ping_sent: float | None = None
        while True:
            message = await pubsub.get_message(timeout=_PING_INTERVAL)
            now = time.monotonic()
            if message is None:
                connection = pubsub.connection
                if connection is None or not connection.is_connected:
                    # Never let redis-py reconnect it by itself: the outage would go unnoticed.
                    raise RedisConnectionError("the pub/sub connection closed")
                if ping_sent is None:
                    await pubsub.ping()
                    ping_sent = now
                elif now - ping_sent > self._timeout:
                    raise TimeoutError(f"Redis did not answer a PING within {self._timeout}s")
                continue
            kind = message.get("type")
            if kind == "message":
                ping_sent = None  # it is talking
                self._heard(message["data"])
            elif kind == "pong":
                ping_sent = None
            elif kind in ("unsubscribe", "punsubscribe"):
                raise RedisConnectionError(f"unsubscribed from {self._channel}")

    def _heard(self, data: object) -> None:
        if not isinstance(data, bytes) or len(data) > _MAX_MESSAGE_BYTES:
            log.warning("brake: ignoring a malformed message on %s", self._channel)
            return
        seconds, _, key = data.partition(b" ")
        try:
            self._brake(key.decode(), float(seconds))
        except ValueError:  # not a number, not UTF-8
            log.warning("brake: ignoring a malformed message on %s", self._channel)


def open_brake(settings: Settings, *, prefix: str = "gxrtc", timeout: float = DEFAULT_BRAKE_TIMEOUT) -> Brake:
    """Shared through Redis with `GXRTC_REDIS_URL`, else this process's own. Call it in the running loop."""
    if settings.redis_url:
        return SharedBrake(
            settings.redis_url,
            failures=settings.auth_brake_failures,
            window_seconds=settings.auth_brake_window_seconds,
            prefix=prefix,
            timeout=timeout,
        )
    return LocalBrake(failures=settings.auth_brake_failures, window_seconds=settings.auth_brake_window_seconds)

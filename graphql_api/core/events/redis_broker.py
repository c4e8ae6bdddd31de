"""The Redis broker (every instance): one channel, sequences and de-duplication in one Lua script, reconnects.

Its Redis calls are client spans (`tracing`): each publish (the script), a child of the request that
published, and each subscription of the reader, a span of its own. The reader's reads and pings are not:
they are one long wait, not calls anyone waits on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from dataclasses import replace
from typing import Final

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.retry import Retry

from .. import tracing
from ..metrics import EVENTS_DEDUPLICATED, EVENTS_PUBLISHED, REDIS_DURATION, REDIS_ERRORS
from .memory import Broker, InProcessBroker, _LocalSubscribers
from .model import (
    DEFAULT_BACKOFF_MAX,
    DEFAULT_DEDUPE_TTL,
    DEFAULT_PING_INTERVAL,
    DEFAULT_QUEUE_SIZE,
    DEFAULT_SEQUENCE_TTL,
    DEFAULT_TIMEOUT,
    BrokerUnavailable,
    RoomEvent,
)
from .subscription import _FanOut

log = logging.getLogger(__name__)

_PUBLISH_SPAN: Final = {"db.system.name": "redis", "db.operation.name": "EVALSHA"}
_SUBSCRIBE_SPAN: Final = {"db.system.name": "redis", "db.operation.name": "SUBSCRIBE"}


_PUBLISH_SCRIPT: Final = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return 0
end
local seq
if redis.call('EXISTS', KEYS[2]) == 1 then
  seq = string.format('%d', redis.call('INCR', KEYS[2]))
else
  local now = redis.call('TIME')
  seq = now[1] .. string.format('%06d', tonumber(now[2]))
  redis.call('SET', KEYS[2], seq)
end
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4] .. seq .. ARGV[5])
return seq
"""


class RedisBroker(_LocalSubscribers, Broker):
    """Instances sharing one Redis: publish goes through Redis, and each instance delivers what it reads.

    One pub/sub connection per instance (not per subscriber) reads the one events channel; commands use a
    small pool. Construct it inside the running event loop: it starts its reader task at once.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "gxrtc",
        queue_size: int = DEFAULT_QUEUE_SIZE,
        dedupe_ttl: float = DEFAULT_DEDUPE_TTL,
        sequence_ttl: float = DEFAULT_SEQUENCE_TTL,
        timeout: float = DEFAULT_TIMEOUT,
        ping_interval: float = DEFAULT_PING_INTERVAL,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
        max_connections: int = 32,
    ) -> None:
        loop = asyncio.get_running_loop()
        if timeout <= 0 or ping_interval <= 0 or backoff_max <= 0:
            raise ValueError("timeout, ping_interval and backoff_max must be positive")
        self._prefix = prefix
        self._channel = f"{prefix}:events"
        self._dedupe_ms = max(1, round(dedupe_ttl * 1000))
        self._sequence_s = max(1, math.ceil(sequence_ttl))
        self._timeout = timeout
        self._ping_interval = ping_interval
        self._backoff_max = backoff_max
        # No retries inside redis-py: a silent reconnect of the pub/sub connection would hide lost events,
        # and a retry loop could outlast our timeout. RESP2 works with every Redis and proxy that has pub/sub.
        # A blocking pool: a burst of publishes beyond max_connections waits its turn (within the timeout).
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            protocol=2,
            client_name=f"{prefix}-events",
        )
        self._redis = aioredis.Redis.from_pool(pool)
        self._publish_script = self._redis.register_script(_PUBLISH_SCRIPT)
        self._fanout = _FanOut(queue_size)
        self._healthy = False
        self._ready = asyncio.Event()
        self._closed = False
        self._ever_connected = False
        self._reconnects = 0
        self._reader = loop.create_task(self._read_forever(), name=f"{prefix}-events-reader")

    # -- Broker ----------------------------------------------------------------------------

    @property
    def healthy(self) -> bool:
        return self._healthy and not self._closed

    @property
    def reconnects(self) -> int:
        """How many times the pub/sub connection was re-established after it broke."""
        return self._reconnects

    async def wait_ready(self) -> None:
        await self._ready.wait()
        if self._closed:
            raise BrokerUnavailable("the event broker is closed")

    async def publish(self, event: RoomEvent) -> RoomEvent | None:
        if self._closed:
            raise BrokerUnavailable("the event broker is closed")
        head, tail = event._wire_parts()
        keys = [f"{self._prefix}:seen:{event.id}", f"{self._prefix}:seq:{event.room}"]
        args: list[str | int] = [self._dedupe_ms, self._sequence_s, self._channel, head, tail]
        started = time.perf_counter()
        with tracing.client_span("EVALSHA", _PUBLISH_SPAN) as span:
            try:
                async with asyncio.timeout(self._timeout):
                    try:
                        result = await self._publish_script(keys=keys, args=args)
                    except RedisConnectionError:
                        # Most likely a pooled connection from before a Redis restart; one fresh try. Safe: a
                        # script that did run the first time makes this one a duplicate.
                        result = await self._publish_script(keys=keys, args=args)
            except TimeoutError as exc:
                REDIS_ERRORS.labels("publish").inc()
                tracing.failed(span, "TimeoutError")
                raise BrokerUnavailable("the event broker did not answer in time") from exc
            except (RedisError, OSError) as exc:
                REDIS_ERRORS.labels("publish").inc()
                tracing.failed(span, type(exc).__name__)
                raise BrokerUnavailable() from exc
            finally:
                REDIS_DURATION.labels("publish").observe(time.perf_counter() - started)
        sequence = int(result)
        if sequence == 0:
            EVENTS_DEDUPLICATED.inc()
            return None
        EVENTS_PUBLISHED.labels(event.source).inc()
        return replace(event, sequence=sequence)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._healthy = False
        self._ready.set()  # wakes wait_ready(), which then raises
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        self._fanout.close_all()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._timeout):
                await self._redis.aclose()

    # -- the reader ------------------------------------------------------------------------

    async def _read_forever(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        down_since: float | None = None
        while not self._closed:
            pubsub = self._redis.pubsub()
            try:
                await self._subscribe(pubsub)
                self._connected(down_since, loop.time())
                down_since, failures = None, 0
                await self._pump(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # RedisError, OSError, TimeoutError, a protocol surprise: reconnect
                if self._closed:
                    break
                self._ready.clear()
                if down_since is None:
                    down_since = loop.time()
                    marked = self._fanout.mark_all_lost()
                    log.warning(
                        "room events: %s Redis (%s: %s); %d subscribers here must resync; retrying",
                        "lost the connection to" if self._ever_connected else "cannot reach",
                        type(exc).__name__,
                        exc,
                        marked,
                    )
                else:
                    log.debug("room events: Redis still unreachable (%s: %s)", type(exc).__name__, exc)
                self._healthy = False
                failures += 1
                REDIS_ERRORS.labels("subscribe").inc()
            finally:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    async with asyncio.timeout(self._timeout):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
            # Exponential backoff with jitter: 50 ms, 100 ms, ... up to backoff_max.
            delay = min(self._backoff_max, 0.05 * 2 ** min(failures, 16))
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    async def _subscribe(self, pubsub: PubSub) -> None:
        with tracing.client_span("SUBSCRIBE", _SUBSCRIBE_SPAN) as span:
            try:
                async with asyncio.timeout(self._timeout * 2):
                    await pubsub.subscribe(self._channel)
                    while True:  # the confirmation; nothing is delivered before it
                        message = await pubsub.get_message(timeout=self._timeout)
                        if message is not None and message.get("type") == "subscribe":
                            return
            except Exception as exc:
                tracing.failed(span, type(exc).__name__)
                raise

    def _connected(self, down_since: float | None, now: float) -> None:
        # Whatever was published while this instance was not subscribed is gone: everyone who subscribed
        # before now resyncs (a no-op for those still lost; consumers who resynced during the outage
        # must do it again).
        marked = self._fanout.mark_all_lost()
        if down_since is not None:
            self._reconnects += 1
            log.warning(
                "room events: Redis connection back after %.1fs; %d subscribers here resync", now - down_since, marked
            )
        self._healthy = True
        self._ever_connected = True
        self._ready.set()

    async def _pump(self, pubsub: PubSub) -> None:
        """Deliver messages until the connection fails (raises); a silent Redis is pinged, then given up on."""
        loop = asyncio.get_running_loop()
        ping_sent: float | None = None
        while True:
            message = await pubsub.get_message(timeout=self._ping_interval)
            now = loop.time()
            if message is None:
                connection = pubsub.connection
                if connection is None or not connection.is_connected:
                    # Never let redis-py reconnect this connection by itself: that would hide lost events.
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
                try:
                    event = RoomEvent.from_wire(message["data"])
                except ValueError as exc:
                    log.warning("room events: ignoring a malformed message on %s: %s", self._channel, exc)
                    continue
                self._fanout.deliver(event)
            elif kind == "pong":
                ping_sent = None
            elif kind in ("unsubscribe", "punsubscribe"):
                raise RedisConnectionError(f"unsubscribed from {self._channel}")


def open_broker(
    redis_url: str | None,
    *,
    queue_size: int = DEFAULT_QUEUE_SIZE,
    dedupe_ttl: float = DEFAULT_DEDUPE_TTL,
    sequence_ttl: float = DEFAULT_SEQUENCE_TTL,
    prefix: str = "gxrtc",
    timeout: float = DEFAULT_TIMEOUT,
) -> Broker:
    """A :class:`RedisBroker` when a URL is given, else an :class:`InProcessBroker`.

    Call it inside the running event loop (the app's lifespan). ``prefix`` and ``timeout`` matter to Redis only.
    """
    if redis_url:
        return RedisBroker(
            redis_url,
            prefix=prefix,
            queue_size=queue_size,
            dedupe_ttl=dedupe_ttl,
            sequence_ttl=sequence_ttl,
            timeout=timeout,
        )
    return InProcessBroker(queue_size=queue_size, dedupe_ttl=dedupe_ttl, sequence_ttl=sequence_ttl)

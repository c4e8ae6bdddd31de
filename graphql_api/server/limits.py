"""What the service lets in, as pure ASGI so it covers REST and GraphQL alike.

- `BodyIntake`: a request's whole body is read, within its cap and its
  deadline, before anything downstream (admission, authentication, parsing)
  sees the request. A declared Content-Length over the cap is refused at once,
  a body that streams past it as soon as the cap is crossed, one that does not
  arrive in time gets 408 and its connection closed. So a client that opens a
  request and then sends nothing, or a trickle, holds a socket and nothing
  else; uploads given up by their clients are counted, not logged as errors.
- `Admission`: load shedding (overall and per client address) and draining
  on shutdown. A request counts only once its body is in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core.metrics import REQUESTS_SHED
from ..errors import GxrtcError, PayloadTooLarge, RequestTimeout, ServiceUnavailable, TooManyRequests

__all__ = ["Admission", "BodyIntake", "Gate", "Tally"]

log = logging.getLogger(__name__)

Refuse = Callable[[Scope, GxrtcError], Response]


class Tally:
    """Events that are a client's doing, not ours: counted, and logged as one line at most every `every` seconds."""

    def __init__(self, what: str, *, every: float = 10.0) -> None:
        self.what = what
        self.total = 0
        self._every = every
        self._logged_at = float("-inf")

    def count(self, scope: Scope) -> None:
        self.total += 1
        now = time.monotonic()
        if now - self._logged_at >= self._every:
            self._logged_at = now
            log.warning("%s (last: %s %s); %d so far", self.what, scope["method"], scope["path"], self.total)


class BodyIntake:
    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout_seconds: float, refuse: Refuse) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds
        self.refuse = refuse
        self.aborted = Tally("uploads given up by their clients")
        self.late = Tally("bodies that did not arrive in time (408)")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        has_body = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    await self._refuse(scope, send, PayloadTooLarge(self.max_bytes))
                    return
                has_body = has_body or int(value) > 0
            elif name == b"transfer-encoding":
                has_body = True
        if not has_body:
            await self.app(scope, receive, send)
            return
        try:
            async with asyncio.timeout(self.timeout_seconds):
                body = await self._read(receive)
        except TimeoutError:
            self.late.count(scope)
            # Closed: the rest of a late body would otherwise be read as the next request's.
            await self._refuse(scope, send, RequestTimeout(self.timeout_seconds), close=True)
            return
        if body is None:
            self.aborted.count(scope)
            return
        if len(body) > self.max_bytes:
            await self._refuse(scope, send, PayloadTooLarge(self.max_bytes))
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body (or the first bytes past the cap); None if the client went away."""
        message = await receive()
        if message["type"] != "http.request":
            return None
        body: bytes = message.get("body", b"")
        if not message.get("more_body"):
            return body
        chunks = bytearray(body)
        while len(chunks) <= self.max_bytes:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunks += message.get("body", b"")
            if not message.get("more_body"):
                break
        return bytes(chunks)

    async def _refuse(self, scope: Scope, send: Send, error: GxrtcError, *, close: bool = False) -> None:
        # Without "Connection: close" for a 413: closing with the body unread makes the kernel reset
        # the connection, and clients that send the whole body first would see a reset, not the
        # 413. uvicorn discards the rest of the body on a kept-alive connection instead.
        response = self.refuse(scope, error)
        if close:
            response.headers["connection"] = "close"
        await response(scope, _no_body, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for the app: the body read already, then what the connection says next (its end)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


@dataclass
class Gate:
    """What decides whether a new request is let in: load, and whether we are shutting down."""

    max_in_flight: int
    max_in_flight_per_client: int
    in_flight: int = 0
    draining: bool = False
    by_client: dict[str, int] = field(default_factory=dict)
    """Requests in progress per client address (the proxy's forwarded one, if uvicorn trusts the proxy)."""


# Health checks must answer whatever the load: an orchestrator that cannot reach
# them would restart a process that is merely busy. Metrics too: an overload is when they are wanted.
_ALWAYS_ADMITTED = frozenset({"/healthz", "/readyz", "/metrics"})


class Admission:
    """Sheds load past `max_in_flight` and refuses new work while draining, both as 503 in the envelope;
    a client address past its own share gets 429, so no one client can take every slot.

    Cheaper and clearer than uvicorn's --limit-concurrency, whose 503 is plain text.
    """

    def __init__(self, app: ASGIApp, gate: Gate, refuse: Refuse) -> None:
        self.app = app
        self.gate = gate
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _ALWAYS_ADMITTED:
            await self.app(scope, receive, send)
            return
        gate = self.gate
        if gate.draining:
            response = self.refuse(
                scope, ServiceUnavailable("the service is shutting down, try again", reason="shutting down")
            )
            response.headers["connection"] = "close"
            REQUESTS_SHED.labels("draining").inc()
            await response(scope, receive, send)
            return
        if gate.in_flight >= gate.max_in_flight:
            error = ServiceUnavailable("the service is overloaded, try again shortly", reason="overloaded")
            REQUESTS_SHED.labels("overloaded").inc()
            await self.refuse(scope, error)(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else ""
        by_client = gate.by_client
        held = by_client.get(address, 0)
        if held >= gate.max_in_flight_per_client:
            refused = TooManyRequests("too many requests in progress from your address, try again", retry_after=1)
            REQUESTS_SHED.labels("client_share").inc()
            await self.refuse(scope, refused)(scope, receive, send)
            return
        by_client[address] = held + 1
        gate.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            gate.in_flight -= 1
            left = by_client[address] - 1
            if left:
                by_client[address] = left
            else:
                del by_client[address]

"""What the service lets in, as pure ASGI so it covers REST and GraphQL alike.

- `BodyLimit`: a cap on request bodies, enforced before anything buffers or
  parses them. A declared Content-Length over the cap is refused at once, and a
  body that streams past it (chunked, or lying about its length) fails as soon
  as the cap is crossed.
- `Admission`: load shedding and draining on shutdown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import PayloadTooLarge, ServiceUnavailable

__all__ = ["Admission", "BodyLimit", "Gate"]


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, refuse: Callable[[Scope, PayloadTooLarge], Response]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    await self._refuse(scope, send)
                    return
                break
        seen = 0
        limit = self.max_bytes

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Raised inside the app's own read, so its error handler answers in the envelope.
                    raise PayloadTooLarge(limit)
            return message

        await self.app(scope, limited, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        # No "Connection: close": closing with the body unread makes the kernel reset the
        # connection, and clients that send the whole body first would see a reset, not the
        # 413. uvicorn discards the rest of the body on a kept-alive connection instead.
        await self.refuse(scope, PayloadTooLarge(self.max_bytes))(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


@dataclass
class Gate:
    """What decides whether a new request is let in: load, and whether we are shutting down."""

    max_in_flight: int
    in_flight: int = 0
    draining: bool = False


# Health checks must answer whatever the load: an orchestrator that cannot reach
# them would restart a process that is merely busy.
_ALWAYS_ADMITTED = frozenset({"/healthz", "/readyz"})


class Admission:
    """Sheds load past `max_in_flight` and refuses new work while draining, both as 503 in the envelope.

    Cheaper and clearer than uvicorn's --limit-concurrency, whose 503 is plain text.
    """

    def __init__(self, app: ASGIApp, gate: Gate, refuse: Callable[[Scope, ServiceUnavailable], Response]) -> None:
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
            await response(scope, receive, send)
            return
        if gate.in_flight >= gate.max_in_flight:
            error = ServiceUnavailable("the service is overloaded, try again shortly", reason="overloaded")
            await self.refuse(scope, error)(scope, receive, send)
            return
        gate.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            gate.in_flight -= 1

"""A cap on request bodies, enforced before anything buffers or parses them.

Pure ASGI, so it covers REST and GraphQL alike: a declared Content-Length over
the cap is refused at once, and a body that streams past it (chunked, or lying
about its length) fails as soon as the cap is crossed.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import PayloadTooLarge

__all__ = ["BodyLimit"]


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
        response = self.refuse(scope, PayloadTooLarge(self.max_bytes))
        # The unread body stays on the wire; this connection cannot be reused.
        response.headers["connection"] = "close"
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}

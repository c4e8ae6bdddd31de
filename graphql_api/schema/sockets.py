"""Strawberry's WebSocket protocol handlers, with what the service adds to both protocols.

**A message that is not a JSON object** (`1`, `null`, `[]`), or whose payload
is not one (or a subscription's without a string query), closes the socket with
4400, graphql-transport-ws's "bad request" (the legacy protocol answers as it
does for other malformed messages), instead of failing inside Strawberry.

**A credential's expiry ends what it opened.** A socket authenticates once, in
connection_init, and may stay open far longer than its JWT is valid; REST with
the same JWT would answer 401 by then. So when the credential's `exp` (with the
verifier's leeway) passes, the socket's operations are stopped and it is closed
with 4403, the close code graphql-transport-ws gives a refused connection (and
the one this service already uses for a bad credential in connection_init); the
client reconnects with a fresh credential. A subscription asked for after
expiry, should it come before the close, is refused by the context like any
call (UNAUTHENTICATED).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from .._speedups._internals import (
    BaseGraphQLTransportWSHandler,
    BaseGraphQLWSHandler,
    ConnectionInitMessage,
    LegacyInitMessage,
)
from .context import Context

__all__ = ["EXPIRED_CLOSE_CODE", "ExpiringLegacyWSHandler", "ExpiringTransportWSHandler"]

EXPIRED_CLOSE_CODE: Final = 4403
_EXPIRED_REASON: Final = "credential expired"


async def _watch(context: Any, close: Callable[[], Awaitable[None]]) -> asyncio.Task[None] | None:
    """A task that calls `close` when the socket's credential expires; None for one that does not."""
    if not isinstance(context, Context):
        return None
    expires_at = (await context.principal()).expires_at
    if expires_at is None:
        return None

    async def close_at_expiry() -> None:
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        await close()

    return asyncio.create_task(close_at_expiry())


async def _stop(task: asyncio.Task[None] | None) -> None:
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _well_formed(message: object) -> bool:
    if not isinstance(message, dict):
        return False
    payload = message.get("payload")
    if payload is None:
        return True
    if not isinstance(payload, dict):
        return False
    if message.get("type") in ("subscribe", "start"):
        return (
            isinstance(payload.get("query"), str)
            and isinstance(payload.get("variables"), dict | None)
            and isinstance(payload.get("operationName"), str | None)
        )
    return True


class ExpiringTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, closed with 4403 when the credential of connection_init expires."""

    _expiry: asyncio.Task[None] | None = None

    async def handle_message(self, message: Any) -> None:
        if not _well_formed(message):
            await self.handle_invalid_message("WebSocket message must be a JSON object, and its payload one too")
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self._expiry is None:
            self._expiry = await _watch(self.context, self._expire)

    async def _expire(self) -> None:
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        await self.websocket.close(code=EXPIRED_CLOSE_CODE, reason=_EXPIRED_REASON)

    async def shutdown(self) -> None:
        await _stop(self._expiry)
        await super().shutdown()


class ExpiringLegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """The legacy graphql-ws protocol, closed the same way."""

    _expiry: asyncio.Task[None] | None = None

    async def handle_message(self, message: Any) -> None:
        if not _well_formed(message):
            await self.send_message({"type": "connection_error"})
            await self.websocket.close(code=4400, reason="WebSocket message must be a JSON object")
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: LegacyInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self._expiry is None:
            self._expiry = await _watch(self.context, self._expire)

    async def _expire(self) -> None:
        await self.cleanup()
        await self.websocket.close(code=EXPIRED_CLOSE_CODE, reason=_EXPIRED_REASON)

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            await _stop(self._expiry)

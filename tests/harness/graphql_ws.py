"""A small graphql-transport-ws client for subscription tests, on `websockets`."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import websockets
from websockets.asyncio.client import ClientConnection

__all__ = ["Received", "SubscriptionClient"]


@dataclass(frozen=True)
class Received:
    at: float
    """time.monotonic() when it arrived."""
    payload: dict[str, Any]


@dataclass
class SubscriptionClient:
    url: str
    authorization: str | None
    connection: ClientConnection | None = None
    inbox: dict[str, asyncio.Queue[Received]] = field(default_factory=dict)
    closed: asyncio.Future[tuple[int, str]] | None = None
    _reader: asyncio.Task[None] | None = None
    _next_id: int = 0

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def connect(self, *, expect_ack: bool = True) -> None:
        self.connection = await websockets.connect(self.url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        self.closed = asyncio.get_running_loop().create_future()
        payload = {"Authorization": self.authorization} if self.authorization else {}
        await self.connection.send(json.dumps({"type": "connection_init", "payload": payload}))
        self._reader = asyncio.create_task(self._read())
        if expect_ack:
            ack = await self.next("__connection__")
            assert ack.payload["type"] == "connection_ack", ack

    async def _read(self) -> None:
        assert self.connection is not None
        assert self.closed is not None
        try:
            async for raw in self.connection:
                # `websockets` gives bytes for a binary frame, which no browser client would parse.
                assert isinstance(raw, str), f"a binary frame: {raw[:200]!r}"
                message = json.loads(raw)
                key = message.get("id", "__connection__")
                self.inbox.setdefault(key, asyncio.Queue()).put_nowait(Received(time.monotonic(), message))
        except websockets.ConnectionClosed:
            pass
        finally:
            if not self.closed.done():
                close = self.connection.close_code or 0, self.connection.close_reason or ""
                self.closed.set_result(close)

    async def subscribe(self, query: str, **variables: Any) -> str:
        assert self.connection is not None
        self._next_id += 1
        key = str(self._next_id)
        self.inbox.setdefault(key, asyncio.Queue())
        message = {"id": key, "type": "subscribe", "payload": {"query": query, "variables": variables}}
        await self.connection.send(json.dumps(message))
        return key

    async def next(self, key: str, timeout: float = 10) -> Received:
        queue = self.inbox.setdefault(key, asyncio.Queue())
        return await asyncio.wait_for(queue.get(), timeout)

    async def next_event(self, key: str, timeout: float = 10) -> tuple[float, dict[str, Any]]:
        """The next `next` payload's roomEvents, with its arrival time; fails on errors."""
        received = await self.next(key, timeout)
        assert received.payload["type"] == "next", received.payload
        assert "errors" not in received.payload["payload"], received.payload
        return received.at, received.payload["payload"]["data"]["roomEvents"]

    async def aclose(self) -> None:
        if self.connection is not None:
            await self.connection.close()
        if self._reader is not None:
            await self._reader

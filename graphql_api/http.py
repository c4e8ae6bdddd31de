"""uvicorn's httptools protocol, sending each response's head and body in one write.

uvicorn writes the status line and headers as soon as the app starts its
response, and the body in a second write: two system calls and two TCP
segments for every small JSON answer, each woken up and acknowledged on its
own by the client's kernel. Held back until the first body bytes (or the end
of the response, or the connection's close), the head goes out with the body.
The bytes on the wire are the same; only their grouping changes.

Selected with `--http graphql_api.http:HttpToolsProtocol`, as `python -m
graphql_api` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from uvicorn.protocols.http import httptools_impl

__all__ = ["HttpToolsProtocol"]

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class _HeadWithBody:
    """The transport as one request/response cycle sees it: its first write (the head) waits for the next."""

    __slots__ = ("_held", "_transport", "_waiting_for_head")

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._held: bytes | None = None
        self._waiting_for_head = True

    def write(self, data: bytes) -> None:
        if self._waiting_for_head:
            if data == _CONTINUE:  # an interim answer, before the head: it must go now
                self._transport.write(data)
                return
            self._waiting_for_head = False
            self._held = data
            return
        held = self._held
        if held is not None:
            self._held = None
            data = held + data
        self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HttpToolsProtocol(httptools_impl.HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # asyncio turns Nagle off only for sockets it knows to be TCP; a listening socket
        # handed down by uvicorn's supervisor (several workers) comes with protocol 0, and
        # every small answer then waits for the client's delayed ACK (40 ms).
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        # The cycle's task is created (or queued behind a pipelined one) but has not run: every
        # write of this response goes through the proxy.
        if cycle is None or cycle.transport is not self.transport:
            return
        proxy = _HeadWithBody(self.transport)
        cycle.transport = proxy  # type: ignore[assignment]  # duck-typed: write, close and the rest delegated
        on_response = cycle.on_response

        def complete() -> None:
            proxy.flush()  # a response without body bytes (HEAD, 204, 304)
            on_response()

        cycle.on_response = complete

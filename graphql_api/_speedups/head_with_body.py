"""Each response's head and body in one write, in place of uvicorn's two.

uvicorn writes the status line and headers as soon as the app starts its
response, and the body in a second write: two system calls and two TCP
segments for every small JSON answer, each woken up and acknowledged on its
own by the client's kernel. Held back until the first body bytes (or the end
of the response, or the connection's close), the head goes out with the body.
The bytes on the wire are the same; only their grouping changes.

Proven by tests/unit/speedups/test_http_protocol.py (the same bytes, one write). Off
with `GXRTC_SPEEDUPS=off`: uvicorn's own writes.
"""

from __future__ import annotations

from typing import Any

__all__ = ["hold_head_until_body"]

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


def hold_head_until_body(cycle: Any, transport: Any) -> None:
    """Make the response `cycle` (uvicorn's, for a request whose head is complete) write its head with its body."""
    # The cycle's task is created (or queued behind a pipelined one) but has not run: every
    # write of this response goes through the proxy.
    if cycle is None or cycle.transport is not transport:
        return
    proxy = _HeadWithBody(transport)
    cycle.transport = proxy  # duck-typed: write, close and the rest delegated
    on_response = cycle.on_response

    def complete() -> None:
        proxy.flush()  # a response without body bytes (HEAD, 204, 304)
        on_response()

    cycle.on_response = complete

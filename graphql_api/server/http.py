"""uvicorn's httptools protocol with a deadline on request heads and a share of connections per client.

Each response's head and body also leave in one write unless the speed-ups
are off (see `graphql_api._speedups.head_with_body`).

uvicorn bounds how long a connection may idle between requests, but not how
long one may take to send a request's head: a client could open connections
and send nothing, or a head a byte at a time, for as long as it liked. Here a
head must be complete within `GXRTC_HEADER_TIMEOUT_SECONDS` of the
connection's opening or of the request's first byte, or the connection is
closed. One timer per connection, re-armed only when it fires, so a busy
keep-alive connection does not pay for a timer per request.

One client address may hold at most `GXRTC_MAX_CONNECTIONS_PER_CLIENT`
connections at once (its next ones are closed as they open), so no one client
can take every file descriptor the process has. Proxies uvicorn trusts
(`FORWARDED_ALLOW_IPS`) are exempt: their connections carry many clients,
each of which the app's own per-client limits see by its forwarded address.

Selected with `--http graphql_api.server.http:HttpToolsProtocol`, as `python -m
graphql_api` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket

from .. import _speedups
from .._speedups._internals import TrustedHosts, httptools_impl
from .._speedups.head_with_body import hold_head_until_body

__all__ = ["HttpToolsProtocol"]

HEADER_TIMEOUT_VARIABLE = "GXRTC_HEADER_TIMEOUT_SECONDS"
CONNECTIONS_PER_CLIENT_VARIABLE = "GXRTC_MAX_CONNECTIONS_PER_CLIENT"
"""Both read from the environment: uvicorn makes the protocol in each worker, where no settings object reaches."""
_DEFAULT_HEADER_TIMEOUT = 10.0
_DEFAULT_CONNECTIONS_PER_CLIENT = 256

log = logging.getLogger(__name__)
_HOLD_HEADS = _speedups.enabled()


@functools.cache
def _header_timeout() -> float:
    return float(os.environ.get(HEADER_TIMEOUT_VARIABLE) or _DEFAULT_HEADER_TIMEOUT)


@functools.cache
def _connections_per_client() -> int:
    return int(os.environ.get(CONNECTIONS_PER_CLIENT_VARIABLE) or _DEFAULT_CONNECTIONS_PER_CLIENT)


@functools.cache
def _proxies(trusted: str | tuple[str, ...]) -> TrustedHosts:
    return TrustedHosts(list(trusted) if isinstance(trusted, tuple) else trusted)


_open_by_client: dict[str, int] = {}
"""Connections open per client address, in this process (one event loop)."""


class HttpToolsProtocol(httptools_impl.HttpToolsProtocol):
    _head_started: float | None = None
    """When the head now being read began (its connection's opening, or its first byte); None between heads."""
    _head_timer: asyncio.TimerHandle | None = None
    heads_overdue = 0
    """Connections closed for a head that did not arrive in time, in this process."""
    refused_over_share = 0
    """Connections closed as they opened, their address holding its share already, in this process."""
    _counted_as: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # asyncio turns Nagle off only for sockets it knows to be TCP; a listening socket
        # handed down by uvicorn's supervisor (several workers) comes with protocol 0, and
        # every small answer then waits for the client's delayed ACK (40 ms).
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        if not self._take_share():
            HttpToolsProtocol.refused_over_share += 1
            log.debug("closed a connection from an address with its share open (%d so far)", self.refused_over_share)
            transport.close()
            return
        self._await_head()

    def _take_share(self) -> bool:
        address = self.client[0] if self.client else None
        if address is None:  # a Unix socket: a local proxy's
            return True
        config = self.config
        if config.proxy_headers:
            trusted = config.forwarded_allow_ips
            if address in _proxies(trusted if isinstance(trusted, str) else tuple(trusted)):
                return True
        held = _open_by_client.get(address, 0)
        if held >= _connections_per_client():
            return False
        _open_by_client[address] = held + 1
        self._counted_as = address
        return True

    def _give_back_share(self) -> None:
        address, self._counted_as = self._counted_as, None
        if address is not None:
            left = _open_by_client[address] - 1
            if left:
                _open_by_client[address] = left
            else:
                del _open_by_client[address]

    def handle_websocket_upgrade(self) -> None:
        # The socket now belongs to the WebSocket protocol, which will not report its end to us;
        # an unauthenticated socket is bounded by connection_init's deadline instead.
        self._give_back_share()
        self._head_started = None
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._give_back_share()
        self._head_started = None
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._await_head()

    def _await_head(self) -> None:
        self._head_started = self.loop.time()
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(_header_timeout(), self._check_head)

    def _check_head(self) -> None:
        self._head_timer = None
        started = self._head_started
        if started is None:
            return
        overdue_in = started + _header_timeout() - self.loop.time()
        if overdue_in > 0:  # a later head than the one the timer was set for
            self._head_timer = self.loop.call_later(overdue_in, self._check_head)
            return
        if not self.transport.is_closing():
            HttpToolsProtocol.heads_overdue += 1
            log.debug("closed a connection whose request head took too long (%d so far)", self.heads_overdue)
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._head_started = None
        super().on_headers_complete()
        if _HOLD_HEADS:
            hold_head_until_body(self.cycle, self.transport)

"""The HTTP protocol sends each answer's head and body in one write, and never loses or reorders bytes.

Driven in-process with a transport that records writes: what the client
receives must be what uvicorn's own protocol sends, grouped into fewer writes.
A real TCP socket checks that Nagle is off.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.protocols.http import httptools_impl
from uvicorn.server import ServerState

from graphql_api.server.http import HttpToolsProtocol

Scope = dict[str, Any]


class Transport(asyncio.Transport):
    def __init__(self, sock: socket.socket | None = None) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.sock = sock

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        extra = {"sockname": ("127.0.0.1", 8080), "peername": ("127.0.0.1", 50000), "socket": self.sock}
        return extra.get(name, default)


async def app(scope: Scope, receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for part in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/broken":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]})
        raise RuntimeError("failed half-way")
    answer = b"echo:" + body
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


async def exchange(
    protocol_class: type[httptools_impl.HttpToolsProtocol], *requests: bytes, sock: socket.socket | None = None
) -> Transport:
    config = Config(app=app, lifespan="off", log_level="critical", date_header=False, server_header=False)
    config.load()
    protocol = protocol_class(config=config, server_state=ServerState(), app_state={})
    transport = Transport(sock)
    protocol.connection_made(transport)
    for request in requests:
        protocol.data_received(request)
    for _ in range(200):
        await asyncio.sleep(0)
        if not protocol.tasks and not protocol.pipeline:
            break
    return transport


POST = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
REQUESTS = {
    "post": [POST],
    "head": [b"HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n"],
    "no content": [b"GET /empty HTTP/1.1\r\nHost: x\r\n\r\n"],
    "streamed": [b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"],
    "pipelined": [POST + b"GET /empty HTTP/1.1\r\nHost: x\r\n\r\n" + POST],
    "100-continue": [b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", b"hello"],
    "HTTP/1.0": [b"POST /echo HTTP/1.0\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"],
    "failing app": [b"GET /broken HTTP/1.1\r\nHost: x\r\n\r\n"],
}


@pytest.mark.parametrize("case", list(REQUESTS))
async def test_same_bytes_as_uvicorns_protocol(case: str) -> None:
    ours = await exchange(HttpToolsProtocol, *REQUESTS[case])
    theirs = await exchange(httptools_impl.HttpToolsProtocol, *REQUESTS[case])
    assert b"".join(ours.writes) == b"".join(theirs.writes)
    assert ours.closed == theirs.closed
    assert len(ours.writes) <= len(theirs.writes)


async def test_a_small_answer_is_one_write() -> None:
    writes = (await exchange(HttpToolsProtocol, POST)).writes
    assert len(writes) == 1
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert writes[0].endswith(b"\r\n\r\necho:hello")
    assert len((await exchange(httptools_impl.HttpToolsProtocol, POST)).writes) == 2  # what uvicorn does


async def test_answers_without_body_bytes_and_interim_answers_are_sent() -> None:
    for case in ("head", "no content", "failing app"):
        writes = (await exchange(HttpToolsProtocol, *REQUESTS[case])).writes
        assert len(writes) == 1
        assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n" if case != "no content" else b"HTTP/1.1 204 No Content\r\n")
    writes = (await exchange(HttpToolsProtocol, *REQUESTS["100-continue"])).writes
    assert writes == [b"HTTP/1.1 100 Continue\r\n\r\n", writes[1]]
    assert writes[1].endswith(b"echo:hello")
    pipelined = (await exchange(HttpToolsProtocol, *REQUESTS["pipelined"])).writes
    assert len(pipelined) == 3


async def test_nagle_is_off_even_on_a_socket_of_protocol_zero() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.create_connection(listener.getsockname()) as client:
            accepted, _ = listener.accept()
            # What uvicorn's workers get: the supervisor's socket, re-created from its descriptor.
            with accepted, socket.socket(fileno=accepted.detach()) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
                await exchange(HttpToolsProtocol, POST, sock=sock)
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
            client.close()

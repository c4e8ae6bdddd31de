"""Every message /graphql sends over a WebSocket is a text frame, checked on the wire.

A JSON parser that takes bytes cannot catch a binary frame: browsers hand binary frames to a
GraphQL client as a Blob, Node's `ws` as a Buffer, and neither parses them. So this client speaks
RFC 6455 over a bare TCP stream and records each frame's opcode, for both subscription protocols.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from tests.harness.service import Service

pytestmark = pytest.mark.integration

TEXT, BINARY, CLOSE = 0x1, 0x2, 0x8
SUBSCRIBE = "subscription($room: String) { roomEvents(room: $room) { kind sequence participants { identity } } }"


@dataclass(frozen=True)
class Frame:
    opcode: int
    payload: bytes


class RawWebSocket:
    """Just enough of a WebSocket client to see frame opcodes: masked sends, unfragmented reads."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, base_url: str, subprotocol: str) -> RawWebSocket:
        url = urlsplit(base_url)
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /graphql HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Protocol: {subprotocol}\r\n\r\n"
            ).encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def send_text(self, message: dict[str, object]) -> None:
        data = json.dumps(message).encode()
        mask = os.urandom(4)
        length = len(data)
        header = bytes([0x80 | TEXT]) + (
            bytes([0x80 | length]) if length < 126 else bytes([0x80 | 126]) + struct.pack("!H", length)
        )
        self.writer.write(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
        await self.writer.drain()

    async def read_frame(self, timeout: float = 15) -> Frame:
        async with asyncio.timeout(timeout):
            first, second = await self.reader.readexactly(2)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
            assert first & 0x80, "a fragmented frame"
            return Frame(first & 0x0F, await self.reader.readexactly(length))

    async def read_message(self) -> dict[str, object]:
        frame = await self.read_frame()
        assert frame.opcode == TEXT, f"opcode {frame.opcode:#x} (not a text frame): {frame.payload[:200]!r}"
        message: dict[str, object] = json.loads(frame.payload.decode())
        return message

    def close(self) -> None:
        self.writer.close()


async def test_graphql_transport_ws_sends_only_text_frames(service: Service) -> None:
    ws = await RawWebSocket.connect(service.base_url, "graphql-transport-ws")
    try:
        await ws.send_text({"type": "connection_init", "payload": {}})
        assert (await ws.read_message())["type"] == "connection_ack"
        await ws.send_text({"type": "ping"})
        assert (await ws.read_message())["type"] == "pong"
        room = "frames-" + os.urandom(4).hex()
        subscribe = {"query": SUBSCRIBE, "variables": {"room": room}}
        await ws.send_text({"id": "1", "type": "subscribe", "payload": subscribe})
        first = await ws.read_message()
        assert first["type"] == "next", first
        assert first["payload"] == {"data": {"roomEvents": {"kind": "SNAPSHOT", "sequence": 0, "participants": []}}}
        await ws.send_text({"id": "2", "type": "subscribe", "payload": {"query": "subscription { nope }"}})
        error = await ws.read_message()
        assert error["type"] == "error", error
    finally:
        ws.close()


async def test_legacy_graphql_ws_sends_only_text_frames(service: Service) -> None:
    ws = await RawWebSocket.connect(service.base_url, "graphql-ws")
    try:
        await ws.send_text({"type": "connection_init", "payload": {}})
        assert (await ws.read_message())["type"] == "connection_ack"
        room = "frames-" + os.urandom(4).hex()
        await ws.send_text({"id": "1", "type": "start", "payload": {"query": SUBSCRIBE, "variables": {"room": room}}})
        while (message := await ws.read_message())["type"] == "ka":
            pass
        assert message["type"] == "data", message
    finally:
        ws.close()

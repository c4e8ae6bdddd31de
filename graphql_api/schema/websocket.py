"""/graphql's WebSocket messages leave as text frames, whatever the view's JSON encoder returns.

graphql-transport-ws (and the legacy graphql-ws protocol) are text protocols. Strawberry's
adapter sends whatever `encode_json` returns, and ours returns bytes (orjson), which went out
as binary frames: browsers hand those to the client as a Blob and Node's `ws` as a Buffer, and
neither client parses them. Python's `websockets` accepts both, so only a browser showed it.
This adapter is the one place messages are sent, so every message of every protocol is text.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected

__all__ = ["TextFrameAdapter"]


class TextFrameAdapter(ASGIWebSocketAdapter):
    async def send_json(self, message: Mapping[str, object]) -> None:
        encoded = self.view.encode_json(message)
        text = encoded.decode() if isinstance(encoded, bytes | bytearray) else encoded
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

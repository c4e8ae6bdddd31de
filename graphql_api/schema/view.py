"""/graphql over HTTP and WebSocket: Strawberry's ASGI view, its refusals in the service's envelope.

A plain JSON POST takes the service's own path (`json_post`: GraphQL over
HTTP's media type and status codes). Strawberry's HTTP refusals, plain text
in Strawberry, are answered in the service's envelope.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL, GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.graphql import OperationType

from ..core.audit import begin_request
from ..errors import GxrtcError, TooManyRequests
from ..i18n import negotiate
from ..server.graphiql import local_page
from ..settings import Settings
from .context import Context
from .json_post import answer_json_post
from .sockets import ExpiringLegacyWSHandler, ExpiringTransportWSHandler
from .websocket import TextFrameAdapter

__all__ = ["GraphQLView"]

_POST_OPERATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's plain ASGI app (FastAPI's router would solve dependencies for every request)."""

    # Malformed messages refused; sockets closed when their credential expires (see sockets).
    graphql_transport_ws_handler_class = ExpiringTransportWSHandler
    graphql_ws_handler_class = ExpiringLegacyWSHandler
    # Every message leaves as a text frame, whatever the JSON encoder returns (see websocket).
    websocket_adapter_class = TextFrameAdapter

    def __init__(
        self, schema: BaseSchema, settings: Settings, refuse: Callable[[int, str], Response], **options: Any
    ) -> None:
        # Both WebSocket protocols, and graphql-sse for networks that block WebSockets.
        options.setdefault(
            "subscription_protocols", (GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL, GRAPHQL_SSE_PROTOCOL)
        )
        super().__init__(schema, **options)
        self._default_language = settings.default_language
        self._refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The one edge of this face: what the core records of the request (its operations' tasks inherit it).
        request_id = begin_request("graphql", Headers(scope=scope).get("x-request-id"))
        if scope["type"] != "http":
            await super().__call__(scope, receive, _closing_as_asked(scope, send))
            return
        request = Request(scope, receive)
        try:
            if scope["method"] == "POST" and self._plain_json(request):
                response = await answer_json_post(self, request)
            else:
                response = await self.run(request)
        except HTTPException as exc:
            # Strawberry answers these in plain text; the service answers every error in its envelope.
            response = self._refuse(exc.status_code, exc.reason)
        response.headers["x-request-id"] = request_id
        await response(scope, receive, send)

    def _plain_json(self, request: Request) -> bool:
        content_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        # Every JSON POST: a subscription that asks for an event stream is handed on from answer_json_post.
        return content_type == "application/json"

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        # GET runs nothing: no queries over GET, and no event stream, which is for a POSTed
        # subscription (see answer_json_post); a GET subscription would otherwise run as a plain request.
        if request.method != "POST":
            raise HTTPException(400, "GraphQL operations must be POSTed as JSON")
        return await super().parse_http_body(request)

    @property
    def graphql_ide_html(self) -> str:
        # Strawberry's page loads its scripts from unpkg.com; ours come from the service.
        return local_page(super().graphql_ide_html)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket | None) -> Context:
        headers = request.headers
        context = Context(
            core=request.app.state.core,
            authorization=headers.get("authorization"),
            client=request.client.host if request.client else "",
            language=negotiate(headers.get("accept-language"), self._default_language),
        )
        context.request = request
        context.response = response  # type: ignore[assignment]
        return context

    def parse_json(self, data: str | bytes) -> Any:
        parsed = super().parse_json(data)
        # A list is a batch, which Strawberry refuses in its own words; any other bare
        # value (1, null, "x") would reach code that expects an object.
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "The GraphQL request must be a JSON object")
        return parsed

    def decode_json(self, data: str | bytes) -> object:
        # orjson, several times faster than json; it refuses invalid UTF-8, lone
        # surrogates and nesting over 1,024 deep as invalid JSON (400), where json
        # would let some through to fail later as a 500.
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        # Subscriptions authenticate once, in connection_init; a bad credential closes the socket (4403).
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        credential = params.get("Authorization") or params.get("authorization")
        context.authorization = credential if isinstance(credential, str) else None
        try:
            await context.principal()
        except TooManyRequests as exc:
            # The protocol closes every refused connection_init with 4403; a braked one is told to wait.
            if context.request is not None:
                context.request.scope[_CLOSE_AS] = (4429, exc.message)
            raise ConnectionRejectionError({"reason": "too many requests"}) from None
        except GxrtcError:
            raise ConnectionRejectionError({"reason": "unauthenticated"}) from None
        return None


_CLOSE_AS = "gxrtc.close_as"
"""Where a WebSocket's scope says which close code and reason to send instead of Strawberry's."""


def _closing_as_asked(scope: Scope, send: Send) -> Send:
    async def sender(message: Message) -> None:
        if message["type"] == "websocket.close" and _CLOSE_AS in scope:
            code, reason = scope[_CLOSE_AS]
            message = {**message, "code": code, "reason": reason}
        await send(message)

    return sender

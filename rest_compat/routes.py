"""A thin route table: Starlette routes plus their OpenAPI operations.

The REST endpoints read their own bodies and take only path parameters, so
FastAPI's per-request dependency solving buys nothing here and cost a large
share of a token request (docs/performance.md). Plain Starlette routes
keep the app's exception handlers and middleware; this table also keeps the
OpenAPI description FastAPI would otherwise have generated. Each route
starts the request's origin for the audit trail (face "rest", the request id
from X-Request-ID or a new one) and echoes the id in X-Request-ID.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from graphql_api.core.audit import begin_request, request_origin
from graphql_api.server.observe import note_operation

__all__ = ["REQUEST_ID_HEADER", "Routes", "echo_request_id"]

REQUEST_ID_HEADER = "x-request-id"


def echo_request_id(response: Response) -> Response:
    """`response` with this request's id, for answers the error handlers write (the endpoint raised)."""
    request_id = request_origin.get().request_id
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


Endpoint = Callable[..., Awaitable[Response]]
_PARAM = re.compile(r"{(\w+)}")


class Routes:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.routes: list[Route] = []
        self.paths: dict[str, dict[str, Any]] = {}

    def _add(
        self, method: str, path: str, *, openapi_extra: dict[str, Any] | None, include_in_schema: bool
    ) -> Callable[[Endpoint], Endpoint]:
        full = self.prefix + path

        def register(endpoint: Endpoint) -> Endpoint:
            async def handle(request: Request) -> Response:
                # The one edge of this face: what the core records of the request, and its id echoed.
                note_operation(request.scope, full)
                request_id = begin_request("rest", request.headers.get("x-request-id"))
                response = await endpoint(request, **request.path_params)
                response.headers[REQUEST_ID_HEADER] = request_id
                return response

            self.routes.append(Route(full, handle, methods=[method], name=endpoint.__name__))
            if include_in_schema:
                extra = dict(openapi_extra or {})
                operation: dict[str, Any] = {
                    "summary": endpoint.__name__.replace("_", " ").capitalize(),
                    "operationId": f"{endpoint.__name__}_{method.lower()}",
                    **extra,
                    # The path's own parameters, then the operation's query parameters.
                    "parameters": [
                        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                        for name in _PARAM.findall(path)
                    ]
                    + extra.get("parameters", []),
                }
                self.paths.setdefault(full, {})[method.lower()] = operation
            return endpoint

        return register

    def get(
        self, path: str, *, openapi_extra: dict[str, Any] | None = None, include_in_schema: bool = True
    ) -> Callable[[Endpoint], Endpoint]:
        return self._add("GET", path, openapi_extra=openapi_extra, include_in_schema=include_in_schema)

    def post(
        self, path: str, *, openapi_extra: dict[str, Any] | None = None, include_in_schema: bool = True
    ) -> Callable[[Endpoint], Endpoint]:
        return self._add("POST", path, openapi_extra=openapi_extra, include_in_schema=include_in_schema)

    def delete(
        self, path: str, *, openapi_extra: dict[str, Any] | None = None, include_in_schema: bool = True
    ) -> Callable[[Endpoint], Endpoint]:
        return self._add("DELETE", path, openapi_extra=openapi_extra, include_in_schema=include_in_schema)

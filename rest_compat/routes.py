"""A thin route table: Starlette routes plus their OpenAPI operations.

The REST endpoints read their own bodies and take only path parameters, so
FastAPI's per-request dependency solving buys nothing here and cost a large
share of a token request (docs/performance.md). Plain Starlette routes
keep the app's exception handlers and middleware; this table also keeps the
OpenAPI description FastAPI would otherwise have generated.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from graphql_api.observe import note_operation

__all__ = ["Routes"]

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
                note_operation(request.scope, full)
                return await endpoint(request, **request.path_params)

            self.routes.append(Route(full, handle, methods=[method], name=endpoint.__name__))
            if include_in_schema:
                operation: dict[str, Any] = {
                    "summary": endpoint.__name__.replace("_", " ").capitalize(),
                    "operationId": f"{endpoint.__name__}_{method.lower()}",
                    "parameters": [
                        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                        for name in _PARAM.findall(path)
                    ],
                    **(openapi_extra or {}),
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

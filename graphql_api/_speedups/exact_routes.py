"""Exact-path routes answered without the framework's routing layers, in place of Starlette's and FastAPI's.

Between the service's own middleware (CORS, admission, body cap) and an
endpoint, Starlette and FastAPI put an exception middleware, an exit-stack
middleware, the router's regex walk, the route's method check and a second
exception wrapper around the endpoint: nearly half of a token request's time
in-process (docs/performance.md). `ExactRoutes` sits innermost among our middleware and
sends a request whose method and path match a route without path parameters
(the token, room and GraphQL endpoints) straight to its endpoint; everything
else (path parameters, unknown paths, 405s, WebSockets) goes on to FastAPI as
before. Errors are answered by the app's own exception handlers, looked up the
way Starlette looks them up, so both ways give the same answers.

Proven equal by tests/unit/speedups/test_exact_routes.py (every route, with and without
`ExactRoutes`, the same answers). Off with `GXRTC_SPEEDUPS=off`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any, TypeGuard

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ErrorHandler", "ExactRoutes"]

ErrorHandler = Callable[[Request, Exception], Coroutine[Any, Any, Response]]


def _lookup(handlers: Mapping[Any, ErrorHandler], exc: Exception) -> ErrorHandler | None:
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            return handler
    return None


def _from_function(
    endpoint: Callable[[Request], Coroutine[Any, Any, Response]], handlers: Mapping[Any, ErrorHandler]
) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:
            handler = _lookup(handlers, exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    return app


def _from_asgi(endpoint: ASGIApp, handlers: Mapping[Any, ErrorHandler]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def sender(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await endpoint(scope, receive, sender)
        except Exception as exc:
            handler = _lookup(handlers, exc)
            if handler is None or started:
                raise
            response = await handler(Request(scope, receive, send), exc)
            await response(scope, receive, send)

    return app


def _exact(route: BaseRoute) -> TypeGuard[Route]:
    # Plain Starlette routes only: FastAPI's APIRoute (a subclass) solves its endpoint's
    # dependencies, which calling the endpoint with a request would skip.
    if type(route) is not Route or route.param_convertors or not route.methods:
        return False
    endpoint = route.endpoint
    function = inspect.isfunction(endpoint) or inspect.ismethod(endpoint)
    return inspect.iscoroutinefunction(endpoint) if function else True


def _claims(route: BaseRoute, method: str, path: str) -> bool:
    """Whether Starlette's walk would stop at `route` for this request (it comes first)."""
    match, _ = route.matches({"type": "http", "method": method, "path": path, "root_path": ""})
    return match is Match.FULL


class ExactRoutes:
    """Dispatches HTTP requests for exact (method, path) pairs of `routes`; the rest goes to `app`."""

    def __init__(
        self,
        app: ASGIApp,
        routes: Iterable[BaseRoute],
        handlers: Mapping[Any, ErrorHandler],
    ) -> None:
        self.app = app
        self.table: dict[tuple[str, str], ASGIApp] = {}
        earlier: list[BaseRoute] = []
        for route in routes:
            if _exact(route):
                endpoint: Any = route.endpoint
                # Starlette's own test for a request/response function against an ASGI app.
                function = inspect.isfunction(endpoint) or inspect.ismethod(endpoint)
                dispatch = _from_function(endpoint, handlers) if function else _from_asgi(endpoint, handlers)
                for method in route.methods or ():
                    if not any(_claims(other, method, route.path) for other in earlier):
                        self.table.setdefault((method, route.path), dispatch)
            earlier.append(route)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A root path (the app mounted under a prefix) needs the router's path handling.
        if scope["type"] == "http" and not scope.get("root_path"):
            dispatch = self.table.get((scope["method"], scope["path"]))
            if dispatch is not None:
                await dispatch(scope, receive, send)
                return
        await self.app(scope, receive, send)

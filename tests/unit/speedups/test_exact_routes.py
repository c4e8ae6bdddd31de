"""Exact routes: the busy paths skip FastAPI's router, and answer exactly as it would.

The same requests go to an app with the exact routes and to one without them
(telemetry on, where FastAPI's router names each route); status, headers and
bodies must match, errors included.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from graphql_api._speedups.exact_routes import ExactRoutes
from graphql_api.app import create_app
from graphql_api.errors import GxrtcError, NotFound
from graphql_api.settings import Settings

KEY = "express-admin-key-0123456789abcdefghijkl"
TOKEN_QUERY = "mutation($room: String!, $identity: String!) { createToken(room: $room, identity: $identity) { url } }"


def settings(**values: Any) -> Settings:
    return Settings(
        livekit_url="http://127.0.0.1:9",
        livekit_api_key="key",
        livekit_api_secret=SecretStr("s" * 32),
        admin_key=SecretStr(KEY),
        **values,
    )


@contextlib.asynccontextmanager
async def client(**values: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings(**values))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


def exact_routes(app: Any) -> ExactRoutes | None:
    layer = app.build_middleware_stack()
    while layer is not None and not isinstance(layer, ExactRoutes):
        layer = getattr(layer, "app", None)
    return layer


AUTH = {"authorization": f"Bearer {KEY}"}
VARIABLES = {"room": "r", "identity": "i"}
REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/api/v1/room/token", {"data": {"uid": "u1"}, "headers": AUTH}),  # room missing: 400
    ("POST", "/api/v1/room/token", {"data": {"uid": "u1", "room": "r1"}}),  # no credential: 401
    ("POST", "/api/v1/room/token", {"content": b"<x/>", "headers": {**AUTH, "content-type": "application/xml"}}),
    ("POST", "/api/v1/room/token", {"content": b"room=r&uid=" + b"x" * 70_000, "headers": AUTH}),  # 413
    ("POST", "/api/v1/room/token", {"data": {"uid": "u1", "room": "r1"}, "headers": {**AUTH, "accept-language": "en"}}),
    ("GET", "/api/v1/room/token", {"headers": AUTH}),  # 405 from the router either way
    ("POST", "/api/v1/room/token?uid=u1", {"data": {"room": "r1"}, "headers": AUTH}),  # query fills in the body
    (
        "POST",
        "/graphql",
        {"json": {"query": TOKEN_QUERY, "variables": {"room": "r", "identity": "i"}}, "headers": AUTH},
    ),
    ("POST", "/graphql", {"content": b"{not json", "headers": {**AUTH, "content-type": "application/json"}}),
    ("POST", "/graphql", {"json": {"query": "{ nope }"}, "headers": AUTH}),
    ("GET", "/api/v1/room", {}),  # 401
    ("DELETE", "/api/v1/room/r1", {}),  # a path parameter: the router's
    ("GET", "/nowhere", {}),
]


@pytest.mark.parametrize("env", ["dev", "production"])
async def test_same_answers_with_and_without_exact_routes(env: str) -> None:
    answers: list[list[tuple[int, dict[str, str], Any]]] = []
    for telemetry in (False, True):
        async with client(env=env, telemetry=telemetry) as http:
            seen = []
            for method, url, options in REQUESTS:
                response = await http.request(method, url, **options)
                body: Any = response.json() if response.content else None
                if isinstance(body, dict):
                    # Tokens carry the second they were minted in.
                    for place in (body.get("data") or {}, (body.get("data") or {}).get("createToken") or {}):
                        if "access_token" in place:
                            place["access_token"] = "<token>"
                headers = {k: v for k, v in response.headers.items() if k not in ("date", "content-length")}
                if "x-request-id" in headers:  # made afresh for each request; both ways must echo one
                    headers["x-request-id"] = "<request id>"
                seen.append((response.status_code, headers, body))
            answers.append(seen)
    with_routes, without = answers
    assert with_routes == without
    statuses = [status for status, _, _ in with_routes]
    assert statuses[:4] == [400, 401, 415, 413]
    assert statuses[5:8] == [405, 200, 200]


async def test_the_busy_paths_are_exact_and_the_rest_is_the_routers() -> None:
    app = create_app(settings())
    routes = exact_routes(app)
    assert routes is not None
    table = set(routes.table)
    assert {("POST", "/api/v1/room/token"), ("POST", "/graphql"), ("GET", "/graphql"), ("GET", "/api/v1/room")} <= table
    assert not any("{" in path for _, path in table)  # path parameters: the router's
    assert ("GET", "/healthz") not in table  # FastAPI's own routes solve their dependencies
    # With telemetry too: the request's span is named by `Observe` (tests/unit/server/test_tracing.py).
    assert exact_routes(create_app(settings(telemetry=True))) is not None


def toy(*routes: Route, handlers: dict[Any, Any]) -> ExactRoutes:
    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        await JSONResponse({"from": "fallback"})(scope, receive, send)

    return ExactRoutes(fallback, routes, handlers)


async def call(app: ExactRoutes, method: str, path: str, root_path: str = "") -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "root_path": root_path, "headers": [], "query_string": b""}
    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def on_gxrtc(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GxrtcError)
    return JSONResponse({"error": str(exc)}, status_code=exc.status)


async def on_any(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": "internal"}, status_code=500)


async def test_errors_go_to_the_handler_of_their_nearest_class() -> None:
    async def missing(request: Request) -> Response:
        raise NotFound("no such room")

    async def broken(request: Request) -> Response:
        raise ZeroDivisionError

    app = toy(
        Route("/missing", missing, methods=["GET"]),
        Route("/broken", broken, methods=["GET"]),
        handlers={GxrtcError: on_gxrtc, Exception: on_any},
    )
    assert await call(app, "GET", "/missing") == (404, b'{"error":"no such room"}')
    assert await call(app, "GET", "/broken") == (500, b'{"error":"internal"}')
    without = toy(Route("/broken", broken, methods=["GET"]), handlers={GxrtcError: on_gxrtc})
    with pytest.raises(ZeroDivisionError):
        await call(without, "GET", "/broken")


class Failing:
    """An ASGI app (as the GraphQL view is) that fails before or after it starts its answer."""

    def __init__(self, *, after_start: bool) -> None:
        self.after_start = after_start

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.after_start:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        raise NotFound("no such room")


async def test_an_asgi_endpoint_that_fails_after_answering_is_not_answered_twice() -> None:
    app = toy(
        Route("/early", Failing(after_start=False), methods=["GET"]),
        Route("/late", Failing(after_start=True), methods=["GET"]),
        handlers={GxrtcError: on_gxrtc},
    )
    assert await call(app, "GET", "/early") == (404, b'{"error":"no such room"}')
    with pytest.raises(NotFound):
        await call(app, "GET", "/late")


async def test_an_earlier_route_that_matches_keeps_the_path() -> None:
    async def by_name(request: Request) -> Response:
        return JSONResponse({"from": "by_name"})

    async def exact(request: Request) -> Response:
        return JSONResponse({"from": "exact"})

    app = toy(
        Route("/room/{name}", by_name, methods=["GET"]),
        Route("/room/token", exact, methods=["GET", "POST"]),
        handlers={},
    )
    assert ("GET", "/room/token") not in app.table  # Starlette's ordered walk would stop at /room/{name}
    assert await call(app, "GET", "/room/token") == (200, b'{"from":"fallback"}')
    assert await call(app, "POST", "/room/token") == (200, b'{"from":"exact"}')
    assert await call(app, "POST", "/room/token", root_path="/prefix") == (200, b'{"from":"fallback"}')

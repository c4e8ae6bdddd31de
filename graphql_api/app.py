"""The ASGI app: one LiveKit session in the lifespan, GraphQL, REST compat, health.

`create_app()` is the only place where the faces, the error mapping and the
long-lived objects are put together.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from strawberry.fastapi import GraphQLRouter

from rest_compat.envelope import EnvelopeResponse, error, from_error, ok
from rest_compat.router import router as rest_router

from .context import Context
from .errors import GxrtcError
from .livekit import LiveKit
from .resolvers import Core
from .schema import schema
from .settings import Settings
from .tokens import TokenMinter

__all__ = ["create_app"]

log = logging.getLogger(__name__)

_READYZ_PROBE_ROOM = "gxrtc-readyz-probe"


async def _get_context(connection: HTTPConnection) -> Context:
    return Context(core=connection.app.state.core)


async def _on_gxrtc_error(request: Request, exc: Exception) -> EnvelopeResponse:
    assert isinstance(exc, GxrtcError)
    return from_error(exc)


async def _on_http_error(request: Request, exc: Exception) -> EnvelopeResponse:
    assert isinstance(exc, HTTPException)
    reasons = {404: "not found", 405: "method not allowed"}
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404:
        message = f"no such path: {request.url.path}"
    elif exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    return error(exc.status_code, message, reasons.get(exc.status_code), headers=exc.headers)


async def _on_validation_error(request: Request, exc: Exception) -> EnvelopeResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    param = str(first.get("loc", ["", "request"])[-1])
    return error(400, f"params {param} is invalid", "invalid parameter")


async def _on_unexpected(request: Request, exc: Exception) -> EnvelopeResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error(500, "internal error", "internal error")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # type: ignore[call-arg]
    dev = settings.env == "dev"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        livekit = LiveKit.open(settings)
        minter = TokenMinter(
            settings.livekit_api_key, settings.livekit_api_secret.get_secret_value(), settings.client_url
        )
        app.state.core = Core(
            settings=settings,
            livekit=livekit,
            minter=minter,
            fanout_limit=asyncio.Semaphore(settings.fanout_concurrency),
        )
        try:
            yield
        finally:
            await livekit.aclose()

    app = FastAPI(
        title="GXRTC API",
        summary="Join tokens and room management for LiveKit: REST compat under /api/v1, GraphQL at /graphql.",
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url="/docs" if dev else None,
        redoc_url=None,
        exception_handlers={
            GxrtcError: _on_gxrtc_error,
            HTTPException: _on_http_error,
            RequestValidationError: _on_validation_error,
            Exception: _on_unexpected,
        },
    )
    app.include_router(rest_router)
    app.include_router(
        GraphQLRouter(
            schema,
            path="/graphql",
            context_getter=_get_context,
            graphql_ide="graphiql" if dev else None,
            allow_queries_via_get=False,
        ),
        include_in_schema=False,
    )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> EnvelopeResponse:
        return ok({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> EnvelopeResponse:
        core: Core = request.app.state.core
        await core.livekit.list_rooms([_READYZ_PROBE_ROOM])
        return ok({"status": "ready"})

    return app

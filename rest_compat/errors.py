"""The service's error answers in REST compat's envelope: our errors, HTTP errors, invalid parameters, bugs.

`error_handlers(settings)` is the one table the app registers with FastAPI and
hands to the exact routes (`graphql_api._speedups.exact_routes`), so every path
answers an error the same way: status, message (in the caller's language) and
reason, as the GXRTC API document has them, and the request's X-Request-ID.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from graphql_api.errors import GxrtcError
from graphql_api.i18n import Language, negotiate, zh_for_status
from graphql_api.settings import Settings

from .envelope import EnvelopeResponse, error, from_error
from .routes import echo_request_id

__all__ = ["ErrorHandler", "error_handlers", "language"]

ErrorHandler = Callable[[Request, Exception], Coroutine[Any, Any, Response]]

log = logging.getLogger(__name__)


def language(headers: Headers, settings: Settings) -> Language:
    """The caller's language for messages: its Accept-Language, else the service's default."""
    return negotiate(headers.get("accept-language"), settings.default_language)


def _allowed_methods(request: Request) -> set[str]:
    """Every method some route takes at this path; included routers are walked into."""
    methods: set[str] = set()
    pending: list[Any] = list(request.app.router.routes)
    while pending:
        route = pending.pop()
        inner = getattr(route, "original_router", None)
        if inner is not None:
            pending.extend(inner.routes)
        elif getattr(route, "methods", None) and route.path_regex.match(request.url.path):
            methods |= route.methods
    return methods


def error_handlers(settings: Settings) -> dict[Any, ErrorHandler]:
    """Handlers by exception class, looked up along the exception's MRO."""

    async def on_gxrtc_error(request: Request, exc: Exception) -> EnvelopeResponse:
        assert isinstance(exc, GxrtcError)
        return from_error(exc, language(request.headers, settings))

    async def on_http_error(request: Request, exc: Exception) -> EnvelopeResponse:
        assert isinstance(exc, HTTPException)
        reasons = {400: "invalid parameter", 404: "not found", 405: "method not allowed"}
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404:
            message = f"no such path: {request.url.path}"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        if language(request.headers, settings) == "zh-CN":
            message = zh_for_status(exc.status_code) or message
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first matching route's methods; /room has two routes.
            headers["Allow"] = ", ".join(sorted(_allowed_methods(request)))
        return error(exc.status_code, message, reasons.get(exc.status_code), headers=headers or None)

    async def on_validation_error(request: Request, exc: Exception) -> EnvelopeResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        param = str(first.get("loc", ["", "request"])[-1])
        return error(400, f"params {param} is invalid", "invalid parameter")

    async def on_unexpected(request: Request, exc: Exception) -> EnvelopeResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error(500, "internal error", "internal error")

    def echoing(handler: ErrorHandler) -> ErrorHandler:
        async def handle(request: Request, exc: Exception) -> Response:
            return echo_request_id(await handler(request, exc))

        return handle

    return {
        GxrtcError: echoing(on_gxrtc_error),
        HTTPException: echoing(on_http_error),
        RequestValidationError: echoing(on_validation_error),
        Exception: echoing(on_unexpected),
    }

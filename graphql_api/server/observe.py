"""Every HTTP request measured and, if asked, logged: one ASGI middleware around the whole app.

Outermost, so it sees what no other layer sees in full: requests the exact
routes (`graphql_api._speedups.exact_routes`) answer without FastAPI's router,
those admission sheds, those refused for their body, and preflights. Per
request it records `gxrtc_requests_total` and `gxrtc_request_duration_seconds`
(`graphql_api.core.metrics`) by face, operation and status, keeps
`gxrtc_requests_in_flight` (all three through `request_metrics.recorder()`),
and writes one JSON line to the `gxrtc.access` log.

What the layers inside know and this one cannot see (the caller, a GraphQL
operation's root field) they note in the request's scope with `note_principal`
and `note_operation`. The line holds no header, no query string and no path
values (route templates only), so no credential or token can reach it; the
request id is the one the response carries in `X-Request-ID`, if any, and
the trace id is the request span's while one records.

With tracing on it also names the request's span (FastAPI's, current here) as
its response starts: by its route template, which FastAPI's router would
have named for the routes it answers but not for the exact routes, and for
GraphQL by its operation ("POST /graphql mutation createToken"); and it
replaces the values of the query string FastAPI puts on that span, where a
caller may have put a token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Iterable

import orjson
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core import tracing
from .request_metrics import recorder

__all__ = ["ACCESS_LOGGER", "Observe", "note_operation", "note_principal"]

ACCESS_LOGGER = "gxrtc.access"
access_log = logging.getLogger(ACCESS_LOGGER)

_FACTS = "gxrtc.observed"
"""Where a request's scope holds what the inner layers noted (an `_Observed`)."""
_UNMATCHED = "unmatched"
"""The operation of a request no route answered: an unknown path, or one refused before routing."""
_ABORTED = 499
"""The status recorded for a request whose client went away before any answer (nginx's convention)."""
_MAX_REQUEST_ID = 128
_GRAPHQL_KINDS = frozenset({"query", "mutation", "subscription"})


class _Observed:
    __slots__ = ("operation", "principal", "request_id", "status", "trace_id")

    def __init__(self) -> None:
        self.status = _ABORTED
        self.operation: str | None = None
        self.principal: str | None = None
        self.request_id: str | None = None
        self.trace_id: str | None = None


def note_principal(scope: Scope, uid: str) -> None:
    """The authenticated caller of this request, for its log line."""
    facts = scope.get(_FACTS)
    if facts is not None:
        facts.principal = uid


def note_operation(scope: Scope, operation: str) -> None:
    """The operation a request ran, where its route does not say (GraphQL's); from a bounded set only."""
    facts = scope.get(_FACTS)
    if facts is not None:
        facts.operation = operation


def _face(path: str) -> str:
    if path.startswith("/api/"):
        return "rest"
    if path.startswith("/graphql"):
        return "graphql"
    return "service"


class Observe:
    def __init__(self, app: ASGIApp, *, routes: Iterable[BaseRoute], log_requests: bool, tracing: bool = False) -> None:
        self.app = app
        self.log_requests = log_requests
        self.tracing = tracing
        # The exact routes answer without the router, which would have named the route in the scope.
        routes = list(routes)
        self._exact = frozenset(route.path for route in routes if type(route) is Route and not route.param_convertors)
        self._mounts = tuple(route.path for route in routes if isinstance(route, Mount))
        self._metrics = recorder()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        facts = scope[_FACTS] = _Observed()
        logging_this = self.log_requests and access_log.isEnabledFor(logging.INFO)
        tracing_this = self.tracing and tracing.enabled()
        if tracing_this:
            if scope.get("query_string"):
                # FastAPI's span has the query string, values and all, and a caller may have put a token there.
                tracing.name_current(None, {"url.query": _redacted(scope["query_string"])})
            if logging_this:
                facts.trace_id = tracing.recording_trace_id()

        # A plain function handing back send's awaitable: one coroutine frame fewer per message.
        def observed_send(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                facts.status = message["status"]
                if logging_this:
                    facts.request_id = _request_id(message.get("headers", ()))
                if tracing_this:
                    self._name_span(scope, facts)
            return send(message)

        metrics = self._metrics
        metrics.started()
        try:
            await self.app(scope, receive, observed_send)
        except BaseException:
            if facts.status == _ABORTED:
                facts.status = 500  # what Starlette's outermost layer answers for it
            raise
        finally:
            duration = time.perf_counter() - started
            path = scope["path"]
            face = _face(path)
            operation = facts.operation or self._route(scope, path)
            metrics.finished(face, operation, facts.status, duration)
            if logging_this:
                _log(scope["method"], face, operation, facts, duration)

    def _name_span(self, scope: Scope, facts: _Observed) -> None:
        """Name the request's span by what answered it, before it ends with the response."""
        route = self._route(scope, scope["path"])
        if route == _UNMATCHED:
            return
        name = f"{scope['method']} {route}"
        attributes: dict[str, str] = {"http.route": route}
        operation = facts.operation
        if operation is not None and operation != route:
            name = f"{name} {operation}"
            kind = operation.partition(" ")[0]
            if kind in _GRAPHQL_KINDS:
                attributes["graphql.operation.type"] = kind
        tracing.name_current(name, attributes)

    def _route(self, scope: Scope, path: str) -> str:
        """The template of the route that answered: REST's note it, FastAPI's own are in the scope."""
        template = getattr(scope.get("route"), "path", None)
        if isinstance(template, str):
            return template or "/"
        if path in self._exact:
            return path
        for mount in self._mounts:
            if path.startswith(mount + "/") or path == mount:
                return mount
        return _UNMATCHED


def _redacted(query: bytes) -> str:
    """The query's parameter names, each value replaced, as OpenTelemetry's conventions redact one."""
    names = (pair.partition(b"=")[0] for pair in query.split(b"&") if pair)
    return "&".join(name.decode("latin-1") + "=REDACTED" for name in names)


def _request_id(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name.lower() == b"x-request-id":
            return value[:_MAX_REQUEST_ID].decode("latin-1")
    return None


def _log(method: str, face: str, operation: str, facts: _Observed, duration: float) -> None:
    line = {
        "method": method,
        "route": operation,
        "face": face,
        "status": facts.status,
        "duration_seconds": round(duration, 6),
        "request_id": facts.request_id,
        "principal": facts.principal,
    }
    if facts.trace_id is not None:
        line["trace_id"] = facts.trace_id
    access_log.info("%s", orjson.dumps(line).decode())

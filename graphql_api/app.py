"""The ASGI app: one LiveKit session in the lifespan, GraphQL, REST compat, health.

`create_app()` is the only place where the faces, the error mapping, the
limits and the long-lived objects are put together.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from livekit.protocol import models
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.routing import Route, WebSocketRoute
from starlette.types import Scope

from rest_compat.envelope import EnvelopeResponse, error, from_error, ok
from rest_compat.errors import error_handlers, language
from rest_compat.openapi import COMPONENTS, NAME
from rest_compat.router import router as rest_router

from . import _speedups
from ._speedups.exact_routes import ExactRoutes
from .core.audit_retention import keep_audit_trail_within
from .core.auth import Authenticator
from .core.cache import FlightCache
from .core.enforcement import follow_rules, receive_webhook
from .core.events import open_broker
from .core.lease import open_leases
from .core.livekit import LiveKit
from .core.minter import TokenMinter
from .core.reconcile import Reconciler
from .core.services import Core
from .core.shared_brake import open_brake
from .core.store import Store, migrate
from .core.tracing import enable as enable_tracing
from .core.webhooks import WebhookIntake
from .errors import GxrtcError, ServiceUnavailable, UpstreamTimeout, UpstreamUnavailable
from .schema import build_schema
from .schema.view import GraphQLView
from .server.console import default_console_dir
from .server.console import routes as console_routes
from .server.graphiql import PREFIX, assets_app
from .server.limits import Admission, BodyIntake, Gate
from .server.observe import ACCESS_LOGGER, Observe
from .server.request_metrics import flush_periodically
from .server.scrape import metrics
from .settings import Settings

__all__ = ["create_app"]

log = logging.getLogger(__name__)

_READYZ_PROBE_ROOM = "gxrtc-readyz-probe"
_MIN_ADMIN_KEY = 32


def _check_secure(settings: Settings, authenticator: Authenticator) -> None:
    """Refuse to start a production service that is open, weakly keyed or leaks credentials cross-origin."""
    if settings.env != "production":
        if not authenticator.configured:
            log.warning("no authentication configured: every caller is an admin (dev mode only)")
        return
    problems = []
    if not authenticator.configured:
        problems.append("no authentication is configured (GXRTC_AUTH_*, GXRTC_API_KEYS or GXRTC_ADMIN_KEY)")
    if len(settings.livekit_api_secret.get_secret_value()) < 32:
        problems.append("LIVEKIT_API_SECRET is shorter than 32 characters")
    if "*" in settings.cors_origins and settings.cors_allow_credentials:
        problems.append("CORS allows any origin together with credentials")
    if settings.admin_key is not None and len(settings.admin_key.get_secret_value()) < _MIN_ADMIN_KEY:
        problems.append(f"GXRTC_ADMIN_KEY is shorter than {_MIN_ADMIN_KEY} characters")
    if problems:
        raise RuntimeError("refusing to start in production: " + "; ".join(problems))


def _drain_on_signals(gate: Gate) -> None:
    """On SIGTERM or SIGINT, refuse new work at once, then let uvicorn's own handler
    finish the requests in flight and stop."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum: int, frame: object, previous: Any = previous) -> None:
            if not gate.draining:
                log.warning("draining: new requests get 503 while those in flight finish")
            gate.draining = True
            previous(signum, frame)

        try:
            signal.signal(sig, handler)
        except ValueError:  # not the main thread (an embedding test client): nothing to chain to
            return


def _list_rooms(livekit: LiveKit) -> Callable[[tuple[str, ...] | None], Awaitable[list[models.Room]]]:
    async def fetch(names: tuple[str, ...] | None) -> list[models.Room]:
        return await livekit.list_rooms(list(names) if names is not None else None)

    return fetch


def _configure_log(name: str, label: str) -> None:
    # uvicorn configures only its own loggers; the audit trail and the access log must
    # reach the process's output even when nobody configured logging.
    logger = logging.getLogger(name)
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        # The process id tells the lines of several workers apart.
        handler.setFormatter(logging.Formatter(f"%(asctime)s [%(process)d] {label} %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _describe_openapi(app: FastAPI) -> None:
    """REST compat's operations, LiveKit's message schemas and the bearer scheme, in FastAPI's document."""

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            document.setdefault("paths", {}).update(rest_router.paths)
            components = document.setdefault("components", {})
            components.setdefault("schemas", {}).update(COMPONENTS)
            components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            document["security"] = [{"bearer": []}]
            for path in document.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
                    for parameter in operation.get("parameters", []):
                        if parameter.get("in") == "path":
                            parameter["schema"] = NAME
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # type: ignore[call-arg]
    _configure_log("gxrtc.audit", "audit")
    if settings.access_log:
        _configure_log(ACCESS_LOGGER, "access")
    dev = settings.env == "dev"
    authenticator = Authenticator(settings)
    _check_secure(settings, authenticator)
    gate = Gate(max_in_flight=settings.max_in_flight, max_in_flight_per_client=settings.max_in_flight_per_client)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _drain_on_signals(gate)
        # The core's own spans (LiveKit, database, Redis calls) follow FastAPI's switch, once providers are set.
        enable_tracing(settings.telemetry)
        livekit = LiveKit.open(settings)
        minter = TokenMinter(
            settings.livekit_api_key, settings.livekit_api_secret.get_secret_value(), settings.client_url
        )
        broker = open_broker(settings.redis_url)
        # So the first subscribers are not told they lost events that never were.
        with contextlib.suppress(TimeoutError, GxrtcError):
            async with asyncio.timeout(5):
                await broker.wait_ready()
        if settings.database_url is None:
            settings.state_dir.mkdir(parents=True, exist_ok=True)
        store = Store.open(
            settings.store_url,
            timeout_seconds=settings.database_timeout_seconds,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_pool_size,
        )
        try:
            await migrate.prepare(store, dev=dev)
        except migrate.SchemaMismatch as exc:
            log.error("%s", exc)
            await store.aclose()
            raise
        core = Core(
            settings=settings,
            livekit=livekit,
            minter=minter,
            authenticator=authenticator,
            broker=broker,
            store=store,
            participants=FlightCache(
                livekit.list_participants,
                ttl=settings.participant_cache_seconds,
                concurrency=settings.fanout_concurrency,
            ),
            room_lists=FlightCache(
                _list_rooms(livekit), ttl=settings.participant_cache_seconds, concurrency=4, max_entries=1_000
            ),
        )
        stop_listening = broker.listen(core.forget)
        app.state.core = core
        app.state.webhooks = WebhookIntake(
            settings.livekit_api_key,
            settings.livekit_api_secret.get_secret_value(),
            max_age_seconds=settings.webhook_max_age_seconds,
        )
        # Shared through Redis when there is one: several workers are several instances (docs/workers.md).
        authenticator.brake = open_brake(settings)
        leases = open_leases(settings.redis_url, interval=settings.reconcile_interval_seconds)
        reconciler = asyncio.create_task(Reconciler(core, leases).run(settings.reconcile_interval_seconds))
        retention = asyncio.create_task(keep_audit_trail_within(store, settings.audit_retention_days))
        rules_follower = asyncio.create_task(follow_rules(core))
        presence_sweeper = asyncio.create_task(core.presence.run(core, settings.presence_sweep_seconds))
        # With several workers, each one's request counts reach the shared files within a second.
        request_flusher = asyncio.create_task(flush_periodically())
        # What start-up made (modules, the schema, settings) lives as long as the process. Frozen,
        # it is out of the collector's way: a full collection walked all of it now and then under
        # GraphQL load, which was most of GraphQL's p99 (docs/performance.md).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            stop_listening()
            for task in (reconciler, retention, rules_follower, presence_sweeper, request_flusher):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await broker.aclose()
            await store.aclose()
            await livekit.aclose()
            await authenticator.brake.aclose()
            await authenticator.aclose()

    # One table, for FastAPI's layers and for the exact routes alike.
    handlers = error_handlers(settings)
    app = FastAPI(
        title="GXRTC API",
        summary="Join tokens and room management for LiveKit: REST compat under /api/v1, GraphQL at /graphql.",
        lifespan=lifespan,
        telemetry={"tracing": settings.telemetry, "metrics": settings.telemetry, "logs": settings.telemetry},
        redirect_slashes=False,
        docs_url="/docs" if dev else None,
        redoc_url=None,
        openapi_url="/openapi.json" if dev else None,
        exception_handlers=handlers,
    )
    app.state.settings = settings
    _describe_openapi(app)

    origins = settings.cors_origins or (["*"] if dev else [])
    graphql = GraphQLView(
        build_schema(settings),
        settings,
        refuse=lambda status, reason: error(status, reason, "bad request"),
        graphql_ide="graphiql" if dev else None,
        allow_queries_via_get=False,
        max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        # Browsers apply no CORS to WebSockets: the view checks their Origin against the same list.
        allowed_origins=origins,
        connection_init_wait_timeout=timedelta(seconds=settings.header_timeout_seconds),
    )
    # The busy routes first: Starlette tries routes in order, a regex each.
    app.router.routes[:0] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        *rest_router.routes,
    ]
    if dev:
        assets = settings.cache_dir / "graphiql"
        if not assets.is_dir():
            log.warning("GraphiQL's scripts are not in %s: run `make setup` (the GraphiQL page will not load)", assets)
        app.mount(PREFIX, assets_app(assets))

    if settings.console if settings.console is not None else dev:
        app.router.routes.extend(console_routes(settings.console_dir or default_console_dir()))

    @app.post("/webhooks/livekit", include_in_schema=False)
    async def livekit_webhook(request: Request) -> EnvelopeResponse:
        """LiveKit's room events. Signed by LiveKit with our key pair, so no caller credential is asked for."""
        intake: WebhookIntake = request.app.state.webhooks
        event = intake.receive(await request.body(), request.headers.get("authorization"))
        if event is not None:
            await receive_webhook(request.app.state.core, event)
        return ok()

    if settings.metrics:
        app.router.routes.append(Route("/metrics", metrics, methods=["GET"]))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> EnvelopeResponse:
        return ok({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> EnvelopeResponse:
        """Ready when LiveKit answers; not while draining, nor while the circuit to LiveKit is open."""
        core: Core = request.app.state.core
        if gate.draining:
            raise ServiceUnavailable("the service is shutting down", reason="shutting down")
        if core.livekit.breaker.state == "open":
            raise UpstreamUnavailable(retry_after=core.livekit.breaker.retry_after())
        try:
            await core.livekit.list_rooms([_READYZ_PROBE_ROOM])
        except UpstreamTimeout:
            # Not ready is 503 whatever the cause, so probes need to know one status only.
            raise UpstreamUnavailable("the media server did not answer in time") from None
        events = "ok" if core.broker.healthy else "unavailable"
        return ok({"status": "ready", "livekit": core.livekit.breaker.state, "events": events})

    def refuse(scope: Scope, exc: GxrtcError) -> EnvelopeResponse:
        return from_error(exc, language(Headers(scope=scope), settings))

    if _speedups.enabled():
        # Innermost of ours: the busy exact paths skip FastAPI's router and exception layers
        # (`Observe` names their request spans, which the router would have).
        app.add_middleware(ExactRoutes, routes=app.router.routes, handlers=handlers)
    app.add_middleware(Admission, gate=gate, refuse=refuse)
    # Outside admission: a request holds a slot only once its body is in.
    app.add_middleware(
        BodyIntake, max_bytes=settings.max_body_bytes, timeout_seconds=settings.body_timeout_seconds, refuse=refuse
    )
    if origins:
        # Outermost, so preflights and error answers carry the CORS headers too.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials=settings.cors_allow_credentials,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["authorization", "content-type", "accept-language"],
            max_age=600,
        )
    if settings.metrics or settings.access_log or settings.telemetry:
        # Outermost of all: every request is counted (and its span named), whichever layer answers it.
        app.add_middleware(
            Observe, routes=app.router.routes, log_requests=settings.access_log, tracing=settings.telemetry
        )
    return app

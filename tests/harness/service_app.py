"""The real app in production mode over an unreachable LiveKit (tokens need none), for tests of what
wraps every request: metrics, the access log, the monitoring files' metric names."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from graphql_api.app import create_app
from graphql_api.server.observe import ACCESS_LOGGER
from graphql_api.settings import Settings

__all__ = ["ADMIN", "JWT_SECRET", "KEY", "TOKEN_QUERY", "access_lines", "client"]

KEY = "observe-admin-key-0123456789abcdefghijklmn"
JWT_SECRET = "observe-test-jwt-secret-0123456789abcdef012345"
ADMIN = {"authorization": f"Bearer {KEY}"}
TOKEN_QUERY = "mutation($room: String!, $identity: String!) { createToken(room: $room, identity: $identity) { url } }"


@contextlib.asynccontextmanager
async def client(prepare: Callable[[FastAPI], None] | None = None, **values: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app made with these settings (`prepare` may add to the app first)."""
    app = create_app(
        Settings(
            livekit_url="http://127.0.0.1:9",
            livekit_api_key="key",
            livekit_api_secret=SecretStr("s" * 32),
            admin_key=SecretStr(KEY),
            auth_jwt_secret=SecretStr(JWT_SECRET),
            env="production",
            **values,
        )
    )
    if prepare is not None:
        prepare(app)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def access_lines() -> Any:
    """The lines the access log writes meanwhile."""
    logger = logging.getLogger(ACCESS_LOGGER)
    handler, level = Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)

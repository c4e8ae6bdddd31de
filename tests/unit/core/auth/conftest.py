"""Fixtures of the authentication tests: a JWKS server on 127.0.0.1, and authenticators closed after each test."""

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from graphql_api.core.auth import Authenticator
from graphql_api.settings import Settings
from tests.unit.core.auth.support import JwksServer


@pytest.fixture
async def jwks_server() -> AsyncIterator[JwksServer]:
    server = JwksServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def make_auth() -> AsyncIterator[Callable[..., Authenticator]]:
    made: list[Authenticator] = []

    def make(settings: Settings, **kwargs: Any) -> Authenticator:
        auth = Authenticator(settings, **kwargs)
        made.append(auth)
        return auth

    yield make
    for auth in made:
        await auth.aclose()

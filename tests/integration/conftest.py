from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.harness.livekit_server import LiveKitServer
from tests.harness.service import Service, free_port, run_service

pytestmark = pytest.mark.integration


def service_settings(livekit: LiveKitServer, **overrides: str) -> dict[str, str]:
    settings = {
        "LIVEKIT_URL": livekit.url,
        "LIVEKIT_API_KEY": livekit.api_key,
        "LIVEKIT_API_SECRET": livekit.api_secret,
        "GXRTC_LIVEKIT_CLIENT_URL": livekit.ws_url,
        "GXRTC_ENV": "dev",
        "GXRTC_LIVEKIT_TIMEOUT_SECONDS": "3",
        # The suite sends many deliberately wrong credentials from one address; the brake on
        # guessing is tested with its defaults in test_auth_brake.py.
        "GXRTC_AUTH_BRAKE_FAILURES": "1000000",
    }
    settings.update(overrides)
    return settings


@pytest.fixture(scope="session")
def service(livekit_server: LiveKitServer) -> Iterator[Service]:
    with run_service(service_settings(livekit_server)) as running:
        yield running


@pytest.fixture(scope="session")
def misconfigured_services(livekit_server: LiveKitServer) -> Iterator[dict[str, Service]]:
    """Services whose LiveKit rejects their credentials, or is not there at all."""
    wrong_secret = service_settings(livekit_server, LIVEKIT_API_SECRET="not-the-secret-livekit-knows-0123456789")
    # A port nothing listens on: the service sees a refused connection.
    unreachable = service_settings(livekit_server, LIVEKIT_URL=f"http://127.0.0.1:{free_port()}")
    with run_service(wrong_secret) as bad_credentials, run_service(unreachable) as no_livekit:
        yield {"bad_credentials": bad_credentials, "unreachable": no_livekit}


@pytest.fixture
async def http(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    # English messages by default; the service's own default (zh-CN) is tested where it matters.
    async with httpx.AsyncClient(base_url=service.base_url, timeout=15, headers={"accept-language": "en"}) as client:
        yield client


@pytest.fixture
def graphql(http: httpx.AsyncClient) -> Any:
    async def run(query: str, **variables: Any) -> dict[str, Any]:
        response = await http.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return run

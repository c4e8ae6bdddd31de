from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.harness.livekit_server import LiveKitServer, node_ip_from_environment
from tests.harness.ports import free_port
from tests.harness.postgres_server import PostgresServer
from tests.harness.service import Service, run_service

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


@pytest.fixture(scope="session")
def fault_livekit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKitServer]:
    """A LiveKit only the reliability tests use: they pause, kill and restart it."""
    server = LiveKitServer(node_ip=node_ip_from_environment(), workdir=tmp_path_factory.mktemp("livekit-faults"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fault_livekit(fault_livekit_server: LiveKitServer) -> Iterator[LiveKitServer]:
    """The reliability tests' LiveKit, running and unpaused again after each test whatever the test did to it."""
    if not fault_livekit_server.running:
        fault_livekit_server.restart()
    yield fault_livekit_server
    if fault_livekit_server.paused:
        fault_livekit_server.resume()
    if not fault_livekit_server.running:
        fault_livekit_server.restart()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster per session; each test that needs one gets its own database in it."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database (SQLAlchemy URL), running again after each test whatever the test did to it."""
    if not postgres_server.running:
        postgres_server.restart()
    url = postgres_server.create_database()
    yield url
    if not postgres_server.running:
        postgres_server.restart()

"""The brake on guessing credentials, with its default settings, on both faces (issue 13, finding 10).

Before it, one connection could try about 2,185 wrong API keys a second, all
401, and the right one was accepted at once after them. Now an address (or an
API key prefix) gets 429 with Retry-After once it has used up its allowance
of failures, whatever it sends, the right key included; callers from other
addresses are not held back, and the right key works again once the
allowance has refilled. Each test plays its clients from its own addresses
(X-Forwarded-For, which uvicorn trusts from 127.0.0.1 by default, as it would
from a proxy listed in FORWARDED_ALLOW_IPS).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from tests.harness.livekit_server import LiveKitServer
from tests.harness.service import Service, run_service
from tests.integration.conftest import service_settings

pytestmark = pytest.mark.integration

ADMIN_KEY = "brake-admin-key-0123456789abcdef0123456789"
BACKEND_KEY = "backend-brake-key-abcdef0123456789abcdef01"
DEFAULT_FAILURES = 10
"""GXRTC_AUTH_BRAKE_FAILURES' default; the window is its default 60 s, so one failure refills in 6 s."""


@pytest.fixture(scope="module")
def braked(livekit_server: LiveKitServer) -> Iterator[Service]:
    settings = service_settings(
        livekit_server,
        GXRTC_ENV="production",
        GXRTC_ADMIN_KEY=ADMIN_KEY,
        GXRTC_API_KEYS=json.dumps(
            [{"name": "backend", "role": "admin", "sha256": hashlib.sha256(BACKEND_KEY.encode()).hexdigest()}]
        ),
    )
    del settings["GXRTC_AUTH_BRAKE_FAILURES"]  # the defaults, not the suite's relaxed brake
    with run_service(settings) as service:
        yield service


def _as(address: str, key: str) -> dict[str, str]:
    return {"x-forwarded-for": address, "authorization": f"Bearer {key}", "accept-language": "en"}


async def _token(client: httpx.AsyncClient, address: str, key: str) -> httpx.Response:
    return await client.post("/api/v1/room/token", data={"uid": "alice", "room": "brake"}, headers=_as(address, key))


async def test_rest_brute_force_gets_429_and_the_right_key_works_after_the_window(braked: Service) -> None:
    guesser, neighbour = "198.51.100.1", "198.51.100.2"
    async with httpx.AsyncClient(base_url=braked.base_url, timeout=15) as client:
        statuses = [(await _token(client, guesser, f"guess{i:03d}-{i * 7919}")).status_code for i in range(30)]
        assert statuses[:DEFAULT_FAILURES] == [401] * DEFAULT_FAILURES
        assert set(statuses[DEFAULT_FAILURES:]) == {429}, statuses

        braked_answer = await _token(client, guesser, "guess-999")
        assert braked_answer.status_code == 429
        meta = braked_answer.json()["meta"]
        assert meta["code"] == 429
        assert meta["error"] == "too many requests"
        retry_after = int(braked_answer.headers["retry-after"])
        assert 1 <= retry_after <= 60

        # No oracle: while braked, the right key is refused unchecked like any guess.
        assert (await _token(client, guesser, ADMIN_KEY)).status_code == 429
        # Others are not held back by this address's failures.
        assert (await _token(client, neighbour, ADMIN_KEY)).status_code == 200

        await asyncio.sleep(retry_after)
        assert (await _token(client, guesser, ADMIN_KEY)).status_code == 200


async def test_guesses_at_one_key_prefix_are_braked_from_every_address(braked: Service) -> None:
    # The backend key's prefix, so the admin key the other tests use is left alone.
    prefix = BACKEND_KEY[:8]
    async with httpx.AsyncClient(base_url=braked.base_url, timeout=15) as client:
        statuses = [(await _token(client, f"203.0.113.{i}", f"{prefix}-wrong-{i}")).status_code for i in range(1, 16)]
        assert statuses[:DEFAULT_FAILURES] == [401] * DEFAULT_FAILURES
        assert set(statuses[DEFAULT_FAILURES:]) == {429}, statuses
        # A fresh address is braked on that prefix, the backend key's own included...
        assert (await _token(client, "203.0.113.100", BACKEND_KEY)).status_code == 429
        # ...but not on any other key.
        assert (await _token(client, "203.0.113.101", ADMIN_KEY)).status_code == 200


async def test_graphql_brute_force_gets_too_many_requests_counting_each_request_once(braked: Service) -> None:
    query = "{ " + " ".join(f"r{i}: rooms {{ name }}" for i in range(5)) + " }"

    async def ask(key: str) -> list[dict[str, Any]]:
        response = await client.post("/graphql", json={"query": query}, headers=_as("192.0.2.10", key))
        assert response.status_code == 200, response.text
        errors: list[dict[str, Any]] = response.json()["errors"]
        return errors

    async with httpx.AsyncClient(base_url=braked.base_url, timeout=15) as client:
        # Five fields asking for the caller each: still one failure per request.
        for i in range(DEFAULT_FAILURES):
            errors = await ask(f"{i:02d}-graphql-guess")  # each its own prefix: the address brakes
            assert {error["extensions"]["code"] for error in errors} == {"UNAUTHENTICATED"}
        errors = await ask("graphql-guess-last")
        assert {error["extensions"]["code"] for error in errors} == {"TOO_MANY_REQUESTS"}
        assert all(1 <= error["extensions"]["retryAfter"] <= 60 for error in errors)


async def test_connection_init_brute_force_is_closed_with_4429(braked: Service) -> None:
    url = braked.base_url.replace("http://", "ws://") + "/graphql"

    async def init(key: str) -> tuple[int | None, str | None]:
        async with websockets.connect(
            url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            additional_headers={"x-forwarded-for": "192.0.2.20"},
        ) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}))
            with pytest.raises(websockets.ConnectionClosed):
                await socket.recv()
            return socket.close_code, socket.close_reason

    closes = [await init(f"{i:02d}-ws-guess") for i in range(DEFAULT_FAILURES + 1)]
    assert {code for code, _ in closes[:DEFAULT_FAILURES]} == {4403}
    code, reason = closes[DEFAULT_FAILURES]
    assert code == 4429
    assert reason is not None
    assert "try again in" in reason


def test_production_refuses_a_short_admin_key(livekit_server: LiveKitServer) -> None:
    settings = service_settings(livekit_server, GXRTC_ENV="production", GXRTC_ADMIN_KEY="x" * 31)
    with pytest.raises(RuntimeError) as refused, run_service(settings, startup_timeout=20):
        pass
    assert "GXRTC_ADMIN_KEY is shorter than 32 characters" in str(refused.value)

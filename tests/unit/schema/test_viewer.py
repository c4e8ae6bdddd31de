"""`viewer`: the caller as the service authenticated it, and what the policy lets it do, asked of
the policy's own functions; refused without a credential like every other field."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
from pydantic import SecretStr

from graphql_api.app import create_app
from graphql_api.settings import Settings

SECRET = "viewer-test-jwt-secret-0123456789abcdef0123456789"
ADMIN_KEY = "viewer-admin-key-0123456789abcdefghijklmnop"
QUERY = "{ viewer { uid roles via readableRooms moderatedRooms mintsForAnyone } }"


def bearer(**claims: Any) -> str:
    return "Bearer " + jwt.encode({"exp": int(time.time()) + 600, **claims}, SECRET, algorithm="HS256")


async def viewer(authorization: str | None, **settings: Any) -> dict[str, Any]:
    service = create_app(
        Settings(
            livekit_url="http://127.0.0.1:9",
            livekit_api_key="key",
            livekit_api_secret=SecretStr("s" * 32),
            admin_key=SecretStr(ADMIN_KEY),
            auth_jwt_secret=SecretStr(SECRET),
            env="production",
            **settings,
        )
    )
    headers = {"authorization": authorization} if authorization else {}
    async with service.router.lifespan_context(service):
        transport = httpx.ASGITransport(app=service)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post("/graphql", json={"query": QUERY}, headers=headers)
    body: dict[str, Any] = response.json()
    return body


async def test_a_moderator_sees_its_rooms_and_may_mint_only_for_itself() -> None:
    body = await viewer(bearer(sub="mod", roles=["moderator"], rooms=["b", "a"]))
    assert body["data"]["viewer"] == {
        "uid": "mod",
        "roles": ["moderator"],
        "via": "jwt",
        "readableRooms": ["a", "b"],
        "moderatedRooms": ["a", "b"],
        "mintsForAnyone": False,
    }


async def test_an_admin_reads_and_moderates_every_room() -> None:
    body = await viewer(f"Bearer {ADMIN_KEY}")
    assert body["data"]["viewer"] == {
        "uid": "key:admin",
        "roles": ["admin"],
        "via": "api_key",
        "readableRooms": None,
        "moderatedRooms": None,
        "mintsForAnyone": True,
    }


async def test_a_user_moderates_nothing_even_with_a_rooms_claim() -> None:
    body = await viewer(bearer(sub="u", rooms=["a"]))
    assert body["data"]["viewer"]["moderatedRooms"] == []
    assert body["data"]["viewer"]["readableRooms"] == []
    opened = await viewer(bearer(sub="u"), users_can_read=True)
    assert opened["data"]["viewer"]["readableRooms"] is None
    assert opened["data"]["viewer"]["moderatedRooms"] == []


async def test_no_credential_or_a_forged_one_is_unauthenticated() -> None:
    for authorization in (None, "Bearer " + jwt.encode({"sub": "x", "exp": int(time.time()) + 60}, "f" * 40)):
        body = await viewer(authorization)
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

"""What the ban and lock tests share: a LiveKit whose webhooks reach service A, services A and B on one
moderation store (a shared SQLite file, or a PostgreSQL database) and one Redis, callers with each role, and
REST/GraphQL helpers."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.harness.livekit_server import LiveKitServer, node_ip_from_environment
from tests.harness.ports import free_port
from tests.harness.redis_server import RedisServer
from tests.harness.service import Service, run_service
from tests.integration.conftest import service_settings

ISSUER = "https://idp.moderation.test"
AUDIENCE = "gxrtc"
ADMIN_KEY = "moderation-admin-key-0123456789abcdef0123"
_PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_PUBLIC_PEM = (
    _PRIVATE.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def bearer(sub: str, roles: list[str], rooms: list[str] | None = None) -> dict[str, str]:
    """Authorization for a caller with these roles (and rooms, for a moderator)."""
    now = int(time.time())
    claims: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "roles": roles, "iat": now, "exp": now + 3600}
    if rooms is not None:
        claims["rooms"] = rooms
    return {"authorization": f"Bearer {jwt.encode(claims, _PRIVATE, algorithm='RS256')}"}


ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


@dataclass
class Stack:
    livekit: LiveKitServer
    a: Service
    b: Service


def moderation_settings(livekit: LiveKitServer, state_dir: Path, **overrides: str) -> dict[str, str]:
    return service_settings(
        livekit,
        GXRTC_ADMIN_KEY=ADMIN_KEY,
        GXRTC_AUTH_PUBLIC_KEY=_PUBLIC_PEM,
        GXRTC_AUTH_ISSUER=ISSUER,
        GXRTC_AUTH_AUDIENCE=AUDIENCE,
        GXRTC_STATE_DIR=str(state_dir),
        **overrides,
    )


@contextlib.contextmanager
def moderation_stack(
    tmp_path_factory: pytest.TempPathFactory, *, webhooks: bool, database_url: str | None = None, **overrides: str
) -> Iterator[Stack]:
    """A and B on one store (SQLite, or `database_url`) and one Redis; LiveKit's webhooks go to A when
    `webhooks`, else nowhere."""
    if database_url is not None:
        overrides = {**overrides, "GXRTC_DATABASE_URL": database_url}
    port_a = free_port()
    livekit = LiveKitServer(
        node_ip=node_ip_from_environment(),
        workdir=tmp_path_factory.mktemp("lk-moderation"),
        webhook_urls=[f"http://127.0.0.1:{port_a}/webhooks/livekit"] if webhooks else [],
    )
    redis = RedisServer(workdir=tmp_path_factory.mktemp("redis-moderation"))
    livekit.start()
    redis.start()
    try:
        settings = moderation_settings(
            livekit, tmp_path_factory.mktemp("store"), GXRTC_REDIS_URL=redis.url, **overrides
        )
        with run_service(settings, port=port_a) as a, run_service(settings) as b:
            yield Stack(livekit, a, b)
    finally:
        redis.stop()
        livekit.stop()


async def rest(
    service: Service, method: str, path: str, headers: dict[str, str] = ADMIN, **form: str
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=service.api, headers={"accept-language": "en", **headers}, timeout=15) as c:
        return await c.request(method, path, data=form or None)


async def graphql(service: Service, query: str, headers: dict[str, str] = ADMIN, **variables: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=service.base_url, headers=headers, timeout=15) as client:
        response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def mint(service: Service, uid: str, room: str, headers: dict[str, str] = ADMIN) -> str:
    response = await rest(service, "POST", "/room/token", headers, uid=uid, room=room)
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["access_token"])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]

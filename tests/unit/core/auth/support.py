"""What the authentication tests share: real keys, claims, forgeries made by hand, a real JWKS server.

Tokens are signed with PyJWT or by hand (for the forgeries PyJWT refuses to
make), never mocked; the JWKS server counts what it is asked, so fetch counts
are observed, not assumed. JWKS timing uses an injected clock.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import SecretStr

from graphql_api.core.auth import Authenticator
from graphql_api.errors import Unauthenticated
from graphql_api.settings import Settings

ISSUER = "https://idp.example.com/"
AUDIENCE = "gxrtc"
SECRET = "an-hs256-secret-that-is-long-enough-for-sure"
OTHER_SECRET = "another-hs256-secret-that-is-long-enough-too"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC_OTHER = ec.generate_private_key(ec.SECP256R1())


def pem(key: Any) -> bytes:
    data: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data


RSA_PEM = pem(RSA_KEY)
EC_PEM = pem(EC_KEY)

NOT_VALID = "the credential is not valid"
EXPIRED = "the token has expired"
NOT_YET = "the token is not valid yet"
WRONG_AUDIENCE = "the token is not meant for this service"
WRONG_ISSUER = "the token is from an issuer this service does not trust"
NO_SUB = "the token has no subject (sub)"
NO_EXP = "the token has no expiry (exp)"
BAD_SCHEME = "send the credential as Authorization: Bearer <credential>"
NOT_LOGGED_IN = Unauthenticated().message

DROP: Any = object()
"""A claim value meaning: leave the claim out."""


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
    values["jti"] = uuid.uuid4().hex  # every token distinct, so no test rides on another's verification
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not DROP}


def b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def raw_token(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return (
        b64(json.dumps(header).encode()) + b"." + b64(json.dumps(payload).encode()) + b"." + b64(signature)
    ).decode()


def hs256_by_hand(secret: bytes, payload: dict[str, Any], **header: Any) -> str:
    """HS256 with any bytes as the secret: PyJWT refuses PEM keys, which is what a key-confusion attack uses."""
    signing_input = b64(json.dumps({"alg": "HS256", "typ": "JWT", **header}).encode()) + b"."
    signing_input += b64(json.dumps(payload).encode())
    return (signing_input + b"." + b64(hmac.new(secret, signing_input, hashlib.sha256).digest())).decode()


def make_settings(**overrides: Any) -> Settings:
    # Every auth setting is given explicitly (explicit values beat the environment and a .env file).
    values: dict[str, Any] = {
        "auth_jwt_secret": None,
        "auth_public_key": None,
        "auth_jwks_url": None,
        "auth_issuer": ISSUER,
        "auth_audience": AUDIENCE,
        "auth_roles_claim": "roles",
        "auth_rooms_claim": "rooms",
        "auth_leeway_seconds": 30,
        "auth_jwks_cache_seconds": 300,
        "auth_jwks_min_refetch_seconds": 30,
        "api_keys": None,
        "admin_key": None,
    }
    values.update(overrides)
    return Settings(livekit_api_key="k", livekit_api_secret=SecretStr("s" * 32), **values)


def jwk(key: Any, kid: str, **extra: Any) -> dict[str, Any]:
    public = key.public_key()
    algorithm = RSAAlgorithm if isinstance(public, rsa.RSAPublicKey) else ECAlgorithm
    data: dict[str, Any] = algorithm.to_jwk(public, as_dict=True)
    return {**data, "kid": kid, **extra}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class JwksServer:
    """A real HTTP server for a JWK set that counts its requests."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": [jwk(RSA_KEY, "rsa-1"), jwk(EC_KEY, "ec-1")]}
        self.body: bytes | None = None
        self.status = 200
        self.delay = 0.0
        self.fetches = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/jwks.json", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/jwks.json"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.fetches += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.body is not None:
            return web.Response(body=self.body, status=self.status, content_type="application/json")
        return web.json_response(self.document, status=self.status)


async def rejected(auth: Authenticator, authorization: str | None) -> str:
    """The message `authorization` is rejected with; fails if it is accepted or raises anything else."""
    with pytest.raises(Unauthenticated) as info:
        await auth.authenticate(authorization)
    message = info.value.message
    for secret in (SECRET, OTHER_SECRET, RSA_PEM.decode(), EC_PEM.decode()):
        assert secret not in message
    if authorization:
        # What was presented (short words like "Bearer" aside) never comes back.
        credential = authorization.split(None, 1)[-1].strip() if authorization.strip() else ""
        assert len(credential) < 8 or credential not in message
    return message


def sha256_hex(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


API_KEYS = json.dumps(
    [
        {"name": "backend", "role": "admin", "sha256": sha256_hex("backend-key-0123456789")},
        {"name": "scheduler", "role": "moderator", "sha256": sha256_hex("scheduler-key-0123456789").upper()},
        {"name": "kiosk", "role": "user", "sha256": sha256_hex("kiosk-key-0123456789")},
    ]
)

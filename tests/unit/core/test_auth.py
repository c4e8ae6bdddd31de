"""Authentication with real keys, real signatures and a real JWKS server on 127.0.0.1.

Tokens are signed with PyJWT or by hand (for the forgeries PyJWT refuses to
make), never mocked; the JWKS server counts what it is asked, so fetch counts
are observed, not assumed. JWKS timing uses an injected clock.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pydantic import SecretStr

import graphql_api.core.auth.authenticator as auth_module
from graphql_api.core.auth import OPEN_ACCESS, Authenticator, Principal, Role
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


# The matrix: every way of verifying JWTs faces the same valid tokens and the same attacks.


@dataclass
class Scheme:
    name: str
    auth: Authenticator
    sign: Callable[[dict[str, Any]], str]
    """A correct signature."""
    forge: Callable[[dict[str, Any]], str]
    """The same kind of key and key id, but not the configured key."""
    confused: list[Callable[[dict[str, Any]], str]]
    """Tokens made with another algorithm, with the public key's bytes as an HMAC secret among them."""


SCHEMES = ["hs256", "rs256", "es256", "jwks-rs256", "jwks-es256"]


@pytest.fixture(params=SCHEMES)
async def scheme(
    request: pytest.FixtureRequest, jwks_server: JwksServer, make_auth: Callable[..., Authenticator]
) -> Scheme:
    name: str = request.param
    rsa_jwk_json = json.dumps(jwk(RSA_KEY, "rsa-1")).encode()

    def rs(key: Any, **headers: Any) -> Callable[[dict[str, Any]], str]:
        return lambda payload: jwt.encode(payload, key, algorithm="RS256", headers=headers or None)

    def es(key: Any, **headers: Any) -> Callable[[dict[str, Any]], str]:
        return lambda payload: jwt.encode(payload, key, algorithm="ES256", headers=headers or None)

    def hs(secret: bytes, **headers: Any) -> Callable[[dict[str, Any]], str]:
        return lambda payload: hs256_by_hand(secret, payload, **headers)

    if name == "hs256":
        return Scheme(
            name,
            make_auth(make_settings(auth_jwt_secret=SecretStr(SECRET))),
            sign=hs(SECRET.encode()),
            forge=hs(OTHER_SECRET.encode()),
            confused=[rs(RSA_KEY), es(EC_KEY), hs(RSA_PEM)],
        )
    if name == "rs256":
        return Scheme(
            name,
            make_auth(make_settings(auth_public_key=RSA_PEM.decode())),
            sign=rs(RSA_KEY),
            forge=rs(RSA_OTHER),
            confused=[hs(RSA_PEM), hs(RSA_PEM.strip()), es(EC_KEY)],
        )
    if name == "es256":
        return Scheme(
            name,
            make_auth(make_settings(auth_public_key=EC_PEM.decode())),
            sign=es(EC_KEY),
            forge=es(EC_OTHER),
            confused=[hs(EC_PEM), rs(RSA_KEY)],
        )
    auth = make_auth(make_settings(auth_jwks_url=jwks_server.url), clock=FakeClock())
    if name == "jwks-rs256":
        return Scheme(
            name,
            auth,
            sign=rs(RSA_KEY, kid="rsa-1"),
            forge=rs(RSA_OTHER, kid="rsa-1"),
            confused=[hs(RSA_PEM, kid="rsa-1"), hs(rsa_jwk_json, kid="rsa-1"), es(EC_KEY, kid="rsa-1")],
        )
    return Scheme(
        name,
        auth,
        sign=es(EC_KEY, kid="ec-1"),
        forge=es(EC_OTHER, kid="ec-1"),
        confused=[hs(EC_PEM, kid="ec-1"), rs(RSA_KEY, kid="ec-1")],
    )


async def test_valid_tokens_carry_uid_roles_and_rooms(scheme: Scheme) -> None:
    user = await scheme.auth.authenticate("Bearer " + scheme.sign(claims(sub="u-1")))
    assert user == Principal(uid="u-1", roles=frozenset({Role.USER}), via="jwt")
    assert not user.is_admin
    assert not user.moderates("town-hall")

    moderator = await scheme.auth.authenticate(
        "Bearer " + scheme.sign(claims(sub="m-1", roles=["moderator"], rooms=["town-hall", "standup"]))
    )
    assert moderator.uid == "m-1"
    assert moderator.roles == {Role.MODERATOR}
    assert moderator.rooms == {"town-hall", "standup"}
    assert moderator.moderates("town-hall")
    assert not moderator.moderates("board-meeting")
    assert not moderator.is_admin

    admin = await scheme.auth.authenticate("Bearer " + scheme.sign(claims(sub="a-1", roles="admin")))
    assert admin.uid == "a-1"
    assert admin.is_admin
    assert admin.moderates("any-room-at-all")


async def test_scheme_is_case_insensitive_and_spaces_are_tolerated(scheme: Scheme) -> None:
    for prefix in ("bearer ", "BEARER ", "Bearer   "):
        principal = await scheme.auth.authenticate(prefix + scheme.sign(claims(sub="bob")) + "  ")
        assert principal.uid == "bob"


async def test_expired_token(scheme: Scheme) -> None:
    now = int(time.time())
    token = scheme.sign(claims(iat=now - 7200, exp=now - 3600))
    assert await rejected(scheme.auth, "Bearer " + token) == EXPIRED


async def test_token_not_yet_valid(scheme: Scheme) -> None:
    now = int(time.time())
    token = scheme.sign(claims(nbf=now + 3600, exp=now + 7200))
    assert await rejected(scheme.auth, "Bearer " + token) == NOT_YET


async def test_leeway_is_honoured_both_ways(scheme: Scheme) -> None:
    now = int(time.time())
    # Leeway is 30 s: a token that expired 5 s ago, or starts in 5 s, is still fine.
    late = await scheme.auth.authenticate("Bearer " + scheme.sign(claims(sub="late", exp=now - 5)))
    early = await scheme.auth.authenticate("Bearer " + scheme.sign(claims(sub="early", nbf=now + 5)))
    assert (late.uid, early.uid) == ("late", "early")


async def test_bad_signature(scheme: Scheme) -> None:
    assert await rejected(scheme.auth, "Bearer " + scheme.forge(claims())) == NOT_VALID


async def test_tampered_payload_keeps_no_signature_valid(scheme: Scheme) -> None:
    header, _, signature = scheme.sign(claims(sub="mallory")).split(".")
    payload = b64(json.dumps(claims(sub="mallory", roles=["admin"])).encode()).decode()
    assert await rejected(scheme.auth, f"Bearer {header}.{payload}.{signature}") == NOT_VALID


async def test_alg_none(scheme: Scheme) -> None:
    valid = scheme.sign(claims())
    header = json.loads(base64.urlsafe_b64decode(valid.split(".")[0] + "=="))
    for alg in ("none", "None", "NONE"):
        forged = raw_token({**header, "alg": alg}, claims(roles=["admin"]))
        assert await rejected(scheme.auth, "Bearer " + forged) == NOT_VALID
        # ...and with the valid token's signature left on.
        forged_with_sig = forged + valid.split(".")[2]
        assert await rejected(scheme.auth, "Bearer " + forged_with_sig) == NOT_VALID
    made_by_pyjwt = jwt.encode(claims(), "", algorithm="none", headers={"kid": header.get("kid", "x")})
    assert await rejected(scheme.auth, "Bearer " + made_by_pyjwt) == NOT_VALID


async def test_key_confusion_and_other_algorithms(scheme: Scheme) -> None:
    assert scheme.confused
    for make in scheme.confused:
        assert await rejected(scheme.auth, "Bearer " + make(claims(roles=["admin"]))) == NOT_VALID


async def test_wrong_or_missing_audience(scheme: Scheme) -> None:
    assert await rejected(scheme.auth, "Bearer " + scheme.sign(claims(aud="another-service"))) == WRONG_AUDIENCE
    assert await rejected(scheme.auth, "Bearer " + scheme.sign(claims(aud=DROP))) == WRONG_AUDIENCE
    # A list of audiences that includes ours is fine.
    both = await scheme.auth.authenticate("Bearer " + scheme.sign(claims(aud=["another-service", AUDIENCE])))
    assert both.uid == "alice"


async def test_wrong_or_missing_issuer(scheme: Scheme) -> None:
    assert await rejected(scheme.auth, "Bearer " + scheme.sign(claims(iss="https://evil.example/"))) == WRONG_ISSUER
    assert await rejected(scheme.auth, "Bearer " + scheme.sign(claims(iss=DROP))) == WRONG_ISSUER


async def test_missing_or_bad_sub(scheme: Scheme) -> None:
    assert await rejected(scheme.auth, "Bearer " + scheme.sign(claims(sub=DROP))) == NO_SUB
    assert await rejected(scheme.auth, "Bearer " + scheme.sign(claims(sub=""))) == NO_SUB
    assert await rejected(scheme.auth, "Bearer " + scheme.sign(claims(sub=None))) == NO_SUB
    assert await rejected(scheme.auth, "Bearer " + scheme.sign(claims(sub=12345))) == NOT_VALID


async def test_missing_or_bad_exp(scheme: Scheme) -> None:
    assert await rejected(scheme.auth, "Bearer " + scheme.sign(claims(exp=DROP))) == NO_EXP
    assert await rejected(scheme.auth, "Bearer " + scheme.sign(claims(exp="tomorrow"))) == NOT_VALID


GARBAGE = [
    "a.b.c",
    "..",
    "!!!.###.$$$",
    "....",
    "not-a-token",
    "eyJhbGciOiJIUzI1NiJ9..",
    b64(b"not json").decode() + "." + b64(b"{}").decode() + ".c2ln",
    b64(b"[1,2]").decode() + "." + b64(b"{}").decode() + ".c2ln",
    b64(b'{"alg":123}').decode() + "." + b64(b"{}").decode() + ".c2ln",
    b64(b'{"alg":"HS256","kid":123}').decode() + "." + b64(b'{"sub":"x"}').decode() + ".c2ln",
    b64(b'{"alg":"RS256","b64":false,"crit":["b64"]}').decode() + "..c2ln",
    "\u00e9\u00e9.\u00e9\u00e9.\u00e9\u00e9",
    "\x00.\x00.\x00",
    "x" * 20_000 + ".y.z",
    "y" * 40_000,
]


@pytest.mark.parametrize("credential", GARBAGE, ids=range(len(GARBAGE)))
async def test_garbage(scheme: Scheme, credential: str) -> None:
    assert await rejected(scheme.auth, "Bearer " + credential) == NOT_VALID


async def test_wrong_scheme(scheme: Scheme) -> None:
    token = scheme.sign(claims())
    for header in ("Basic dXNlcjpwYXNz", "Token " + token, "JWT " + token, "Bearer:" + token, "Bearer" + token):
        assert await rejected(scheme.auth, header) == BAD_SCHEME


@pytest.mark.parametrize("header", [None, "", "   ", "Bearer", "bearer   ", "\t"])
async def test_no_credential(scheme: Scheme, header: str | None) -> None:
    assert await rejected(scheme.auth, header) == NOT_LOGGED_IN


# Claims.


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (DROP, {Role.USER}),
        ("user", {Role.USER}),
        ("moderator", {Role.MODERATOR}),
        (["admin", "moderator"], {Role.ADMIN, Role.MODERATOR}),
        (["superuser", "admin"], {Role.ADMIN}),
        (["superuser", "Admin", "ADMIN"], {Role.USER}),
        ("root", {Role.USER}),
        ([], {Role.USER}),
        ([["admin"], {"admin": True}, 7, None], {Role.USER}),
        ({"admin": True}, {Role.USER}),
        (True, {Role.USER}),
    ],
)
async def test_roles_claim(make_auth: Callable[..., Authenticator], value: Any, expected: set[Role]) -> None:
    auth = make_auth(make_settings(auth_jwt_secret=SecretStr(SECRET)))
    principal = await auth.authenticate("Bearer " + jwt.encode(claims(roles=value), SECRET, algorithm="HS256"))
    assert principal.roles == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (DROP, set()),
        (["a", "b", "a"], {"a", "b"}),
        ("solo", {"solo"}),
        (["a", 7, None, ["b"], ""], {"a"}),
        ({"a": 1}, set()),
    ],
)
async def test_rooms_claim(make_auth: Callable[..., Authenticator], value: Any, expected: set[str]) -> None:
    auth = make_auth(make_settings(auth_jwt_secret=SecretStr(SECRET)))
    token = jwt.encode(claims(roles=["moderator"], rooms=value), SECRET, algorithm="HS256")
    principal = await auth.authenticate("Bearer " + token)
    assert principal.rooms == expected
    assert principal.moderates("a") == ("a" in expected)


async def test_claim_names_come_from_settings(make_auth: Callable[..., Authenticator]) -> None:
    auth = make_auth(
        make_settings(
            auth_jwt_secret=SecretStr(SECRET), auth_roles_claim="https://gx/roles", auth_rooms_claim="gx_rooms"
        )
    )
    token = jwt.encode(
        claims(**{"https://gx/roles": ["moderator"], "gx_rooms": ["r1"], "roles": ["admin"], "rooms": ["r2"]}),
        SECRET,
        algorithm="HS256",
    )
    principal = await auth.authenticate("Bearer " + token)
    assert principal.roles == {Role.MODERATOR}
    assert principal.rooms == {"r1"}


async def test_issuer_and_audience_are_not_checked_when_not_set(make_auth: Callable[..., Authenticator]) -> None:
    auth = make_auth(make_settings(auth_jwt_secret=SecretStr(SECRET), auth_issuer=None, auth_audience=None))
    for extra in ({"iss": "anyone", "aud": "anything"}, {"iss": DROP, "aud": DROP}):
        principal = await auth.authenticate("Bearer " + jwt.encode(claims(**extra), SECRET, algorithm="HS256"))
        assert principal.uid == "alice"


async def test_zero_leeway_is_exact(make_auth: Callable[..., Authenticator]) -> None:
    auth = make_auth(make_settings(auth_jwt_secret=SecretStr(SECRET), auth_leeway_seconds=0))
    token = jwt.encode(claims(exp=int(time.time()) - 2), SECRET, algorithm="HS256")
    assert await rejected(auth, "Bearer " + token) == EXPIRED


async def test_public_key_from_a_file_a_one_line_pem_and_a_certificate(
    make_auth: Callable[..., Authenticator], tmp_path: Path
) -> None:
    path = tmp_path / "idp.pem"
    path.write_bytes(EC_PEM)
    by_path = make_auth(make_settings(auth_public_key=str(path)))
    assert (await by_path.authenticate("Bearer " + jwt.encode(claims(), EC_KEY, algorithm="ES256"))).uid == "alice"

    one_line = make_auth(make_settings(auth_public_key=EC_PEM.decode().replace("\n", "\\n")))
    assert (await one_line.authenticate("Bearer " + jwt.encode(claims(), EC_KEY, algorithm="ES256"))).uid == "alice"

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(RSA_KEY.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(RSA_KEY, hashes.SHA256())
    )
    by_certificate = make_auth(
        make_settings(auth_public_key=certificate.public_bytes(serialization.Encoding.PEM).decode())
    )
    token = jwt.encode(claims(), RSA_KEY, algorithm="RS256")
    assert (await by_certificate.authenticate("Bearer " + token)).uid == "alice"
    assert await rejected(by_certificate, "Bearer " + hs256_by_hand(RSA_PEM, claims())) == NOT_VALID


# The verified-token cache.


async def test_a_remembered_token_still_expires(make_auth: Callable[..., Authenticator]) -> None:
    wall = FakeClock()
    wall.now = time.time()
    auth = make_auth(make_settings(auth_jwt_secret=SecretStr(SECRET), auth_leeway_seconds=0), wall_clock=wall)
    token = jwt.encode(claims(exp=int(wall.now) + 20), SECRET, algorithm="HS256")
    first = await auth.authenticate("Bearer " + token)
    assert await auth.authenticate("Bearer " + token) is first  # remembered, not decoded again
    wall.advance(25)
    assert await rejected(auth, "Bearer " + token) == EXPIRED


async def test_a_rejected_token_is_not_remembered(make_auth: Callable[..., Authenticator]) -> None:
    auth = make_auth(make_settings(auth_jwt_secret=SecretStr(SECRET)))
    token = jwt.encode(claims(nbf=int(time.time()) + 3600), SECRET, algorithm="HS256")
    assert await rejected(auth, "Bearer " + token) == NOT_YET
    assert await rejected(auth, "Bearer " + token) == NOT_YET


# API keys.


def sha256_hex(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


API_KEYS = json.dumps(
    [
        {"name": "backend", "role": "admin", "sha256": sha256_hex("backend-key-0123456789")},
        {"name": "scheduler", "role": "moderator", "sha256": sha256_hex("scheduler-key-0123456789").upper()},
        {"name": "kiosk", "role": "user", "sha256": sha256_hex("kiosk-key-0123456789")},
    ]
)


async def test_api_keys_map_to_their_own_principal(make_auth: Callable[..., Authenticator]) -> None:
    auth = make_auth(make_settings(api_keys=API_KEYS))
    assert auth.configured
    backend = await auth.authenticate("Bearer backend-key-0123456789")
    assert backend == Principal(uid="key:backend", roles=frozenset({Role.ADMIN}), rooms=frozenset(), via="api_key")
    assert backend.is_admin
    scheduler = await auth.authenticate("Bearer scheduler-key-0123456789")
    assert (scheduler.uid, scheduler.roles, scheduler.via) == ("key:scheduler", frozenset({Role.MODERATOR}), "api_key")
    assert not scheduler.moderates("any-room")  # an API-key moderator runs no rooms
    kiosk = await auth.authenticate("bearer kiosk-key-0123456789")
    assert (kiosk.uid, kiosk.roles) == ("key:kiosk", frozenset({Role.USER}))


@pytest.mark.parametrize(
    "credential",
    [
        "backend-key-012345678",
        "backend-key-0123456789x",
        "BACKEND-KEY-0123456789",
        sha256_hex("backend-key-0123456789"),
    ],
)
async def test_wrong_api_key(make_auth: Callable[..., Authenticator], credential: str) -> None:
    auth = make_auth(make_settings(api_keys=API_KEYS))
    assert await rejected(auth, "Bearer " + credential) == NOT_VALID


@pytest.mark.parametrize("credential", ["backend-key-0123456789", "kiosk-key-0123456789", "no-such-key"])
async def test_every_configured_hash_is_compared(
    make_auth: Callable[..., Authenticator], monkeypatch: pytest.MonkeyPatch, credential: str
) -> None:
    # A spy around the real comparison: stopping at the first match would tell an attacker which key matched.
    compared: list[bytes] = []

    def compare_digest(a: bytes, b: bytes) -> bool:
        compared.append(b)
        return hmac.compare_digest(a, b)

    monkeypatch.setattr(auth_module, "hmac", SimpleNamespace(compare_digest=compare_digest))
    auth = make_auth(make_settings(api_keys=API_KEYS, admin_key=SecretStr("the-admin-key-0123456789")))
    try:
        await auth.authenticate("Bearer " + credential)
    except Unauthenticated:
        assert credential == "no-such-key"
    expected = [bytes.fromhex(entry["sha256"]) for entry in json.loads(API_KEYS)]
    assert compared == [*expected, hashlib.sha256(b"the-admin-key-0123456789").digest()]


async def test_admin_key(make_auth: Callable[..., Authenticator]) -> None:
    auth = make_auth(make_settings(admin_key=SecretStr("the-admin-key-0123456789"), api_keys=API_KEYS))
    admin = await auth.authenticate("Bearer the-admin-key-0123456789")
    assert admin == Principal(uid="key:admin", roles=frozenset({Role.ADMIN}), via="api_key")
    assert (await auth.authenticate("Bearer kiosk-key-0123456789")).uid == "key:kiosk"
    assert await rejected(auth, "Bearer the-admin-key") == NOT_VALID

    only_admin = make_auth(make_settings(admin_key=SecretStr("the-admin-key-0123456789")))
    assert (await only_admin.authenticate("Bearer the-admin-key-0123456789")).uid == "key:admin"


async def test_two_dots_make_a_jwt_and_anything_else_a_key(make_auth: Callable[..., Authenticator]) -> None:
    dotted = json.dumps([{"name": "dotted", "role": "admin", "sha256": sha256_hex("a.b.c")}])
    only_keys = make_auth(make_settings(api_keys=dotted))
    # A key with exactly two dots is read as a JWT, which no key can verify here.
    assert await rejected(only_keys, "Bearer a.b.c") == NOT_VALID
    assert await rejected(only_keys, "Bearer " + jwt.encode(claims(), SECRET, algorithm="HS256")) == NOT_VALID

    only_jwt = make_auth(make_settings(auth_jwt_secret=SecretStr(SECRET)))
    assert await rejected(only_jwt, "Bearer backend-key-0123456789") == NOT_VALID

    both = make_auth(make_settings(auth_jwt_secret=SecretStr(SECRET), api_keys=API_KEYS))
    assert (await both.authenticate("Bearer backend-key-0123456789")).via == "api_key"
    assert (await both.authenticate("Bearer " + jwt.encode(claims(), SECRET, algorithm="HS256"))).via == "jwt"


# Open access and configuration.


async def test_nothing_configured_is_open_access(make_auth: Callable[..., Authenticator]) -> None:
    auth = make_auth(make_settings())
    assert not auth.configured
    assert await auth.authenticate(None) is OPEN_ACCESS
    assert await auth.authenticate("Bearer whatever") is OPEN_ACCESS
    assert OPEN_ACCESS.is_admin
    assert OPEN_ACCESS.via == "anonymous"
    assert OPEN_ACCESS.moderates("any-room")


@pytest.mark.parametrize(
    "overrides",
    [
        {"auth_jwt_secret": SecretStr(SECRET)},
        {"auth_public_key": RSA_PEM.decode()},
        {"auth_jwks_url": "https://idp.example.com/.well-known/jwks.json"},
        {"api_keys": API_KEYS},
        {"api_keys": "[]"},
        {"admin_key": SecretStr("the-admin-key-0123456789")},
    ],
)
async def test_any_credential_setting_turns_authentication_on(
    make_auth: Callable[..., Authenticator], overrides: dict[str, Any]
) -> None:
    auth = make_auth(make_settings(**overrides))
    assert auth.configured
    assert await rejected(auth, None) == NOT_LOGGED_IN


RSA_1024_PEM = pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)).decode()
PRIVATE_PEM = RSA_KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()


def api_key(**entry: Any) -> str:
    return json.dumps([{"name": "backend", "role": "admin", "sha256": sha256_hex("k"), **entry}])


CONFIG_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"auth_jwt_secret": SecretStr(SECRET), "auth_public_key": RSA_PEM.decode()}, "only one of"),
    ({"auth_jwt_secret": SecretStr(SECRET), "auth_jwks_url": "https://idp.example.com/jwks"}, "only one of"),
    ({"auth_public_key": EC_PEM.decode(), "auth_jwks_url": "https://idp.example.com/jwks"}, "only one of"),
    ({"auth_jwt_secret": SecretStr("short")}, "at least 32 bytes"),
    ({"auth_jwt_secret": SecretStr(RSA_PEM.decode())}, "looks like a public key"),
    ({"auth_public_key": "-----BEGIN PUBLIC KEY-----\nbm9wZQ==\n-----END PUBLIC KEY-----\n"}, "not a PEM public key"),
    ({"auth_public_key": PRIVATE_PEM}, "not a PEM public key"),
    ({"auth_public_key": RSA_1024_PEM}, "at least 2048"),
    ({"auth_public_key": pem(ec.generate_private_key(ec.SECP384R1())).decode()}, "only P-256"),
    ({"auth_public_key": pem(ed25519.Ed25519PrivateKey.generate()).decode()}, "only RSA (RS256) and EC P-256"),
    ({"auth_public_key": "/nonexistent/idp.pem"}, "cannot read"),
    ({"auth_public_key": "  "}, "set but empty"),
    ({"auth_jwks_url": "http://idp.example.com/jwks"}, "must be https://"),
    ({"auth_jwks_url": "ftp://idp.example.com/jwks"}, "must be an https:// URL"),
    ({"auth_jwks_url": "idp.example.com/jwks"}, "must be an https:// URL"),
    ({"auth_jwt_secret": SecretStr(SECRET), "auth_issuer": ""}, "auth_issuer is set but empty"),
    ({"auth_jwt_secret": SecretStr(SECRET), "auth_audience": " "}, "auth_audience is set but empty"),
    ({"auth_jwt_secret": SecretStr(SECRET), "auth_roles_claim": ""}, "auth_roles_claim is set but empty"),
    ({"api_keys": "not json"}, "api_keys is not JSON"),
    ({"api_keys": '{"name": "backend"}'}, "must be a JSON list"),
    ({"api_keys": "[1]"}, "api_keys[0] must be an object"),
    ({"api_keys": json.dumps([{"name": "backend", "role": "admin"}])}, "api_keys[0] lacks sha256"),
    ({"api_keys": api_key(sha265="x")}, "unknown fields sha265"),
    ({"api_keys": api_key(role="root")}, "api_keys[0].role must be one of user, moderator, admin"),
    ({"api_keys": api_key(name="")}, "api_keys[0].name must be a non-empty string"),
    ({"api_keys": api_key(sha256="abc123")}, "64 hex digits"),
    ({"api_keys": api_key(sha256="z" * 64)}, "64 hex digits"),
    ({"api_keys": api_key(sha256=12)}, "64 hex digits"),
    (
        {
            "api_keys": json.dumps(
                [
                    {"name": "a", "role": "admin", "sha256": sha256_hex("k")},
                    {"name": "a", "role": "user", "sha256": sha256_hex("j")},
                ]
            )
        },
        "its own name",
    ),
    (
        {
            "api_keys": json.dumps(
                [
                    {"name": "a", "role": "admin", "sha256": sha256_hex("k")},
                    {"name": "b", "role": "user", "sha256": sha256_hex("k")},
                ]
            )
        },
        "configured twice",
    ),
    ({"admin_key": SecretStr("")}, "admin_key is set but empty"),
    ({"admin_key": SecretStr("one.two.three")}, "two dots"),
    ({"admin_key": SecretStr(" padded-admin-key ")}, "whitespace"),
    ({"admin_key": SecretStr("the-admin-key-0123456789"), "api_keys": api_key(name="admin")}, "its own name"),
    ({"admin_key": SecretStr("k"), "api_keys": api_key(name="other")}, "configured twice"),
]


@pytest.mark.parametrize(("overrides", "message"), CONFIG_ERRORS, ids=[message for _, message in CONFIG_ERRORS])
def test_config_errors(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        Authenticator(make_settings(**overrides))
    for value in overrides.values():
        secret = value.get_secret_value() if isinstance(value, SecretStr) else None
        if secret and len(secret) > 2:
            assert secret not in str(info.value)


def test_loopback_jwks_may_be_plain_http() -> None:
    for url in ("http://127.0.0.1:9/jwks", "http://localhost/jwks", "http://[::1]:9/jwks"):
        assert Authenticator(make_settings(auth_jwks_url=url)).configured


# JWKS fetching.


async def test_jwks_single_flight_under_concurrency(
    jwks_server: JwksServer, make_auth: Callable[..., Authenticator]
) -> None:
    jwks_server.delay = 0.05
    auth = make_auth(make_settings(auth_jwks_url=jwks_server.url))
    tokens = [jwt.encode(claims(sub=f"u{i}"), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"}) for i in range(50)]
    principals = await asyncio.gather(*(auth.authenticate("Bearer " + token) for token in tokens))
    assert [principal.uid for principal in principals] == [f"u{i}" for i in range(50)]
    assert jwks_server.fetches == 1
    # Warm now: more tokens, with either known key, fetch nothing.
    await auth.authenticate("Bearer " + jwt.encode(claims(), EC_KEY, algorithm="ES256", headers={"kid": "ec-1"}))
    assert jwks_server.fetches == 1


async def test_a_caller_that_goes_away_does_not_cancel_the_shared_fetch(
    jwks_server: JwksServer, make_auth: Callable[..., Authenticator]
) -> None:
    jwks_server.delay = 0.2
    auth = make_auth(make_settings(auth_jwks_url=jwks_server.url))
    token = "Bearer " + jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
    leaving = asyncio.ensure_future(auth.authenticate(token))
    staying = asyncio.ensure_future(auth.authenticate(token))
    await asyncio.sleep(0.05)
    leaving.cancel()
    assert (await staying).uid == "alice"
    assert leaving.cancelled()
    assert jwks_server.fetches == 1


def random_kid_token() -> str:
    return "Bearer " + jwt.encode(claims(), RSA_OTHER, algorithm="RS256", headers={"kid": uuid.uuid4().hex})


async def test_random_kids_refetch_at_most_once_per_interval(
    jwks_server: JwksServer, make_auth: Callable[..., Authenticator]
) -> None:
    clock = FakeClock()
    auth = make_auth(make_settings(auth_jwks_url=jwks_server.url, auth_jwks_min_refetch_seconds=30), clock=clock)
    good = jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
    assert (await auth.authenticate("Bearer " + good)).uid == "alice"
    assert jwks_server.fetches == 1

    clock.advance(5)
    for _ in range(100):
        assert await rejected(auth, random_kid_token()) == NOT_VALID
    assert jwks_server.fetches == 1  # within the interval of the last fetch: none

    clock.advance(30)
    results = await asyncio.gather(*(auth.authenticate(random_kid_token()) for _ in range(100)), return_exceptions=True)
    assert all(isinstance(result, Unauthenticated) and result.message == NOT_VALID for result in results)
    assert jwks_server.fetches == 2  # past the interval: exactly one

    for _ in range(100):
        clock.advance(0.1)
        assert await rejected(auth, random_kid_token()) == NOT_VALID
    assert jwks_server.fetches == 2
    # Known keys kept working throughout.
    assert (await auth.authenticate("Bearer " + good)).uid == "alice"


async def test_rotated_key_is_picked_up_after_the_interval(
    jwks_server: JwksServer, make_auth: Callable[..., Authenticator]
) -> None:
    clock = FakeClock()
    auth = make_auth(make_settings(auth_jwks_url=jwks_server.url, auth_jwks_min_refetch_seconds=30), clock=clock)
    old = "Bearer " + jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
    assert (await auth.authenticate(old)).uid == "alice"
    assert jwks_server.fetches == 1

    jwks_server.document = {"keys": [jwk(RSA_KEY, "rsa-1"), jwk(RSA_OTHER, "rsa-2")]}
    new = "Bearer " + jwt.encode(claims(sub="bob"), RSA_OTHER, algorithm="RS256", headers={"kid": "rsa-2"})
    clock.advance(10)
    assert await rejected(auth, new) == NOT_VALID
    assert jwks_server.fetches == 1

    clock.advance(25)
    assert (await auth.authenticate(new)).uid == "bob"
    assert jwks_server.fetches == 2
    assert (await auth.authenticate(old)).uid == "alice"
    assert jwks_server.fetches == 2


async def test_stale_key_set_is_refreshed_and_removed_keys_stop_working(
    jwks_server: JwksServer, make_auth: Callable[..., Authenticator]
) -> None:
    clock = FakeClock()
    auth = make_auth(
        make_settings(auth_jwks_url=jwks_server.url, auth_jwks_cache_seconds=300, auth_jwks_min_refetch_seconds=30),
        clock=clock,
    )

    def token(key: Any, kid: str) -> str:
        return "Bearer " + jwt.encode(claims(), key, algorithm="RS256", headers={"kid": kid})

    assert (await auth.authenticate(token(RSA_KEY, "rsa-1"))).uid == "alice"
    clock.advance(299)
    assert (await auth.authenticate(token(RSA_KEY, "rsa-1"))).uid == "alice"
    assert jwks_server.fetches == 1

    jwks_server.document = {"keys": [jwk(RSA_OTHER, "rsa-2")]}
    clock.advance(2)
    assert await rejected(auth, token(RSA_KEY, "rsa-1")) == NOT_VALID
    assert jwks_server.fetches == 2
    assert (await auth.authenticate(token(RSA_OTHER, "rsa-2"))).uid == "alice"
    assert jwks_server.fetches == 2


async def test_jwks_down_with_a_warm_cache_keeps_working(
    jwks_server: JwksServer, make_auth: Callable[..., Authenticator]
) -> None:
    clock = FakeClock()
    auth = make_auth(
        make_settings(auth_jwks_url=jwks_server.url, auth_jwks_cache_seconds=60, auth_jwks_min_refetch_seconds=30),
        clock=clock,
    )

    def token() -> str:
        return "Bearer " + jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})

    assert (await auth.authenticate(token())).uid == "alice"

    jwks_server.status = 503
    clock.advance(61)
    assert (await auth.authenticate(token())).uid == "alice"
    assert jwks_server.fetches == 2  # it did try, and the answer was an error
    jwks_server.body = b"<html>not json</html>"
    jwks_server.status = 200
    clock.advance(31)
    assert (await auth.authenticate(token())).uid == "alice"
    assert jwks_server.fetches == 3

    await jwks_server.stop()
    clock.advance(31)
    assert (await auth.authenticate(token())).uid == "alice"
    assert await rejected(auth, random_kid_token()) == NOT_VALID


async def test_jwks_down_with_a_cold_cache_is_unauthenticated(
    jwks_server: JwksServer, make_auth: Callable[..., Authenticator]
) -> None:
    clock = FakeClock()
    jwks_server.status = 500
    auth = make_auth(make_settings(auth_jwks_url=jwks_server.url, auth_jwks_min_refetch_seconds=30), clock=clock)
    token = "Bearer " + jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
    assert await rejected(auth, token) == NOT_VALID
    assert await rejected(auth, token) == NOT_VALID
    assert jwks_server.fetches == 1  # a down identity provider is not hammered
    clock.advance(31)
    jwks_server.status = 200
    assert (await auth.authenticate(token)).uid == "alice"
    assert jwks_server.fetches == 2


async def test_jwks_unreachable_with_a_cold_cache_is_unauthenticated(
    jwks_server: JwksServer, make_auth: Callable[..., Authenticator]
) -> None:
    url = jwks_server.url
    await jwks_server.stop()  # nothing listens on the port any more: connection refused
    auth = make_auth(make_settings(auth_jwks_url=url))
    token = "Bearer " + jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
    assert await rejected(auth, token) == NOT_VALID


async def test_jwks_keys_are_pinned_by_key_type(
    jwks_server: JwksServer, make_auth: Callable[..., Authenticator]
) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    jwks_server.document = {
        "keys": [
            jwk(RSA_KEY, "rsa-declared", alg="RS256", use="sig"),
            jwk(RSA_KEY, "rsa-says-es256", alg="ES256"),
            jwk(RSA_KEY, "rsa-says-hs256", alg="HS256"),
            jwk(RSA_KEY, "rsa-says-ps256", alg="PS256"),
            jwk(RSA_KEY, "rsa-for-encryption", use="enc"),
            jwk(RSA_KEY, "rsa-sign-only", key_ops=["sign"]),
            jwk(EC_KEY, "ec-1"),
            jwk(EC_KEY, "ec-says-es384", alg="ES384"),
            jwk(p384, "p384"),
            {"kty": "oct", "kid": "oct", "k": b64(SECRET.encode()).decode()},
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            jwk(RSA_OTHER, ""),
            "not-an-object",
        ]
    }
    auth = make_auth(make_settings(auth_jwks_url=jwks_server.url))

    def rs(kid: str) -> str:
        return "Bearer " + jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": kid})

    def es(kid: str, key: Any = EC_KEY, algorithm: str = "ES256") -> str:
        return "Bearer " + jwt.encode(claims(), key, algorithm=algorithm, headers={"kid": kid})

    assert (await auth.authenticate(rs("rsa-declared"))).uid == "alice"
    assert (await auth.authenticate(es("ec-1"))).uid == "alice"
    for kid in ("rsa-says-es256", "rsa-says-hs256", "rsa-says-ps256", "rsa-for-encryption", "rsa-sign-only", "broken"):
        assert await rejected(auth, rs(kid)) == NOT_VALID, kid
    assert await rejected(auth, es("ec-says-es384")) == NOT_VALID
    assert await rejected(auth, es("p384", p384, "ES384")) == NOT_VALID
    assert await rejected(auth, "Bearer " + hs256_by_hand(SECRET.encode(), claims(), kid="oct")) == NOT_VALID
    # An RS256 token naming the EC key's id, and the reverse: the key type decides the algorithm.
    assert await rejected(auth, rs("ec-1")) == NOT_VALID
    assert await rejected(auth, es("rsa-declared")) == NOT_VALID
    # No kid at all: nothing to look up.
    assert await rejected(auth, "Bearer " + jwt.encode(claims(), RSA_KEY, algorithm="RS256")) == NOT_VALID
    assert jwks_server.fetches == 1


async def test_jwks_without_a_usable_key_is_a_failed_fetch(
    jwks_server: JwksServer, make_auth: Callable[..., Authenticator]
) -> None:
    jwks_server.document = {"keys": [{"kty": "oct", "kid": "oct", "k": b64(SECRET.encode()).decode()}]}
    auth = make_auth(make_settings(auth_jwks_url=jwks_server.url))
    assert await rejected(auth, "Bearer " + hs256_by_hand(SECRET.encode(), claims(), kid="oct")) == NOT_VALID


async def test_aclose_is_idempotent_and_a_closed_authenticator_can_fetch_again(
    jwks_server: JwksServer, make_auth: Callable[..., Authenticator]
) -> None:
    clock = FakeClock()
    auth = make_auth(make_settings(auth_jwks_url=jwks_server.url), clock=clock)

    def token() -> str:
        return "Bearer " + jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})

    assert (await auth.authenticate(token())).uid == "alice"
    await auth.aclose()
    await auth.aclose()
    clock.advance(1000)
    assert (await auth.authenticate(token())).uid == "alice"
    assert jwks_server.fetches == 2


# Nothing secret in logs.


@pytest.fixture
def auth_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG, logger="graphql_api.core.auth"):
        yield caplog


async def test_logs_never_carry_secrets_or_tokens(
    auth_logs: pytest.LogCaptureFixture, jwks_server: JwksServer, make_auth: Callable[..., Authenticator]
) -> None:
    hs = make_auth(make_settings(auth_jwt_secret=SecretStr(SECRET), api_keys=API_KEYS))
    presented = [
        jwt.encode(claims(exp=int(time.time()) - 3600), SECRET, algorithm="HS256"),
        jwt.encode(claims(), OTHER_SECRET, algorithm="HS256"),
        jwt.encode(claims(aud="elsewhere"), SECRET, algorithm="HS256"),
        hs256_by_hand(RSA_PEM, claims()),
        "backend-key-012345678",
    ]
    for credential in presented:
        await rejected(hs, "Bearer " + credential)

    jwks_server.status = 500
    jwks = make_auth(make_settings(auth_jwks_url=jwks_server.url + "?token=query-secret"))
    jwks_token = jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
    await rejected(jwks, "Bearer " + jwks_token)
    presented.append(jwks_token)

    text = "\n".join(record.getMessage() for record in auth_logs.records)
    assert "rejected a JWT" in text  # the reasons are logged...
    assert "could not fetch the JWKS" in text
    for forbidden in (SECRET, OTHER_SECRET, "query-secret", *presented):
        assert forbidden not in text  # ...but never what was presented or configured
    for credential in presented:
        for part in credential.split("."):
            if len(part) > 8:
                assert part not in text

"""API keys and the admin key: each maps to its own principal; a wrong one is refused."""

import hashlib
import hmac
import json
from collections.abc import Callable
from types import SimpleNamespace

import jwt
import pytest
from pydantic import SecretStr

import graphql_api.core.auth.authenticator as auth_module
from graphql_api.core.auth import Authenticator, Principal, Role
from graphql_api.errors import Unauthenticated
from tests.unit.core.auth.support import API_KEYS, NOT_VALID, SECRET, claims, make_settings, rejected, sha256_hex


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

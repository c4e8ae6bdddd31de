"""Open access when nothing is configured, and the configuration errors that stop a start."""

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pydantic import SecretStr

from graphql_api.core.auth import OPEN_ACCESS, Authenticator
from tests.unit.core.auth.support import (
    API_KEYS,
    EC_PEM,
    NOT_LOGGED_IN,
    RSA_KEY,
    RSA_PEM,
    SECRET,
    make_settings,
    pem,
    rejected,
    sha256_hex,
)

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

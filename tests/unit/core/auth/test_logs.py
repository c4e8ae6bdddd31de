"""Nothing secret in the authentication logs."""

import logging
import time
from collections.abc import Callable, Iterator

import jwt
import pytest
from pydantic import SecretStr

from graphql_api.core.auth import Authenticator
from tests.unit.core.auth.support import (
    API_KEYS,
    OTHER_SECRET,
    RSA_KEY,
    RSA_PEM,
    SECRET,
    JwksServer,
    claims,
    hs256_by_hand,
    make_settings,
    rejected,
)

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

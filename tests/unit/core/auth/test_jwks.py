"""JWKS fetching: single flight, refetch bounds, rotation, outages, key pinning."""

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from graphql_api.core.auth import Authenticator
from graphql_api.errors import Unauthenticated
from tests.unit.core.auth.support import (
    EC_KEY,
    NOT_VALID,
    RSA_KEY,
    RSA_OTHER,
    SECRET,
    FakeClock,
    JwksServer,
    b64,
    claims,
    hs256_by_hand,
    jwk,
    make_settings,
    rejected,
)

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

"""JWTs: every way of verifying them faces the same valid tokens and attacks; claims; the verified-token cache."""

import base64
import datetime
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from graphql_api.core.auth import Authenticator, Principal, Role
from tests.unit.core.auth.support import (
    AUDIENCE,
    BAD_SCHEME,
    DROP,
    EC_KEY,
    EC_OTHER,
    EC_PEM,
    EXPIRED,
    NO_EXP,
    NO_SUB,
    NOT_LOGGED_IN,
    NOT_VALID,
    NOT_YET,
    OTHER_SECRET,
    RSA_KEY,
    RSA_OTHER,
    RSA_PEM,
    SECRET,
    WRONG_AUDIENCE,
    WRONG_ISSUER,
    FakeClock,
    JwksServer,
    b64,
    claims,
    hs256_by_hand,
    jwk,
    make_settings,
    raw_token,
    rejected,
)

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

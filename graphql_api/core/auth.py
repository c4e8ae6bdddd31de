"""Who is calling: identity-provider JWTs and server-to-server API keys.

Kept free of any transport so the REST and GraphQL faces share one answer.
Each configured key is pinned to one algorithm, so ``alg: none`` and key
confusion cannot get through. A verified token is remembered until it expires
(at most a minute), because PyJWT's own checks cost over 100 µs a token and
a client sends the same token on every request. The JWKS is fetched by one
shared request, and unknown key ids cannot make it refetch more than once per
interval, so nobody can use this service to flood the identity provider.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import aiohttp
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, RSAAlgorithm

from ..errors import Unauthenticated
from ..settings import Settings
from .brake import Brake, LocalBrake, brake_keys

__all__ = ["OPEN_ACCESS", "Authenticator", "Principal", "Role"]

log = logging.getLogger(__name__)


class Role(enum.StrEnum):
    USER = "user"
    MODERATOR = "moderator"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    uid: str
    roles: frozenset[Role]
    rooms: frozenset[str] = frozenset()
    """The rooms a moderator runs."""
    via: Literal["jwt", "api_key", "anonymous"] = "jwt"
    expires_at: float | None = field(default=None, compare=False)
    """When the credential stops being valid (Unix seconds, leeway included); None when it does not expire."""

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    def moderates(self, room: str) -> bool:
        return Role.ADMIN in self.roles or (Role.MODERATOR in self.roles and room in self.rooms)


OPEN_ACCESS: Final = Principal(uid="anonymous", roles=frozenset({Role.ADMIN}), via="anonymous")
"""Who everyone is when no authentication is configured; the app allows that only in dev."""

_NOT_VALID: Final = "the credential is not valid"
_EXPIRED: Final = "the token has expired"
_BAD_SCHEME: Final = "send the credential as Authorization: Bearer <credential>"
_MAX_CREDENTIAL: Final = 16384
"""Longer credentials are refused before any hashing or decoding."""

_ROLE_BY_NAME: Final = {role.value: role for role in Role}
_SINGLE_ROLE: Final = {role.value: frozenset({role}) for role in Role}
_PLAIN_USER: Final = _SINGLE_ROLE[Role.USER]

_LATEST_EXPIRY: Final = 253_402_300_799
"""The last second of the year 9999: an `exp` beyond it is no time a clock will reach."""

_VERIFIED_MAX: Final = 10_000
"""Verified tokens remembered at once; the oldest is forgotten first."""
_VERIFIED_SECONDS: Final = 60.0
"""How long a verified token is trusted without checking it again (bounds how late a revoked JWKS key is noticed)."""

_JWKS_TIMEOUT_SECONDS: Final = 5.0
_JWKS_MAX_BYTES: Final = 1 << 20
_LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_API_KEY_FIELDS: Final = frozenset({"name", "role", "sha256"})

_REQUIRED_CLAIM_MESSAGES: Final = {
    "exp": "the token has no expiry (exp)",
    "sub": "the token has no subject (sub)",
    "aud": "the token is not meant for this service",
    "iss": "the token is from an issuer this service does not trust",
}


@dataclass(frozen=True, slots=True)
class _Key:
    key: Any
    """What PyJWT verifies with: HMAC secret bytes, or a `cryptography` public key object."""
    algorithms: tuple[str]
    """The one algorithm this key may verify."""


_Verified = tuple[Principal, float, float]
"""A verified token's principal, when it expires (with leeway) and when to verify it again (wall clock)."""


class Authenticator:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """Check the configuration and prepare every key; raises ValueError on bad configuration.

        ``clock`` times the JWKS cache, ``wall_clock`` compares remembered tokens with their ``exp``.
        """
        self._wall_clock = wall_clock
        self._roles_claim = _non_empty("auth_roles_claim", settings.auth_roles_claim)
        self._rooms_claim = _non_empty("auth_rooms_claim", settings.auth_rooms_claim)
        self._leeway = float(settings.auth_leeway_seconds)

        sources = [
            name
            for name, value in (
                ("auth_jwt_secret", settings.auth_jwt_secret),
                ("auth_public_key", settings.auth_public_key),
                ("auth_jwks_url", settings.auth_jwks_url),
            )
            if value is not None
        ]
        if len(sources) > 1:
            raise ValueError(f"set only one of {' and '.join(sources)}: each is a way to verify the same JWTs")
        self._static_key: _Key | None = None
        self._jwks: _Jwks | None = None
        if settings.auth_jwt_secret is not None:
            self._static_key = _hmac_key(settings.auth_jwt_secret.get_secret_value())
        elif settings.auth_public_key is not None:
            self._static_key = _public_key(settings.auth_public_key)
        elif settings.auth_jwks_url is not None:
            self._jwks = _Jwks(
                _jwks_url(settings.auth_jwks_url),
                cache_seconds=settings.auth_jwks_cache_seconds,
                min_refetch_seconds=settings.auth_jwks_min_refetch_seconds,
                clock=clock,
            )
        jwt_configured = bool(sources)

        self._issuer = None if settings.auth_issuer is None else _non_empty("auth_issuer", settings.auth_issuer)
        self._audience = None if settings.auth_audience is None else _non_empty("auth_audience", settings.auth_audience)
        # Without a configured audience the `aud` claim is not checked at all (PyJWT would
        # otherwise refuse every token that has one).
        self._jwt = jwt.PyJWT(
            options={
                "require": ["exp", "sub"],
                "verify_aud": self._audience is not None,
                "enforce_minimum_key_length": True,
            }
        )

        self._api_keys = _api_keys(settings.api_keys)
        if settings.admin_key is not None:
            self._api_keys = _with_admin_key(self._api_keys, settings.admin_key.get_secret_value())
        self._configured = jwt_configured or settings.api_keys is not None or settings.admin_key is not None
        self._verified: dict[str, _Verified] = {}
        self.brake: Brake = LocalBrake(
            failures=settings.auth_brake_failures, window_seconds=settings.auth_brake_window_seconds
        )

    @property
    def configured(self) -> bool:
        return self._configured

    async def authenticate(self, authorization: str | None, client: str | None = None) -> Principal:
        """The caller behind an ``Authorization`` header value; raises Unauthenticated.

        With the ``client``'s address, failures are braked (see graphql_api.core.brake): TooManyRequests.
        """
        if not self._configured:
            return OPEN_ACCESS
        if client is None or not authorization:
            return await self._authenticate(authorization)
        keys = brake_keys(authorization, client)
        await self.brake.check(keys)
        try:
            return await self._authenticate(authorization)
        except Unauthenticated:
            await self.brake.failed(keys)
            raise

    async def _authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthenticated()
        parts = authorization.split(None, 1)
        if not parts:
            raise Unauthenticated()
        if parts[0].lower() != "bearer":
            raise Unauthenticated(_BAD_SCHEME)
        if len(parts) == 1:
            raise Unauthenticated()
        credential = parts[1].strip()
        if len(credential) > _MAX_CREDENTIAL:
            raise Unauthenticated(_NOT_VALID)
        if credential.count(".") == 2:
            if not credential.isascii():
                raise Unauthenticated(_NOT_VALID)
            return await self._from_jwt(credential)
        return self._from_api_key(credential)

    async def aclose(self) -> None:
        if self._jwks is not None:
            await self._jwks.aclose()

    def _from_api_key(self, credential: str) -> Principal:
        if not self._api_keys:
            raise Unauthenticated(_NOT_VALID)
        try:
            digest = hashlib.sha256(credential.encode()).digest()
        except UnicodeEncodeError:
            raise Unauthenticated(_NOT_VALID) from None
        found: Principal | None = None
        # Every configured hash is compared, so the time taken says nothing about which one matched.
        for expected, principal in self._api_keys:
            if hmac.compare_digest(digest, expected):
                found = principal
        if found is None:
            log.debug("rejected an API key: no configured key matches")
            raise Unauthenticated(_NOT_VALID)
        return found

    async def _from_jwt(self, token: str) -> Principal:
        verified = self._verified.get(token)
        if verified is not None:
            principal, expires, recheck = verified
            now = self._wall_clock()
            if now < recheck:
                return principal
            del self._verified[token]
            if now >= expires:
                raise Unauthenticated(_EXPIRED)

        key = await self._key_for(token)
        try:
            claims = self._jwt.decode(
                token,
                key.key,
                algorithms=key.algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
            )
        except jwt.PyJWTError as exc:
            # The exception's class is enough to diagnose; its text is never logged or shown.
            log.debug("rejected a JWT: %s", type(exc).__name__)
            raise Unauthenticated(_jwt_message(exc)) from None

        exp = int(claims["exp"])  # PyJWT has checked it is an integer in the future.
        if exp > _LATEST_EXPIRY:
            log.debug("rejected a JWT: its exp is beyond any date")
            raise Unauthenticated(_NOT_VALID)
        expires = exp + self._leeway
        principal = self._principal(claims, expires)
        if len(self._verified) >= _VERIFIED_MAX:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (principal, expires, min(expires, self._wall_clock() + _VERIFIED_SECONDS))
        return principal

    async def _key_for(self, token: str) -> _Key:
        if self._static_key is not None:
            return self._static_key
        if self._jwks is None:
            log.debug("rejected a JWT: no JWT verification is configured")
            raise Unauthenticated(_NOT_VALID)
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            log.debug("rejected a JWT: %s", type(exc).__name__)
            raise Unauthenticated(_NOT_VALID) from None
        if not isinstance(kid, str) or not kid:
            log.debug("rejected a JWT: no key id (kid)")
            raise Unauthenticated(_NOT_VALID)
        key = await self._jwks.key(kid)
        if key is None:
            log.debug("rejected a JWT: its key id is not in the JWKS")
            raise Unauthenticated(_NOT_VALID)
        return key

    def _principal(self, claims: Mapping[str, Any], expires: float) -> Principal:
        uid = claims["sub"]  # Required, and a string: PyJWT has checked both.
        if not uid:
            log.debug("rejected a JWT: its subject is empty")
            raise Unauthenticated(_REQUIRED_CLAIM_MESSAGES["sub"])
        return Principal(
            uid=uid,
            roles=_roles(claims.get(self._roles_claim)),
            rooms=_rooms(claims.get(self._rooms_claim)),
            via="jwt",
            expires_at=expires,
        )


def _jwt_message(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return _EXPIRED
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "the token is not valid yet"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return _REQUIRED_CLAIM_MESSAGES.get(exc.claim, _NOT_VALID)
    if isinstance(exc, jwt.InvalidAudienceError):
        return _REQUIRED_CLAIM_MESSAGES["aud"]
    if isinstance(exc, jwt.InvalidIssuerError):
        return _REQUIRED_CLAIM_MESSAGES["iss"]
    return _NOT_VALID


def _roles(value: object) -> frozenset[Role]:
    if isinstance(value, str):
        return _SINGLE_ROLE.get(value, _PLAIN_USER)
    if isinstance(value, list):
        roles = frozenset(_ROLE_BY_NAME[name] for name in value if isinstance(name, str) and name in _ROLE_BY_NAME)
        return roles or _PLAIN_USER
    return _PLAIN_USER


def _rooms(value: object) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset((value,)) if value else frozenset()
    if isinstance(value, list):
        return frozenset(room for room in value if isinstance(room, str) and room)
    return frozenset()


# Configuration. Messages name the setting and the problem, never the value.


def _non_empty(name: str, value: str) -> str:
    if not value.strip():
        raise ValueError(f"{name} is set but empty")
    return value


def _hmac_key(secret: str) -> _Key:
    key = secret.encode()
    if len(key) < 32:
        raise ValueError("auth_jwt_secret must be at least 32 bytes: HS256 needs a 256-bit key")
    try:
        prepared = HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(key)
    except jwt.InvalidKeyError:
        raise ValueError("auth_jwt_secret looks like a public key; put a public key in auth_public_key") from None
    return _Key(prepared, ("HS256",))


def _public_key(setting: str) -> _Key:
    text = _non_empty("auth_public_key", setting).strip()
    if "-----BEGIN" in text:
        # A PEM squeezed into one environment variable often has its newlines written as \n.
        data = (text if "\n" in text else text.replace("\\n", "\n")).encode()
    else:
        path = Path(text).expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"auth_public_key: cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            key: Any = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except ValueError:
        raise ValueError("auth_public_key is not a PEM public key or certificate") from None
    return _asymmetric_key(key, "auth_public_key")


def _asymmetric_key(key: Any, where: str) -> _Key:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise ValueError(f"{where}: the RSA key has {key.key_size} bits; at least 2048 are needed")
        return _Key(key, ("RS256",))
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"{where}: the EC key is on {key.curve.name}; only P-256 (ES256) is supported")
        return _Key(key, ("ES256",))
    raise ValueError(f"{where}: only RSA (RS256) and EC P-256 (ES256) public keys are supported")


def _jwks_url(url: str) -> str:
    parts = urlsplit(_non_empty("auth_jwks_url", url).strip())
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise ValueError("auth_jwks_url must be an https:// URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        # Keys fetched over plain HTTP could be swapped by anyone on the path.
        raise ValueError("auth_jwks_url must be https:// (plain http:// only for localhost)")
    return parts.geturl()


def _api_keys(setting: str | None) -> tuple[tuple[bytes, Principal], ...]:
    if setting is None:
        return ()
    try:
        entries = json.loads(setting)
    except ValueError:
        raise ValueError('api_keys is not JSON: expected [{"name": ..., "role": ..., "sha256": ...}]') from None
    if not isinstance(entries, list):
        raise ValueError('api_keys must be a JSON list: [{"name": ..., "role": ..., "sha256": ...}]')
    keys: list[tuple[bytes, Principal]] = []
    for index, entry in enumerate(entries):
        where = f"api_keys[{index}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be an object with name, role and sha256")
        if missing := sorted(_API_KEY_FIELDS - entry.keys()):
            raise ValueError(f"{where} lacks {', '.join(missing)}")
        if unknown := sorted(entry.keys() - _API_KEY_FIELDS):
            raise ValueError(f"{where} has unknown fields {', '.join(unknown)}; expected name, role and sha256")
        name, role, digest = entry["name"], entry["role"], entry["sha256"]
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where}.name must be a non-empty string")
        if not isinstance(role, str) or role not in _ROLE_BY_NAME:
            raise ValueError(f"{where}.role must be one of {', '.join(_ROLE_BY_NAME)}")
        if not isinstance(digest, str) or len(digest) != 64:
            raise ValueError(f"{where}.sha256 must be the 64 hex digits of the key's SHA-256")
        try:
            expected = bytes.fromhex(digest)
        except ValueError:
            raise ValueError(f"{where}.sha256 must be the 64 hex digits of the key's SHA-256") from None
        keys.append((expected, Principal(uid=f"key:{name}", roles=_SINGLE_ROLE[role], via="api_key")))
    _check_unique(keys)
    return tuple(keys)


def _with_admin_key(keys: tuple[tuple[bytes, Principal], ...], admin_key: str) -> tuple[tuple[bytes, Principal], ...]:
    if not admin_key:
        raise ValueError("admin_key is set but empty")
    if admin_key != admin_key.strip() or any(char.isspace() for char in admin_key):
        raise ValueError("admin_key must not contain whitespace")
    if admin_key.count(".") == 2:
        raise ValueError("admin_key must not contain exactly two dots: it would be read as a JWT")
    admin = (
        hashlib.sha256(admin_key.encode()).digest(),
        Principal(uid="key:admin", roles=_SINGLE_ROLE[Role.ADMIN], via="api_key"),
    )
    combined = (*keys, admin)
    _check_unique(combined)
    return combined


def _check_unique(keys: Sequence[tuple[bytes, Principal]]) -> None:
    uids = [principal.uid for _, principal in keys]
    if len(set(uids)) != len(uids):
        raise ValueError("api_keys: every key needs its own name (admin_key is named admin)")
    if len({digest for digest, _ in keys}) != len(keys):
        raise ValueError("api_keys: the same key is configured twice")


# JWKS.


class _JwksError(ValueError):
    pass


class _Jwks:
    """The identity provider's signing keys by key id, fetched by one shared request at a time."""

    def __init__(
        self, url: str, *, cache_seconds: float, min_refetch_seconds: float, clock: Callable[[], float]
    ) -> None:
        self._url = url
        self._url_for_logs = urlsplit(url)._replace(query="", fragment="").geturl()
        self._cache_seconds = cache_seconds
        self._min_refetch_seconds = min_refetch_seconds
        self._clock = clock
        self._keys: dict[str, _Key] = {}
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._fetch: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def key(self, kid: str) -> _Key | None:
        now = self._clock()
        key = self._keys.get(kid)
        if key is not None and now - self._fetched_at < self._cache_seconds:
            return key
        # Stale, or a key id we do not know: refetch, but no more often than the interval
        # allows, so random key ids cannot flood the identity provider.
        if self._fetch is None and now - self._attempted_at >= self._min_refetch_seconds:
            self._attempted_at = now
            self._fetch = asyncio.get_running_loop().create_task(self._refresh())
        if self._fetch is not None:
            # Shielded: a caller that goes away must not cancel the fetch others wait for.
            await asyncio.shield(self._fetch)
            key = self._keys.get(kid)
        return key

    async def aclose(self) -> None:
        fetch, self._fetch = self._fetch, None
        if fetch is not None:
            fetch.cancel()
            await asyncio.gather(fetch, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _refresh(self) -> None:
        try:
            keys = await self._download()
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            kept = "keeping the cached keys" if self._keys else "no keys to verify JWTs with yet"
            log.warning("could not fetch the JWKS from %s (%s); %s", self._url_for_logs, _describe(exc), kept)
        except Exception:
            # A bug here must still leave callers with a 401 (or the cached keys), never a 500.
            log.exception("could not fetch the JWKS from %s", self._url_for_logs)
        else:
            self._keys = keys
            self._fetched_at = self._clock()
        finally:
            self._fetch = None

    async def _download(self) -> dict[str, _Key]:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        async with (
            asyncio.timeout(_JWKS_TIMEOUT_SECONDS),
            self._session.get(self._url, allow_redirects=False, headers={"Accept": "application/json"}) as response,
        ):
            if response.status != 200:
                raise _JwksError(f"HTTP {response.status}")
            if response.content_length is not None and response.content_length > _JWKS_MAX_BYTES:
                raise _JwksError("the response is too large")
            body = bytearray()
            async for chunk in response.content.iter_chunked(65536):
                body += chunk
                if len(body) > _JWKS_MAX_BYTES:
                    raise _JwksError("the response is too large")
        try:
            document = json.loads(body)
        except ValueError:
            raise _JwksError("the response is not JSON") from None
        keys = _parse_jwks(document)
        if not keys:
            raise _JwksError("no usable RS256 or ES256 signing key in it")
        return keys


def _describe(exc: BaseException) -> str:
    # Our own and cryptography's messages say what is wrong with a (public) key; a
    # transport error's text may carry the URL, so only its kind is logged.
    return str(exc) if isinstance(exc, ValueError | jwt.InvalidKeyError) else type(exc).__name__


def _parse_jwks(document: object) -> dict[str, _Key]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise _JwksError('the response is not a JWK set ({"keys": [...]})')
    keys: dict[str, _Key] = {}
    for jwk in document["keys"]:
        kid = jwk.get("kid") if isinstance(jwk, dict) else None
        if not isinstance(kid, str) or not kid:
            log.warning("ignoring a JWKS key without a key id (kid)")
            continue
        try:
            key = _jwk_key(jwk)
        except (ValueError, TypeError, KeyError, jwt.InvalidKeyError) as exc:
            log.warning("ignoring JWKS key %r: %s", kid[:64], _describe(exc))
            continue
        if kid in keys:
            log.warning("ignoring a second JWKS key with key id %r", kid[:64])
            continue
        keys[kid] = key
    return keys


def _jwk_key(jwk: Mapping[str, Any]) -> _Key:
    if jwk.get("use", "sig") != "sig":
        raise _JwksError("not a signing key (use)")
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise _JwksError("not a verification key (key_ops)")
    kty = jwk.get("kty")
    # The algorithm follows from the key type; a JWK that claims another is refused.
    if kty == "RSA":
        expected = "RS256"
        # Only the public members, so a JWK that carries private ones still yields a public key.
        key: Any = RSAAlgorithm.from_jwk({"kty": "RSA", "n": jwk["n"], "e": jwk["e"]})
    elif kty == "EC":
        if jwk.get("crv") != "P-256":
            raise _JwksError("only EC keys on P-256 are supported")
        expected = "ES256"
        key = ECAlgorithm.from_jwk({"kty": "EC", "crv": "P-256", "x": jwk["x"], "y": jwk["y"]})
    else:
        raise _JwksError("only RSA and EC keys are supported")
    if jwk.get("alg", expected) != expected:
        raise _JwksError(f"its alg does not match its {kty} key ({expected})")
    return _asymmetric_key(key, "JWKS key")

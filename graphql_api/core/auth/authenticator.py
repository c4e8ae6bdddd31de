"""The authenticator: a credential checked (JWT or API key), and verified tokens remembered until they expire."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import jwt

from ...errors import Unauthenticated
from ...settings import Settings
from ..brake import Brake, LocalBrake, brake_keys
from .api_keys import _api_keys, _with_admin_key
from .jwks import _Jwks, _jwks_url
from .keys import _hmac_key, _Key, _non_empty, _public_key
from .principal import _PLAIN_USER, _ROLE_BY_NAME, _SINGLE_ROLE, OPEN_ACCESS, Principal, Role

log = logging.getLogger(__name__)


_NOT_VALID: Final = "the credential is not valid"
_EXPIRED: Final = "the token has expired"
_BAD_SCHEME: Final = "send the credential as Authorization: Bearer <credential>"
_MAX_CREDENTIAL: Final = 16384
"""Longer credentials are refused before any hashing or decoding."""

_LATEST_EXPIRY: Final = 253_402_300_799
"""The last second of the year 9999: an `exp` beyond it is no time a clock will reach."""

_VERIFIED_MAX: Final = 10_000
"""Verified tokens remembered at once; the oldest is forgotten first."""
_VERIFIED_SECONDS: Final = 60.0
"""How long a verified token is trusted without checking it again (bounds how late a revoked JWKS key is noticed)."""

_REQUIRED_CLAIM_MESSAGES: Final = {
    "exp": "the token has no expiry (exp)",
    "sub": "the token has no subject (sub)",
    "aud": "the token is not meant for this service",
    "iss": "the token is from an issuer this service does not trust",
}


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

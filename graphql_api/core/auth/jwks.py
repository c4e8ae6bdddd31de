"""An identity provider's JWKS, fetched by one shared request; unknown key ids refetch at most once per interval."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
import jwt
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from .keys import _asymmetric_key, _Key, _non_empty

log = logging.getLogger(__name__)


_JWKS_TIMEOUT_SECONDS: Final = 5.0
_JWKS_MAX_BYTES: Final = 1 << 20
_LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})


def _jwks_url(url: str) -> str:
    parts = urlsplit(_non_empty("auth_jwks_url", url).strip())
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise ValueError("auth_jwks_url must be an https:// URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        # Keys fetched over plain HTTP could be swapped by anyone on the path.
        raise ValueError("auth_jwks_url must be https:// (plain http:// only for localhost)")
    return parts.geturl()


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

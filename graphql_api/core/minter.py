"""Join tokens: LiveKit access tokens (HS256 JWTs) for one identity in one room.

`livekit.api.AccessToken` builds the same claims through `dataclasses.asdict`,
which costs most of its time; tokens are the hottest path of the service, so
the JWT is assembled here directly from a precomputed header and HMAC key.
The claims match the API document's example: ``exp``, ``iss``, ``nbf``,
``sub`` and ``video`` with ``room`` and ``roomJoin``, plus ``name``,
``canPublishSources``, ``hidden``, ``metadata`` and ``attributes`` only when asked
for, and the ``attributes`` mark of a moderator's or admin's token (see
admission). Never an admin grant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson

from .metrics import TOKENS_MINTED

__all__ = ["JoinToken", "TokenMinter"]

_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@dataclass(frozen=True, slots=True)
class JoinToken:
    token: str
    identity: str
    room: str
    expires_at: int
    """Unix seconds."""
    url: str
    """Where the client should connect with the token."""


class TokenMinter:
    def __init__(self, api_key: str, api_secret: str, client_url: str) -> None:
        if not api_key or not api_secret:
            raise ValueError("api_key and api_secret must be set")
        self._api_key = api_key
        self._mac = hmac.new(api_secret.encode(), digestmod=hashlib.sha256)
        self._client_url = client_url

    def mint(
        self,
        *,
        identity: str,
        room: str,
        ttl_seconds: int,
        name: str | None = None,
        can_publish_sources: Sequence[str] | None = None,
        hidden: bool = False,
        attributes: Mapping[str, str] | None = None,
        metadata: str | None = None,
        can_publish: bool = True,
    ) -> JoinToken:
        # Same guard as AccessToken.to_jwt: a join grant without both is useless to LiveKit.
        if not identity or not room:
            raise ValueError("identity and room must be set when joining a room")
        now = int(time.time())
        exp = now + ttl_seconds
        claims: dict[str, object] = {"exp": exp, "iss": self._api_key, "nbf": now, "sub": identity}
        if name:
            claims["name"] = name
        if metadata:
            claims["metadata"] = metadata
        if attributes:
            claims["attributes"] = dict(attributes)
        video: dict[str, object] = {"room": room, "roomJoin": True}
        if not can_publish:
            video["canPublish"] = False
        elif can_publish_sources is not None:
            video["canPublishSources"] = list(can_publish_sources)
        if hidden:
            video["hidden"] = True
        claims["video"] = video
        payload = _b64(orjson.dumps(claims))
        signing_input = _HEADER + b"." + payload
        mac = self._mac.copy()
        mac.update(signing_input)
        token = (signing_input + b"." + _b64(mac.digest())).decode()
        TOKENS_MINTED.inc()
        return JoinToken(token=token, identity=identity, room=room, expires_at=exp, url=self._client_url)

import base64
import json

import jwt
import pytest
from livekit.api import TokenVerifier

from graphql_api.core.minter import TokenMinter

KEY = "APIkey"
SECRET = "a-secret-of-at-least-thirty-two-characters"


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


def test_claims_match_the_document_example() -> None:
    token = TokenMinter(KEY, SECRET, "ws://lk").mint(identity="xtqxk", room="thehome", ttl_seconds=3600)
    claims = _claims(token.token)
    # The document's example token carries exactly these claims, no admin grants.
    assert set(claims) == {"exp", "iss", "nbf", "sub", "video"}
    assert claims["sub"] == "xtqxk"
    assert claims["iss"] == KEY
    assert claims["video"] == {"room": "thehome", "roomJoin": True}
    assert claims["exp"] == token.expires_at
    assert token.expires_at - claims["nbf"] == 3600  # type: ignore[operator]
    assert token.url == "ws://lk"


def test_livekit_verifier_accepts_our_token() -> None:
    token = TokenMinter(KEY, SECRET, "ws://lk").mint(identity="alice", room="r1", ttl_seconds=60, name="Alice")
    grants = TokenVerifier(KEY, SECRET).verify(token.token)
    assert grants.identity == "alice"
    assert grants.name == "Alice"
    assert grants.video is not None
    assert grants.video.room == "r1"
    assert grants.video.room_join is True
    assert not grants.video.room_admin
    assert not grants.video.room_create


def test_signature_is_hs256_with_the_secret() -> None:
    token = TokenMinter(KEY, SECRET, "ws://lk").mint(identity="u", room="r", ttl_seconds=60)
    assert jwt.get_unverified_header(token.token) == {"alg": "HS256", "typ": "JWT"}
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token.token, "another-secret-of-thirty-two-characters!", algorithms=["HS256"])
    assert jwt.decode(token.token, SECRET, algorithms=["HS256"])["sub"] == "u"


def test_unicode_identity_round_trips() -> None:
    token = TokenMinter(KEY, SECRET, "ws://lk").mint(identity="用户", room="会议室", ttl_seconds=60)
    assert TokenVerifier(KEY, SECRET).verify(token.token).identity == "用户"


@pytest.mark.parametrize(("identity", "room"), [("", "r"), ("u", "")])
def test_join_grant_needs_identity_and_room(identity: str, room: str) -> None:
    with pytest.raises(ValueError, match="identity and room"):
        TokenMinter(KEY, SECRET, "ws://lk").mint(identity=identity, room=room, ttl_seconds=60)

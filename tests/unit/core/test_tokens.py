"""createToken's own logic: who may mint for whom, the claims, the TTL ceiling."""

from __future__ import annotations

import jwt
import pytest

from graphql_api.core import tokens
from graphql_api.core.services import Core
from graphql_api.errors import Forbidden, InvalidParameter

from .conftest import ADMIN, SECRET, USER


def claims(token: str) -> dict[str, object]:
    return jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_aud": False})


async def test_the_token_grants_joining_the_room_as_the_identity(core: Core) -> None:
    minted = await tokens.create_token(core, ADMIN, room="ours", identity="bob", name="Bob", ttl_seconds=60)
    got = claims(minted.token)
    assert (got["sub"], got["iss"], got["name"]) == ("bob", "key", "Bob")
    video = got["video"]
    assert isinstance(video, dict)
    assert (video["roomJoin"], video["room"]) == (True, "ours")
    assert got["exp"] == minted.expires_at
    assert isinstance(got["nbf"], int)
    assert minted.expires_at - got["nbf"] <= 60 + 1
    assert (minted.identity, minted.room, minted.url) == ("bob", "ours", "ws://lk")


async def test_a_user_mints_only_for_itself_and_within_its_ceiling(core: Core) -> None:
    await tokens.create_token(core, USER, room="ours", identity="alice")
    with pytest.raises(Forbidden):
        await tokens.create_token(core, USER, room="ours", identity="bob")
    with pytest.raises(InvalidParameter, match="ttl_seconds"):
        await tokens.create_token(
            core, USER, room="ours", identity="alice", ttl_seconds=core.settings.token_user_max_ttl_seconds + 1
        )


async def test_bad_names_are_refused_before_anything_is_signed(core: Core) -> None:
    with pytest.raises(InvalidParameter, match="room"):
        await tokens.create_token(core, ADMIN, room="", identity="bob")
    with pytest.raises(InvalidParameter, match="identity"):
        await tokens.create_token(core, ADMIN, room="ours", identity=None)

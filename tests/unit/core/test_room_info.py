"""The room itself over the fake LiveKit: metadata and messages (policy, bounds, 404, events), and tokens with
the participant's initial metadata and attributes."""

from __future__ import annotations

import jwt
import pytest

from graphql_api.core import messages, room_info, tokens
from graphql_api.core.fake_livekit import FakeRoomService
from graphql_api.core.services import Core
from graphql_api.errors import Forbidden, InvalidParameter, MissingParameter, RoomNotFound

from .conftest import ADMIN, MODERATOR, SECRET, USER


def sent(service: FakeRoomService) -> list[tuple[str, bytes, str, list[str], int]]:
    return [
        (r.room, r.data, r.topic, list(r.destination_identities), r.kind) for m, r in service.calls if m == "send_data"
    ]


async def test_room_metadata_is_set_by_moderators_bounded_and_announced(core: Core, service: FakeRoomService) -> None:
    service.add_room("ours")
    service.add_room("theirs")
    with pytest.raises(Forbidden):
        await room_info.update_room_metadata(core, USER, "ours", "x")
    with pytest.raises(Forbidden):
        await room_info.update_room_metadata(core, MODERATOR, "theirs", "x")
    with pytest.raises(MissingParameter):
        await room_info.update_room_metadata(core, MODERATOR, "ours", None)
    with pytest.raises(InvalidParameter) as bad:
        await room_info.update_room_metadata(core, MODERATOR, "ours", "x" * (core.settings.max_metadata_bytes + 1))
    assert bad.value.param == "metadata"
    with pytest.raises(RoomNotFound):
        await room_info.update_room_metadata(core, ADMIN, "nowhere", "x")
    events = core.broker.subscribe("ours")
    room = await room_info.update_room_metadata(core, MODERATOR, "ours", '{"topic": "all hands"}')
    assert room.metadata == service.rooms["ours"].metadata == '{"topic": "all hands"}'
    event = await events.get()
    await events.aclose()
    assert event is not None
    assert (event.kind, event.metadata, event.actor) == (
        "room_metadata_updated",
        '{"topic": "all hands"}',
        "mod",
    )


async def test_a_message_goes_reliably_to_whom_it_names_and_its_event_has_no_payload(
    core: Core, service: FakeRoomService
) -> None:
    service.add_room("ours")
    with pytest.raises(Forbidden):
        await messages.send_message(core, USER, "ours", "hi")
    with pytest.raises(MissingParameter):
        await messages.send_message(core, MODERATOR, "ours", None)
    with pytest.raises(InvalidParameter) as bad:
        await messages.send_message(core, MODERATOR, "ours", "")
    assert bad.value.param == "payload"
    with pytest.raises(InvalidParameter) as bad:
        await messages.send_message(core, MODERATOR, "ours", "x" * (core.settings.max_message_bytes + 1))
    assert bad.value.param == "payload"
    with pytest.raises(InvalidParameter) as bad:
        await messages.send_message(core, MODERATOR, "ours", "hi", identities=["a", ""])
    assert bad.value.param == "identities"
    with pytest.raises(RoomNotFound):
        await messages.send_message(core, ADMIN, "nowhere", "hi")
    assert sent(service) == []
    events = core.broker.subscribe("ours")
    done = await messages.send_message(core, MODERATOR, "ours", "you were muted", identities=["b", "a"], topic="why")
    await messages.send_message(core, MODERATOR, "ours", "to all")
    assert (done.identities, done.payload_bytes) == (("a", "b"), 14)
    assert sent(service) == [("ours", b"you were muted", "why", ["a", "b"], 0), ("ours", b"to all", "", [], 0)]
    event = await events.get()
    await events.aclose()
    assert event is not None
    assert (event.kind, event.topic, event.identities) == ("message_sent", "why", ("a", "b"))
    assert "you were muted" not in event.to_wire().decode()


async def test_a_token_carries_initial_metadata_and_attributes_within_the_callers_role(core: Core) -> None:
    token = await tokens.create_token(
        core, MODERATOR, room="ours", identity="mod", metadata='{"seat": 3}', attributes={"team": "blue"}
    )
    claims = jwt.decode(token.token, SECRET, algorithms=["HS256"], options={"verify_aud": False})
    assert claims["metadata"] == '{"seat": 3}'
    assert claims["attributes"] == {"team": "blue", "gxrtc.admitted_as": "moderator"}
    token = await tokens.create_token(core, ADMIN, room="any", identity="guest", attributes={"team": "red"})
    claims = jwt.decode(token.token, SECRET, algorithms=["HS256"], options={"verify_aud": False})
    assert claims["attributes"] == {"team": "red"}
    assert "metadata" not in claims
    with pytest.raises(Forbidden):  # a user cannot set its own attributes afterwards, so not at minting either
        await tokens.create_token(core, USER, room="ours", identity="alice", metadata="x")
    with pytest.raises(Forbidden):
        await tokens.create_token(core, MODERATOR, room="theirs", identity="mod", attributes={"a": "b"})
    with pytest.raises(InvalidParameter) as bad:
        await tokens.create_token(core, ADMIN, room="ours", identity="g", attributes={"gxrtc.admitted_as": "admin"})
    assert bad.value.param == "attributes"
    with pytest.raises(InvalidParameter) as bad:
        await tokens.create_token(core, ADMIN, room="ours", identity="g", attributes=["not", "an", "object"])
    assert bad.value.param == "attributes"
    big = "x" * (core.settings.max_attributes_bytes + 1)
    with pytest.raises(InvalidParameter) as bad:
        await tokens.create_token(core, ADMIN, room="ours", identity="g", attributes={"k": big})
    assert bad.value.param == "attributes"
    plain = await tokens.create_token(core, USER, room="ours", identity="alice")
    claims = jwt.decode(plain.token, SECRET, algorithms=["HS256"], options={"verify_aud": False})
    assert "metadata" not in claims
    assert "attributes" not in claims

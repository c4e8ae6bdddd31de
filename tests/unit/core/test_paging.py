"""Pages of rooms and participants over the fake LiveKit: every item exactly once, filters, refused cursors."""

from __future__ import annotations

import pytest
from livekit.protocol import models

from graphql_api.core import paging
from graphql_api.core.fake_livekit import FakeRoomService
from graphql_api.core.participants import ParticipantFilter, page_participants
from graphql_api.core.rooms import RoomFilter, page_rooms
from graphql_api.core.services import Core
from graphql_api.errors import Forbidden, InvalidParameter
from tests.unit.core.conftest import ADMIN, MODERATOR

MICROPHONE = models.TrackInfo(sid="TR_mic", type=models.TrackType.AUDIO, source=models.TrackSource.MICROPHONE)


async def test_paging_through_rooms_returns_each_once_in_name_order(core: Core, service: FakeRoomService) -> None:
    names = [f"room-{i:03}" for i in range(23)]
    for name in reversed(names):
        service.add_room(name)
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = await page_rooms(core, ADMIN, first=5, after=after)
        assert page.total_count == 23
        seen += [room.name for room in page.items]
        if not page.has_next_page:
            break
        after = page.end_cursor
    assert seen == names


async def test_a_room_removed_before_the_cursor_shifts_nothing_after_it(core: Core, service: FakeRoomService) -> None:
    for name in ("a", "b", "c", "d"):
        service.add_room(name)
    first = await page_rooms(core, ADMIN, first=2)
    del service.rooms["a"]
    second = await page_rooms(core, ADMIN, first=2, after=first.end_cursor)
    assert [room.name for room in second.items] == ["c", "d"]
    assert not second.has_next_page


async def test_room_filters(core: Core, service: FakeRoomService) -> None:
    service.add_room("team-empty").creation_time = 100
    service.add_participant("team-busy", "alice")
    service.rooms["team-busy"].creation_time = 200
    service.add_room("other").creation_time = 300

    async def names(filter: RoomFilter) -> list[str]:
        return [room.name for room in (await page_rooms(core, ADMIN, filter=filter)).items]

    assert await names(RoomFilter(name_prefix="team-")) == ["team-busy", "team-empty"]
    assert await names(RoomFilter(has_participants=True)) == ["team-busy"]
    assert await names(RoomFilter(has_participants=False)) == ["other", "team-empty"]
    assert await names(RoomFilter(created_since=200)) == ["other", "team-busy"]
    assert await names(RoomFilter(name_prefix="team-", created_since=150, has_participants=True)) == ["team-busy"]


async def test_a_moderator_pages_only_through_its_rooms(core: Core, service: FakeRoomService) -> None:
    service.add_room("ours")
    service.add_room("theirs")
    page = await page_rooms(core, MODERATOR)
    assert [room.name for room in page.items] == ["ours"]
    assert page.total_count == 1


async def test_participant_filters(core: Core, service: FakeRoomService) -> None:
    service.add_participant("ours", "alice", MICROPHONE)
    bob = service.add_participant("ours", "bob")
    bob.attributes["team"] = "blue"
    bob.kind = models.ParticipantInfo.Kind.SIP
    joining = service.add_participant("ours", "carol")
    joining.state = models.ParticipantInfo.State.JOINING

    async def identities(filter: ParticipantFilter) -> list[str]:
        page = await page_participants(core, MODERATOR, "ours", filter=filter)
        return [participant.identity for participant in page.items]

    assert await identities(ParticipantFilter()) == ["alice", "bob", "carol"]
    assert await identities(ParticipantFilter(publishing=True)) == ["alice"]
    assert await identities(ParticipantFilter(publishing=False)) == ["bob", "carol"]
    assert await identities(ParticipantFilter(attribute=("team", "blue"))) == ["bob"]
    assert await identities(ParticipantFilter(attribute=("team", "red"))) == []
    assert await identities(ParticipantFilter(kinds=("SIP",))) == ["bob"]
    assert await identities(ParticipantFilter(states=("JOINING", "JOINED"))) == ["carol"]
    with pytest.raises(InvalidParameter) as refused:
        await identities(ParticipantFilter(states=("ASLEEP",)))
    assert refused.value.param == "state"


async def test_participant_pages_are_authorized_like_reads(core: Core, service: FakeRoomService) -> None:
    service.add_participant("theirs", "dave")
    with pytest.raises(Forbidden):
        await page_participants(core, MODERATOR, "theirs")


@pytest.mark.parametrize("cursor", ["not base64!", "eA", paging.encode_cursor("participant", "x"), "x" * 5000])
async def test_a_cursor_this_api_did_not_give_is_a_400_naming_it(
    core: Core, service: FakeRoomService, cursor: str
) -> None:
    service.add_room("ours")
    with pytest.raises(InvalidParameter) as refused:
        await page_rooms(core, ADMIN, after=cursor)
    assert refused.value.param == "after"


@pytest.mark.parametrize("first", [0, -1, 501])
async def test_the_page_size_is_bounded(core: Core, first: int) -> None:
    with pytest.raises(InvalidParameter) as refused:
        await page_rooms(core, ADMIN, first=first)
    assert refused.value.param == "first"

"""Bulk acts over the fake LiveKit: a result per identity, the room authorized once, bounds, audit rows, concurrency."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from livekit.protocol import models
from sqlalchemy import select

from graphql_api.core import bulk, tokens
from graphql_api.core.fake_livekit import FakeRoomService
from graphql_api.core.services import Core
from graphql_api.core.store import audit_events
from graphql_api.errors import Banned, Forbidden, InvalidParameter, RoomNotFound

from .conftest import ADMIN, MODERATOR, USER

MIC = models.TrackSource.MICROPHONE
CAMERA = models.TrackSource.CAMERA


async def audit_rows(core: Core) -> list[dict[str, Any]]:
    async with core.store.begin() as connection:
        result = await connection.execute(select(audit_events).order_by(audit_events.c.id))
        return [dict(row._mapping) for row in result]


async def test_a_bulk_kick_answers_each_identity(core: Core, service: FakeRoomService) -> None:
    for n in range(8):
        service.add_participant("ours", f"p{n}")
    service.add_participant("theirs", "elsewhere")
    asked = [f"p{n}" for n in range(8)] + ["ghost", "elsewhere", "p0", ""]
    results = await bulk.kick_participants(core, MODERATOR, "ours", asked)
    # Duplicates once, in the order first asked.
    assert [r.identity for r in results] == [*(f"p{n}" for n in range(8)), "ghost", "elsewhere", ""]
    assert [r.ok for r in results] == [True] * 8 + [False] * 3
    assert [(r.error.code, r.error.error) for r in results[8:10] if r.error] == [
        ("NOT_FOUND", "participant not found"),
        ("NOT_FOUND", "participant not found"),
    ]
    assert results[10].error is not None
    assert results[10].error.code == "BAD_USER_INPUT"
    assert service.participants["ours"] == {}
    assert set(service.participants["theirs"]) == {"elsewhere"}  # another room's participant is untouched


async def test_the_room_is_authorized_once_for_the_whole_call(core: Core, service: FakeRoomService) -> None:
    service.add_participant("theirs", "victim")
    for act in (
        bulk.kick_participants(core, MODERATOR, "theirs", ["victim"]),
        bulk.mute_participants(core, MODERATOR, "theirs", ["victim"]),
        bulk.update_participants_permissions(core, MODERATOR, "theirs", ["victim"], {"can_publish": False}),
        bulk.ban_participants(core, MODERATOR, "theirs", ["victim"]),
        bulk.kick_participants(core, USER, "ours", ["victim"]),
    ):
        with pytest.raises(Forbidden):
            await act
    assert [method for method, _ in service.calls] == []  # refused before LiveKit was asked anything
    assert "victim" in service.participants["theirs"]
    rows = await audit_rows(core)
    assert [(row["action"], row["result"]) for row in rows] == [
        ("kick_many", "forbidden"),
        ("mute_many", "forbidden"),
        ("update_permissions_many", "forbidden"),
        ("ban_many", "forbidden"),
        ("kick_many", "forbidden"),
    ]


async def test_the_maximum_and_the_list_are_enforced(core: Core, service: FakeRoomService) -> None:
    service.add_room("ours")
    too_many = [f"p{n}" for n in range(bulk.MAX_BULK_IDENTITIES + 1)]
    with pytest.raises(InvalidParameter) as refused:
        await bulk.kick_participants(core, ADMIN, "ours", too_many)
    assert refused.value.param == "identities"
    # The maximum counts distinct identities.
    results = await bulk.kick_participants(core, ADMIN, "ours", too_many[:-1] + too_many[:10])
    assert len(results) == bulk.MAX_BULK_IDENTITIES
    nothing: tuple[list[str] | None, ...] = ([], None)
    for empty in nothing:
        with pytest.raises(InvalidParameter) as refused:
            await bulk.kick_participants(core, ADMIN, "ours", empty)
        assert refused.value.param == "identities"
    with pytest.raises(InvalidParameter, match="sources"):
        await bulk.mute_participants(core, ADMIN, "ours", ["a"], sources=["antenna"])
    with pytest.raises(InvalidParameter) as reason:
        await bulk.ban_participants(core, ADMIN, "ours", ["a"], reason="x" * 5000)
    assert reason.value.param == "reason"
    with pytest.raises(RoomNotFound):
        await bulk.kick_participants(core, ADMIN, "nowhere", ["a"])


async def test_each_item_is_audited_and_the_call_too(core: Core, service: FakeRoomService) -> None:
    service.add_participant("ours", "a")
    service.add_participant("ours", "b")
    await bulk.kick_participants(core, MODERATOR, "ours", ["a", "b", "ghost"])
    rows = await audit_rows(core)
    items = sorted((row["identity"], row["result"]) for row in rows if row["action"] == "kick")
    assert items == [("a", "ok"), ("b", "ok"), ("ghost", "participant not found")]
    [call] = [row for row in rows if row["action"] == "kick_many"]
    assert (call["result"], call["identity"], call["detail"]) == ("ok", None, {"count": 3, "succeeded": 2})


async def test_a_bulk_mute_mutes_the_sources_asked_and_each_item_is_checked(
    core: Core, service: FakeRoomService
) -> None:
    service.add_participant("ours", "a", models.TrackInfo(sid="TR_a_mic", source=MIC))
    service.add_participant(
        "ours", "b", models.TrackInfo(sid="TR_b_mic", source=MIC), models.TrackInfo(sid="TR_b_cam", source=CAMERA)
    )
    results = await bulk.mute_participants(core, MODERATOR, "ours", ["a", "b"], sources=["camera", "MICROPHONE"])
    assert [r.ok for r in results] == [True, True]
    muted = {t.sid: t.muted for p in service.participants["ours"].values() for t in p.tracks}
    assert muted == {"TR_a_mic": True, "TR_b_mic": True, "TR_b_cam": True}
    # Unmuting is refused by this LiveKit: each item says so, as the single act would.
    results = await bulk.mute_participants(core, MODERATOR, "ours", ["a"], muted=False)
    assert results[0].error is not None
    assert results[0].error.code == "CONFLICT"


async def test_bulk_permissions_keep_the_grant_rules_per_item(core: Core, service: FakeRoomService) -> None:
    service.add_participant("ours", "a")
    results = await bulk.update_participants_permissions(core, MODERATOR, "ours", ["a", "ghost"], {"hidden": True})
    assert [r.error.code if r.error else None for r in results] == ["FORBIDDEN", "FORBIDDEN"]
    results = await bulk.update_participants_permissions(core, MODERATOR, "ours", ["a"], {"can_publish": False})
    assert results[0].ok
    assert not service.participants["ours"]["a"].permission.can_publish
    assert service.participants["ours"]["a"].permission.can_subscribe  # merged, not replaced


async def test_a_bulk_ban_removes_and_refuses_each(core: Core, service: FakeRoomService) -> None:
    service.add_participant("ours", "a")
    results = await bulk.ban_participants(core, MODERATOR, "ours", ["a", "absent"], reason="spam")
    assert [r.ok for r in results] == [True, True]  # banning someone absent is a ban too, as alone
    assert "a" not in service.participants["ours"]
    for identity in ("a", "absent"):
        with pytest.raises(Banned):
            await tokens.create_token(core, ADMIN, room="ours", identity=identity)


async def test_concurrency_towards_livekit_is_bounded(core: Core, service: FakeRoomService) -> None:
    for n in range(40):
        service.add_participant("ours", f"p{n}")
    in_flight = peak = 0
    remove = service.remove_participant

    async def slow_remove(request: Any) -> Any:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return await remove(request)

    service.remove_participant = slow_remove  # type: ignore[method-assign]
    limited = dataclasses.replace(core, settings=core.settings.model_copy(update={"bulk_concurrency": 4}))
    results = await bulk.kick_participants(limited, ADMIN, "ours", [f"p{n}" for n in range(40)])
    assert all(r.ok for r in results)
    assert peak == 4

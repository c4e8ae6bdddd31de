"""Mute all over the fake LiveKit and an in-memory store: policy, input, what is muted now and later, lifting."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
from livekit.protocol import models

from graphql_api.core import mute_all, tokens
from graphql_api.core.enforcement import receive_webhook
from graphql_api.core.events import RoomEvent
from graphql_api.core.fake_livekit import FakeRoomService
from graphql_api.core.services import Core
from graphql_api.errors import Forbidden, InvalidParameter, RoomNotFound

from .conftest import ADMIN, MODERATOR, SECRET, USER

MIC = models.TrackSource.MICROPHONE
CAMERA = models.TrackSource.CAMERA


def track(sid: str, source: int = MIC, *, muted: bool = False) -> models.TrackInfo:
    return models.TrackInfo(sid=sid, source=source, muted=muted)  # type: ignore[arg-type]


def mutes(service: FakeRoomService) -> list[tuple[str, str]]:
    return [(r.identity, r.track_sid) for method, r in service.calls if method == "mute_published_track" and r.muted]


def muted(service: FakeRoomService, room: str) -> dict[str, list[bool]]:
    return {i: [t.muted for t in p.tracks] for i, p in sorted(service.participants[room].items())}


async def test_who_may_mute_all_and_what_is_refused(core: Core, service: FakeRoomService) -> None:
    service.add_room("ours")
    service.add_room("theirs")
    for call in (
        mute_all.mute_all(core, USER, "ours"),
        mute_all.mute_all(core, MODERATOR, "theirs"),
        mute_all.unmute_all(core, USER, "ours"),
        mute_all.room_moderation(core, USER, "ours"),
    ):
        with pytest.raises(Forbidden):
            await call
    with pytest.raises(InvalidParameter) as bad:
        await mute_all.mute_all(core, MODERATOR, "ours", sources=["microphone", "nose"])
    assert bad.value.param == "sources"
    with pytest.raises(InvalidParameter) as bad:
        await mute_all.mute_all(core, MODERATOR, "ours", sources=[])
    assert bad.value.param == "sources"
    with pytest.raises(InvalidParameter) as bad:
        await mute_all.mute_all(core, MODERATOR, "ours", excepted=["ok", "bad\x00"])
    assert bad.value.param == "except"
    with pytest.raises(InvalidParameter) as bad:
        await mute_all.mute_all(core, ADMIN, "ours", excepted=[f"u{n}" for n in range(mute_all.MAX_EXCEPTED + 1)])
    assert bad.value.param == "except"
    with pytest.raises(RoomNotFound):
        await mute_all.mute_all(core, ADMIN, "nowhere")
    with pytest.raises(RoomNotFound):
        await mute_all.unmute_all(core, ADMIN, "nowhere")
    assert (await mute_all.room_moderation(core, MODERATOR, "ours")).mute_all is None
    assert mutes(service) == []


async def test_mute_all_mutes_the_sources_now_but_the_excepted_with_a_result_each(
    core: Core, service: FakeRoomService
) -> None:
    service.add_participant("ours", "host", track("TR_h"))
    service.add_participant("ours", "a", track("TR_a"), track("TR_ac", CAMERA))
    service.add_participant("ours", "b", track("TR_b", muted=True))
    service.add_participant("ours", "c")
    events = core.broker.subscribe("ours")
    done = await mute_all.mute_all(core, MODERATOR, "ours", excepted=["host"])
    assert [(o.identity, o.ok, o.muted_tracks) for o in done.outcomes] == [
        ("a", True, 1),
        ("b", True, 0),
        ("c", True, 0),
    ]
    assert muted(service, "ours") == {"a": [True, False], "b": [True], "c": [], "host": [False]}
    assert (done.state.sources, done.state.excepted) == (("microphone",), frozenset({"host"}))
    assert done.state.muted_by == "mod"
    first = await events.get()
    second = await events.get()
    await events.aclose()
    assert first is not None
    assert (first.kind, first.identities, first.sources) == (
        "room_muted_all",
        ("host",),
        ("microphone",),
    )
    assert second is not None
    assert second.participant is not None
    assert (second.kind, second.reason, second.participant.identity) == ("track_muted", mute_all.MUTED_ALL, "a")
    state = (await mute_all.room_moderation(core, MODERATOR, "ours")).mute_all
    assert state == done.state


async def test_a_track_published_later_is_muted_at_its_webhook_unless_excepted_or_another_source(
    core: Core, service: FakeRoomService
) -> None:
    service.add_room("ours")
    await mute_all.mute_all(core, ADMIN, "ours", excepted=["host"], sources=["MICROPHONE", "screen_share"])
    late = service.add_participant("ours", "late", track("TR_l"), track("TR_lc", CAMERA))
    host = service.add_participant("ours", "host", track("TR_h"))
    for participant, published in ((late, late.tracks[0]), (late, late.tracks[1]), (host, host.tracks[0])):
        event = RoomEvent(
            kind="track_published",
            room="ours",
            id=published.sid,
            at=time.time(),
            source="livekit",
            participant=participant,
            track=published,
        )
        await receive_webhook(core, event)
    await asyncio.sleep(0.05)
    assert mutes(service) == [("late", "TR_l")]


async def test_the_reconciler_mutes_what_it_finds_unmuted_until_the_room_is_unmuted_all(
    core: Core, service: FakeRoomService
) -> None:
    service.add_participant("ours", "host", track("TR_h"))
    service.add_participant("quiet", "x", track("TR_x"))  # a room not muted all: left alone
    await mute_all.mute_all(core, ADMIN, "ours", excepted=["host"])
    service.add_participant("ours", "lost", track("TR_lost"))  # its webhook never came
    assert await mute_all.keep_muted_once(core) == 1
    assert muted(service, "ours") == {"host": [False], "lost": [True]}
    service.participants["ours"]["lost"].tracks[0].muted = False  # it unmuted itself
    assert await mute_all.keep_muted_once(core) == 1
    assert await mute_all.unmute_all(core, MODERATOR, "ours")
    assert not await mute_all.unmute_all(core, MODERATOR, "ours")
    service.add_participant("ours", "after", track("TR_after"))
    assert await mute_all.keep_muted_once(core) == 0
    assert muted(service, "ours") == {"after": [False], "host": [False], "lost": [True]}  # tracks stay as they are
    assert ("x", "TR_x") not in mutes(service)


async def test_muting_all_again_replaces_the_state(core: Core, service: FakeRoomService) -> None:
    service.add_participant("ours", "host", track("TR_h"))
    await mute_all.mute_all(core, ADMIN, "ours", excepted=["host"])
    done = await mute_all.mute_all(core, ADMIN, "ours", sources=["camera", "microphone"])
    assert done.state.excepted == frozenset()
    assert done.state.sources == ("camera", "microphone")
    assert [(o.identity, o.muted_tracks) for o in done.outcomes] == [("host", 1)]


def video_grant(token: str) -> dict[str, object]:
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_aud": False})
    video: dict[str, object] = claims["video"]
    return video


async def test_strict_mode_mints_tokens_that_cannot_publish_the_muted_sources_but_the_excepted(
    core: Core, service: FakeRoomService
) -> None:
    service.add_room("ours")
    await mute_all.mute_all(core, MODERATOR, "ours", excepted=["host"], sources=["microphone", "camera"], strict=True)
    late = video_grant((await tokens.create_token(core, ADMIN, room="ours", identity="late")).token)
    assert late["canPublishSources"] == ["screen_share", "screen_share_audio"]
    host = video_grant((await tokens.create_token(core, ADMIN, room="ours", identity="host")).token)
    assert "canPublishSources" not in host
    assert "canPublish" not in host
    asked = await tokens.create_token(core, ADMIN, room="ours", identity="x", can_publish_sources=["microphone"])
    assert video_grant(asked.token)["canPublish"] is False  # nothing left: not an empty list, which means any
    assert "canPublishSources" not in video_grant(asked.token)
    await mute_all.mute_all(core, MODERATOR, "ours")  # not strict: tokens as usual
    assert "canPublishSources" not in video_grant(
        (await tokens.create_token(core, ADMIN, room="ours", identity="y")).token
    )
    await mute_all.mute_all(core, MODERATOR, "ours", strict=True)
    await mute_all.unmute_all(core, MODERATOR, "ours")
    assert "canPublishSources" not in video_grant(
        (await tokens.create_token(core, ADMIN, room="ours", identity="z")).token
    )

"""The console's acts on a whole room and on a selection, in a real browser against the real stack.

A moderator mutes all with one publisher excepted (chosen by selecting its row): the rtc clients' own
publications say who is muted, a publisher who joins afterwards is muted too, and the panel follows the
room's mute-all live from `roomEvents` (an admin's mute-all and unmute-all elsewhere show without a
reload). Then the selection's permissions and a ban of two selected participants, each ONE bulk
call (one `*_many` row in the audit trail), with a result per identity. Harness: tests/harness/
console_browser.py and console/e2e/driver.mjs, as test_console.py.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.harness.console_browser import Browser, Stack, moderator, serious
from tests.harness.participants import Participant, ParticipantPool
from tests.integration.console_stack import checked_browser, console_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with console_stack(tmp_path_factory) as started:
        yield started


@pytest.fixture
async def browser(stack: Stack) -> AsyncIterator[Browser]:
    async with checked_browser(stack) as running:
        yield running


@pytest.fixture
async def pool(stack: Stack) -> AsyncIterator[ParticipantPool]:
    participants = ParticipantPool(stack.livekit.ws_url)
    yield participants
    await participants.aclose()


def microphone_muted(participant: Participant) -> bool:
    """Whether the participant's own client says its microphone is muted."""
    assert participant.audio is not None
    return bool(participant.audio.muted)


async def audit_details(stack: Stack, room: str, action: str) -> list[dict[str, Any]]:
    """The parameters of each of the room's audit rows of `action`, newest first."""
    data = await stack.graphql(
        "query($r: String!, $a: String!) { auditLog(room: $r, action: $a) { edges { node { detail } } } }",
        r=room,
        a=action,
    )
    return [edge["node"]["detail"] for edge in data["auditLog"]["edges"]]


async def no_serious_violation(browser: Browser, name: str) -> None:
    violations = (await browser.do("axe", name=name))["violations"]
    assert not serious(violations), violations


async def test_a_moderator_mutes_all_but_one_then_acts_on_a_selection(
    stack: Stack, browser: Browser, pool: ParticipantPool
) -> None:
    tag = uuid.uuid4().hex[:4]
    room, uid, name = f"muteall-{tag}", "mod-erin", "erin"
    host, speaker, late = f"host-{tag}", f"speaker-{tag}", f"late-{tag}"
    guests = [f"guest{n}-{tag}" for n in (1, 2)]
    await stack.graphql("mutation($r: String!) { createRoom(name: $r) { id } }", r=room)
    host_client = await pool.join(await stack.token(room, host), audio=True)
    speaker_client = await pool.join(await stack.token(room, speaker), audio=True)
    # The guests publish nothing (the rtc SDK may abort its process at exit after a removal of one publishing audio).
    guest_clients = [await pool.join(await stack.token(room, guest)) for guest in guests]

    await browser.do("open", name=name)
    await browser.do("signIn", name=name, credential=moderator(uid, room))
    await browser.do("signedIn", name=name)
    await browser.do("openRoom", name=name, room=room)
    for identity in (host, speaker):
        await browser.do("waitRow", name=name, identity=identity, hasText="MICROPHONE live")
    for identity in guests:
        await browser.do("waitRow", name=name, identity=identity)
    await browser.do("waitText", name=name, testId="mute-all-state", hasText="Not muted all")

    # Mute all, microphones, with the host excepted: chosen by selecting its row.
    await browser.do("click", name=name, role="checkbox", label=f"Select {host}")
    await browser.do("click", name=name, label="Use the selected as exceptions")
    await browser.do("click", name=name, role="checkbox", label=f"Select {host}")  # the selection is free again
    await browser.do("click", name=name, role="checkbox", label="Microphone")
    await browser.do("click", name=name, label="Mute all")
    await browser.do("notice", name=name, hasText=f"Done: mute all in {room}")
    results = (await browser.do("waitText", name=name, testId="mute-all-results", hasText=speaker))["text"]
    assert f"{speaker}: ✓ tracks muted: 1" in results, results
    assert host not in results, results  # the excepted are not among the results
    state = (await browser.do("waitText", name=name, testId="mute-all-state", hasText=f"Muted all by {uid}"))["text"]
    assert f"Excepted: {host}." in state, state
    assert "Kept muted: Microphone." in state, state
    await speaker_client.wait_until(lambda: microphone_muted(speaker_client), timeout=15)
    await browser.do("waitRow", name=name, identity=speaker, hasText="MICROPHONE muted")
    await no_serious_violation(browser, name)

    # Who publishes after the mute-all is muted too, as its own client sees it; the excepted host is not.
    late_client = await pool.join(await stack.token(room, late), audio=True)
    await late_client.wait_until(lambda: microphone_muted(late_client), timeout=15)
    await browser.do("waitRow", name=name, identity=late, hasText="MICROPHONE muted")
    assert not microphone_muted(host_client)
    assert "MICROPHONE live" in (await browser.do("waitRow", name=name, identity=host))["text"]

    await browser.do("click", name=name, label="Unmute all")
    await browser.do("notice", name=name, hasText=f"Done: unmute all in {room}")
    await browser.do("waitText", name=name, testId="mute-all-state", hasText="Not muted all")
    assert "ROOM_UNMUTED_ALL" in (await browser.do("feed", name=name))["text"]

    # Live: an admin's strict mute-all and its lifting, made elsewhere, show in the panel as they happen.
    await stack.graphql(
        "mutation($r: String!) { muteAll(room: $r, strict: true) { state { room } } }",
        r=room,
    )
    state = (await browser.do("waitText", name=name, testId="mute-all-state", hasText="Muted all by key:admin"))["text"]
    assert "Nobody is excepted." in state, state
    assert "Strict:" in state, state
    await host_client.wait_until(lambda: microphone_muted(host_client), timeout=15)
    await stack.graphql("mutation($r: String!) { unmuteAll(room: $r) }", r=room)
    await browser.do("waitText", name=name, testId="mute-all-state", hasText="Not muted all")

    # The selection's permissions: one updateParticipantsPermissions call, a result for each.
    for identity in (host, speaker):
        await browser.do("click", name=name, role="checkbox", label=f"Select {identity}")
    await browser.do("choose", name=name, label="May send data", option="Deny")
    await browser.do("click", name=name, label="Set permissions of the selected")
    await browser.do("waitText", name=name, testId="bulk-results", hasText=host)
    assert (await browser.do("bulkResults", name=name, count=2))["results"] == [f"{host}: ✓", f"{speaker}: ✓"]
    for identity in (host, speaker):
        data = await stack.graphql(
            "query($r: String!, $i: String!)"
            " { participant(room: $r, identity: $i) { permission { canPublishData canPublish } } }",
            r=room,
            i=identity,
        )
        assert data["participant"]["permission"] == {"canPublishData": False, "canPublish": True}, data
    [permitted] = await audit_details(stack, room, "update_permissions_many")  # one call for both
    assert (permitted["count"], permitted["succeeded"]) == (2, 2), permitted
    for identity in (host, speaker):
        await browser.do("click", name=name, role="checkbox", label=f"Select {identity}")

    # A ban of two selected participants: one banParticipants call, a result for each, both rows go.
    for identity in guests:
        await browser.do("click", name=name, role="checkbox", label=f"Select {identity}")
    await browser.do("fill", name=name, label="Reason for banning the selected", value="flooding")
    await browser.do("choose", name=name, label="Ban duration for the selected", option="1 day")
    await browser.do("click", name=name, label="Ban selected")
    await browser.do("waitText", name=name, testId="bulk-results", hasText=guests[0])
    assert (await browser.do("bulkResults", name=name, count=2))["results"] == [f"{guest}: ✓" for guest in guests]
    for identity, client in zip(guests, guest_clients, strict=True):
        await browser.do("waitGone", name=name, identity=identity)
        await client.wait_disconnected(timeout=15)
    for identity in guests:
        listed = (await browser.do("waitText", name=name, testId="bans", hasText=identity))["text"]
        assert "flooding" in listed, listed
    # One call for both: one ban_many row for the two (each identity's own ban row is written by that call too).
    [banned] = await audit_details(stack, room, "ban_many")
    assert (banned["count"], banned["succeeded"]) == (2, 2), banned
    bans = await audit_details(stack, room, "ban")
    assert [(ban["reason"], ban["duration_seconds"]) for ban in bans] == [("flooding", 86400)] * 2, bans
    for identity in (host, speaker, late):
        await browser.do("waitRow", name=name, identity=identity)  # the others stay
    await no_serious_violation(browser, name)


async def test_the_mute_all_panel_in_chinese(stack: Stack, browser: Browser, pool: ParticipantPool) -> None:
    room, uid, name = f"muteall-zh-{uuid.uuid4().hex[:4]}", "mod-fang", "fang"
    await stack.graphql("mutation($r: String!) { createRoom(name: $r) { id } }", r=room)
    speaker = await pool.join(await stack.token(room, "speaker"), audio=True)
    await browser.do("open", name=name, locale="zh-CN")
    await browser.do("signIn", name=name, credential=moderator(uid, room))
    await browser.do("signedIn", name=name)
    await browser.do("openRoom", name=name, room=room)
    await browser.do("waitRow", name=name, identity="speaker", hasText="MICROPHONE")
    await browser.do("waitText", name=name, testId="mute-all-state", hasText="未全员静音")
    await browser.do("click", name=name, label="全员静音")  # no source chosen: every source
    await browser.do("notice", name=name, hasText=f"已完成:全员静音 {room}")
    state = (await browser.do("waitText", name=name, testId="mute-all-state", hasText=f"已由 {uid}"))["text"]
    assert "保持静音:麦克风、摄像头、屏幕共享、屏幕共享音频。" in state, state
    assert "无例外" in state, state
    await speaker.wait_until(lambda: microphone_muted(speaker), timeout=15)
    assert (
        "speaker: ✓ 静音轨道:1"
        in (await browser.do("waitText", name=name, testId="mute-all-results", hasText="speaker"))["text"]
    )
    await no_serious_violation(browser, name)
    await browser.do("click", name=name, label="解除全员静音")
    await browser.do("waitText", name=name, testId="mute-all-state", hasText="未全员静音")

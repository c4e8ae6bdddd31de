"""The audit trail over the fake LiveKit: a row for every act, ok or refused, with its origin; never a secret;
no acknowledged act without its row; paging exactly once; cursors checked; moderators scoped; retention."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from graphql_api.core import participants, rooms, tokens
from graphql_api.core.audit import audited, begin_request, request_origin
from graphql_api.core.audit_log import audit_log
from graphql_api.core.audit_retention import purge_expired
from graphql_api.core.auth import Principal, Role
from graphql_api.core.fake_livekit import FakeRoomService
from graphql_api.core.services import Core
from graphql_api.core.store import audit_events, room_locks
from graphql_api.errors import Forbidden, InvalidParameter, RoomNotFound, ServiceUnavailable

from .conftest import ADMIN, MODERATOR, SECRET, USER

OTHER_MODERATOR = Principal(uid="mod2", roles=frozenset({Role.MODERATOR, Role.USER}), rooms=frozenset({"theirs"}))


async def rows(core: Core) -> list[dict[str, Any]]:
    async with core.store.begin() as connection:
        result = await connection.execute(select(audit_events).order_by(audit_events.c.id))
        return [dict(row) for row in result.mappings()]


def row(**values: Any) -> dict[str, Any]:
    defaults = {"at": 1000.0, "actor": "root", "actor_role": "admin", "credential": "jwt", "face": "rest"}
    return {**defaults, "action": "kick", "room": "ours", "identity": "bob", "detail": {}, "result": "ok", **values}


async def test_an_act_is_a_row_with_who_how_what_and_its_request(core: Core) -> None:
    begin_request("rest", "req-1")
    await rooms.create_room(core, MODERATOR, name="ours", max_participants=5)
    [created] = await rows(core)
    assert created["actor"] == "mod"
    assert created["actor_role"] == "moderator"
    assert created["credential"] == "jwt"
    assert (created["face"], created["request_id"]) == ("rest", "req-1")
    assert (created["action"], created["room"], created["identity"]) == ("create_room", "ours", None)
    assert created["detail"] == {"max_participants": 5}
    assert created["result"] == "ok"


async def test_refused_and_failed_acts_are_rows_with_their_reason(core: Core, service: FakeRoomService) -> None:
    begin_request("graphql", None)
    with pytest.raises(Forbidden):
        await rooms.delete_room(core, MODERATOR, "theirs")
    with pytest.raises(RoomNotFound):
        await rooms.delete_room(core, ADMIN, "nowhere")
    service.add_participant("ours", "bob")
    await participants.kick_participant(core, ADMIN, "ours", "bob")
    results = [(r["action"], r["actor"], r["room"], r["result"], r["face"]) for r in await rows(core)]
    assert results == [
        ("delete_room", "mod", "theirs", "forbidden", "graphql"),
        ("delete_room", "root", "nowhere", "room not found", "graphql"),
        ("kick", "root", "ours", "ok", "graphql"),
    ]
    assert all(len(r["request_id"]) == 32 for r in await rows(core))  # made when the caller sent none


async def test_tokens_for_others_are_audited_and_no_token_or_secret_reaches_a_row(core: Core) -> None:
    own = await tokens.create_token(core, USER, room="ours", identity="alice")
    assert await rows(core) == []  # one's own token: the hot path is not audited
    minted = await tokens.create_token(core, ADMIN, room="ours", identity="bob", ttl_seconds=60)
    with pytest.raises(Forbidden):
        await tokens.create_token(core, USER, room="ours", identity="bob")
    written = await rows(core)
    assert [(r["action"], r["actor"], r["identity"], r["result"]) for r in written] == [
        ("create_token", "root", "bob", "ok"),
        ("create_token", "alice", "bob", "forbidden"),
    ]
    assert written[0]["detail"] == {"ttl_seconds": 60, "hidden": False}
    everything = json.dumps(written, default=str)
    for secret in (own.token, minted.token, SECRET):
        assert secret not in everything


async def test_a_secret_named_in_detail_is_dropped(core: Core) -> None:
    async with audited(core, ADMIN, "custom", "ours", token="t0ps3cret", password="pw", reason="spam"):
        pass
    [written] = await rows(core)
    assert written["detail"] == {"reason": "spam"}


async def test_no_success_without_its_row_the_caller_gets_a_503(core: Core, service: FakeRoomService) -> None:
    async with core.store.begin() as connection:
        await connection.execute(text("DROP TABLE audit_events"))
    service.add_participant("ours", "bob")
    with pytest.raises(ServiceUnavailable) as refused:
        await participants.kick_participant(core, ADMIN, "ours", "bob")
    assert refused.value.error == "database unavailable"
    # A refusal keeps its own answer even when its row cannot be written.
    with pytest.raises(Forbidden):
        await participants.kick_participant(core, USER, "ours", "bob")


async def test_a_store_change_and_its_row_commit_together_or_not_at_all(core: Core) -> None:
    lock = {"room": "ours", "locked_by": "root", "locked_at": 1.0, "remove_late_joiners": True}
    async with audited(core, ADMIN, "lock_room", "ours") as act, act.transaction() as connection:
        await connection.execute(insert(room_locks).values(lock))

    async def lock_then_fail() -> None:
        async with audited(core, ADMIN, "lock_room", "gone") as act, act.transaction() as connection:
            await connection.execute(insert(room_locks).values({**lock, "room": "gone"}))
            raise RoomNotFound("gone")

    with pytest.raises(RoomNotFound):
        await lock_then_fail()
    async with core.store.begin() as connection:
        locked = (await connection.execute(select(room_locks.c.room))).scalars().all()
    assert locked == ["ours"]
    assert [(r["room"], r["result"]) for r in await rows(core)] == [("ours", "ok"), ("gone", "room not found")]


async def test_paging_returns_every_row_once_newest_first_even_with_equal_times(core: Core) -> None:
    async with core.store.begin() as connection:
        await connection.execute(insert(audit_events), [row(identity=f"p{n}") for n in range(1234)])
    seen: list[int] = []
    after = None
    while True:
        page = await audit_log(core, ADMIN, first=100, after=after)
        seen.extend(event.id for event in page.events)
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert len(seen) == 1234
    assert seen == sorted(set(seen), reverse=True)


async def test_filters_combine(core: Core) -> None:
    async with core.store.begin() as connection:
        await connection.execute(
            insert(audit_events),
            [row(at=10.0), row(at=20.0, actor="mod"), row(at=30.0, action="mute"), row(at=40.0, room="theirs")],
        )
    page = await audit_log(core, ADMIN, room="ours", since=15, until=35)
    assert [(e.at, e.actor, e.action) for e in page.events] == [(30.0, "root", "mute"), (20.0, "mod", "kick")]
    page = await audit_log(core, ADMIN, actor="root", action="kick")
    assert [e.at for e in page.events] == [40.0, 10.0]


@pytest.mark.parametrize(
    "cursor",
    [
        "nope",
        "",
        base64.urlsafe_b64encode(b"-5").decode(),
        base64.urlsafe_b64encode(b"1 OR 1=1 --").decode(),
        "MDE=",
        "MA" + "=" * 40,
        "gAAAAAAAAAA=",
        "AAAAAAAAAAB=",
    ],
)
async def test_a_cursor_that_is_not_ours_is_a_400_naming_after(core: Core, cursor: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        await audit_log(core, ADMIN, after=cursor)
    assert refused.value.param == "after"


async def test_page_size_is_bounded(core: Core) -> None:
    for first in (0, 501):
        with pytest.raises(InvalidParameter):
            await audit_log(core, ADMIN, first=first)


async def test_a_moderator_reads_only_its_rooms_and_a_user_nothing(core: Core) -> None:
    async with core.store.begin() as connection:
        await connection.execute(insert(audit_events), [row(room="ours"), row(room="theirs"), row(room=None)])
    assert {e.room for e in (await audit_log(core, MODERATOR)).events} == {"ours"}
    assert {e.room for e in (await audit_log(core, MODERATOR, room="ours")).events} == {"ours"}
    assert {e.room for e in (await audit_log(core, OTHER_MODERATOR)).events} == {"theirs"}
    with pytest.raises(Forbidden):
        await audit_log(core, MODERATOR, room="theirs")
    with pytest.raises(Forbidden):
        await audit_log(core, USER)
    assert len((await audit_log(core, ADMIN)).events) == 3


async def test_retention_deletes_only_older_rows_in_batches(core: Core) -> None:
    day = 86400.0
    now = 100 * day
    async with core.store.begin() as connection:
        await connection.execute(insert(audit_events), [row(at=now - 91 * day) for _ in range(25)])
        await connection.execute(insert(audit_events), [row(at=now - 89 * day) for _ in range(3)])
    assert await purge_expired(core.store, 0, now=now) == 0  # 0: kept forever
    assert await purge_expired(core.store, 90, now=now, batch=7) == 25
    assert len(await rows(core)) == 3


@pytest.mark.parametrize(
    ("asked", "kept"),
    [("abc-123", True), ("x" * 128, True), ("x" * 129, False), ("bad\nid", False), ("中文", False), (None, False)],
)
def test_a_request_id_is_the_callers_only_when_short_and_printable(asked: str | None, kept: bool) -> None:
    request_id = begin_request("rest", asked)
    assert (request_id == asked) is kept
    assert request_origin.get().request_id == request_id
    assert 0 < len(request_id) <= 128


async def test_concurrent_acts_each_return_only_once_their_own_row_is_committed(core: Core) -> None:
    async def act(n: int) -> bool:
        await tokens.create_token(core, ADMIN, room="ours", identity=f"guest{n}")
        async with core.store.begin() as connection:  # visible to any other transaction once the act returned
            found = await connection.execute(select(audit_events.c.id).where(audit_events.c.identity == f"guest{n}"))
            return found.first() is not None

    assert all(await asyncio.gather(*(act(n) for n in range(200))))
    assert len(await rows(core)) == 200


async def test_concurrent_acts_whose_rows_cannot_be_committed_each_get_a_503(core: Core) -> None:
    async with core.store.begin() as connection:
        await connection.execute(text("DROP TABLE audit_events"))
    outcomes = await asyncio.gather(
        *(tokens.create_token(core, ADMIN, room="ours", identity=f"guest{n}") for n in range(50)),
        return_exceptions=True,
    )
    assert all(isinstance(outcome, ServiceUnavailable) for outcome in outcomes)

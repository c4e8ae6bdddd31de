"""What GraphQL callers see when something fails: our errors with their code, GraphQL's own as they are,
and anything else masked."""

from __future__ import annotations

from livekit.protocol import models

from graphql_api.context import Context
from graphql_api.errors import RoomNotFound
from graphql_api.schema import build_schema
from tests.unit.test_fanout import CountingLiveKit, make_core


class BrokenLiveKit(CountingLiveKit):
    async def list_rooms(self, names: list[str] | None = None) -> list[models.Room]:
        raise RuntimeError("secret internals: /etc/livekit.yaml")

    async def list_participants(self, room: str) -> list[models.ParticipantInfo]:
        raise RoomNotFound(room)


async def test_unexpected_errors_are_masked() -> None:
    result = await build_schema().execute(
        "{ rooms { name } }", context_value=Context(core=make_core(BrokenLiveKit(1), limit=1))
    )
    assert result.errors is not None
    [error] = result.errors
    assert error.message == "Unexpected error."
    assert error.extensions == {"code": "INTERNAL_SERVER_ERROR"}
    assert "secret" not in str(error.formatted)


async def test_our_errors_keep_their_code_and_are_localized() -> None:
    context = Context(core=make_core(BrokenLiveKit(1), limit=1), language="zh-CN")
    result = await build_schema().execute('{ participants(room: "r") { identity } }', context_value=context)
    assert result.errors is not None
    [error] = result.errors
    assert error.extensions == {"code": "NOT_FOUND", "status": 404}
    assert error.message == "房间 r 不存在"


async def test_graphql_errors_are_shown_as_they_are() -> None:
    result = await build_schema().execute(
        "{ rooms { nme } }", context_value=Context(core=make_core(CountingLiveKit(1), 1))
    )
    assert result.errors is not None
    assert "Cannot query field 'nme'" in result.errors[0].message

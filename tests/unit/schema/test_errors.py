"""What GraphQL callers see when something fails: our errors with their code, GraphQL's own as they are,
and anything else masked."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from livekit.protocol import models
from pydantic import SecretStr

from graphql_api.errors import RoomNotFound
from graphql_api.schema import build_schema
from graphql_api.schema.context import Context
from graphql_api.settings import Settings
from tests.unit.core.test_fanout import CountingLiveKit, make_core


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


# Production: no name suggestions (fields, arguments, types, fragments' type conditions,
# enum values in literals and in variables, input fields in literals and in variables).
SUGGESTION_PROBES: list[tuple[str, dict[str, Any] | None]] = [
    ("{ rooms { nam } }", None),
    ('{ rom(name: "r") { name } }', None),
    ('{ rooms(nams: ["r"]) { name } }', None),
    ("query($n: [Strin!]) { rooms(names: $n) { name } }", None),
    ("{ rooms { ...F } } fragment F on Rom { name }", None),
    ("{ rooms { ... on Rom { name } } }", None),
    ('mutation { createToken(room: "r", identity: "i", canPublishSources: [MICROPHON]) { token } }', None),
    (
        'mutation($s: [TrackSource!]) { createToken(room: "r", identity: "i", canPublishSources: $s) { token } }',
        {"s": ["MICROPHON"]},
    ),
    (
        'mutation { updateParticipantPermissions(room: "r", identity: "i", permission: {hiden: true}) { identity } }',
        None,
    ),
    (
        'mutation($p: ParticipantPermissionInput!) { updateParticipantPermissions(room: "r", identity: "i",'
        " permission: $p) { identity } }",
        {"p": {"hiden": True}},
    ),
    ('{ participants(room: "r") { identity trakcs { sid } } }', None),
]


def production_schema() -> Any:
    settings = Settings(livekit_api_key="key", livekit_api_secret=SecretStr("s" * 32), env="production")
    return build_schema(settings)


def messages(result: Any) -> list[str]:
    return [error.message for error in result.errors or []]


@pytest.mark.parametrize(("query", "variables"), SUGGESTION_PROBES)
async def test_production_suggests_no_names(query: str, variables: dict[str, Any] | None) -> None:
    context = Context(core=make_core(CountingLiveKit(1), 1))
    dev = await build_schema().execute(query, variable_values=variables, context_value=context)
    # The probe does draw a suggestion where suggestions are on...
    assert any("Did you mean" in message for message in messages(dev)), messages(dev)
    production = await production_schema().execute(query, variable_values=variables, context_value=context)
    # ...and none in production, while the error itself stays.
    assert production.errors, production
    assert not any("Did you mean" in message for message in messages(production)), messages(production)


# graphql-core's refusals of the request's input: client errors, never masked, never logged at ERROR.
COERCION_PROBES: list[tuple[str, dict[str, Any] | None]] = [
    ('mutation($t: Int) { createToken(room: "r", identity: "i", ttlSeconds: $t) { token } }', {"t": "x"}),
    ('mutation($t: Int) { createToken(room: "r", identity: "i", ttlSeconds: $t) { token } }', {"t": 2**40}),
    ('mutation($t: Int!) { createToken(room: "r", identity: "i", ttlSeconds: $t) { token } }', {}),
    ('mutation($t: Int!) { createToken(room: "r", identity: "i", ttlSeconds: $t) { token } }', {"t": None}),
    (
        'mutation($p: ParticipantPermissionInput!) { updateParticipantPermissions(room: "r", identity: "i",'
        " permission: $p) { identity } }",
        {"p": {"nonsense": True}},
    ),
    (
        'mutation($s: [TrackSource!]) { createToken(room: "r", identity: "i", canPublishSources: $s) { token } }',
        {"s": "MICROPHONE!"},
    ),
    ("query($n: [String!]) { rooms(names: $n) { name } }", {"n": [1, 2]}),
    # The same, off the one-field plans (two root fields go to graphql-core directly).
    ('query($n: [String!]) { rooms(names: $n) { name } room(name: "r") { name } }', {"n": [{}]}),
    # A defaulted variable sent as null to a non-null argument: refused at run time, with a path.
    ('mutation($m: Boolean = true) { muteParticipant(room: "r", identity: "i", muted: $m) { identity } }', {"m": None}),
]


@pytest.mark.parametrize("env", ["dev", "production"])
@pytest.mark.parametrize(("query", "variables"), COERCION_PROBES)
async def test_input_graphql_core_refuses_is_a_client_error(
    query: str, variables: dict[str, Any] | None, env: str, caplog: pytest.LogCaptureFixture
) -> None:
    livekit = CountingLiveKit(1)
    context = Context(core=make_core(livekit, 1))
    schema = build_schema() if env == "dev" else production_schema()
    with caplog.at_level(logging.INFO):
        result = await schema.execute(query, variable_values=variables, context_value=context)
    assert result.errors, result
    assert [error.extensions for error in result.errors] == [{"code": "BAD_USER_INPUT"}] * len(result.errors)
    assert all(error.message != "Unexpected error." for error in result.errors)
    assert [record for record in caplog.records if record.levelno >= logging.ERROR] == []
    # Refused before any resolver ran.
    assert livekit.calls == []
    assert livekit.listings == 0

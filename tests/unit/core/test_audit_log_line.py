"""An act's log line on `gxrtc.audit`: one compact JSON object of who, via, face, request, what and how it ended,
text as it is (not ASCII-escaped); what orjson refuses (a lone surrogate) is still written, as json writes it."""

from __future__ import annotations

import json
import logging

import pytest

from graphql_api.core import tokens
from graphql_api.core.audit import audited, begin_request
from graphql_api.core.services import Core
from graphql_api.errors import Forbidden

from .conftest import ADMIN, USER


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "gxrtc.audit"]


async def test_a_token_for_someone_else_is_one_compact_line(core: Core, caplog: pytest.LogCaptureFixture) -> None:
    begin_request("rest", "req-7")
    with caplog.at_level(logging.INFO, logger="gxrtc.audit"):
        await tokens.create_token(core, ADMIN, room="会议室", identity="zoë", ttl_seconds=60)
    [line] = lines(caplog)
    assert line == (
        '{"who":"root","via":"jwt","face":"rest","request_id":"req-7","action":"create_token",'
        '"room":"会议室","identity":"zoë","result":"ok","ttl_seconds":60,"hidden":false}'
    )


async def test_a_refusal_is_a_line_with_its_reason(core: Core, caplog: pytest.LogCaptureFixture) -> None:
    begin_request("graphql", "req-8")
    with caplog.at_level(logging.INFO, logger="gxrtc.audit"), pytest.raises(Forbidden):
        await tokens.create_token(core, USER, room="ours", identity="someone-else")
    [line] = lines(caplog)
    assert json.loads(line)["result"] == "forbidden"
    assert json.loads(line)["who"] == USER.uid


async def test_what_orjson_refuses_is_written_as_json_writes_it(core: Core, caplog: pytest.LogCaptureFixture) -> None:
    begin_request("rest", "req-9")
    with caplog.at_level(logging.INFO, logger="gxrtc.audit"):
        async with audited(core, ADMIN, "note", "ours", note="\ud800", big=2**70):
            pass
    [line] = lines(caplog)
    assert line.endswith(',"result":"ok","note":"\ud800","big":1180591620717411303424}')


async def test_no_line_is_built_when_the_logger_is_off(core: Core, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="gxrtc.audit"):
        await tokens.create_token(core, ADMIN, room="ours", identity="someone")
    assert lines(caplog) == []

"""Property tests for the parsers that face untrusted input: whatever arrives,
they answer with parameters or with one of our 4xx errors, never anything else."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from graphql_api.errors import InvalidParameter, UnsupportedMediaType
from graphql_api.i18n import negotiate
from rest_compat.forms import MAX_FIELDS, int_param, json_param, read_params

_text = st.text(max_size=40)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=20,
)


def _request(body: bytes, content_type: str | None, query: bytes = b"") -> Request:
    headers = [(b"content-type", content_type.encode())] if content_type else []
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": query}
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


def _read(body: bytes, content_type: str | None, query: bytes = b"") -> dict[str, str]:
    return asyncio.run(read_params(_request(body, content_type, query)))


@settings(max_examples=200)
@given(st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=40), max_size=MAX_FIELDS))
def test_urlencoded_round_trips(form: dict[str, str]) -> None:
    assert _read(urlencode(form).encode(), "application/x-www-form-urlencoded") == form


@settings(max_examples=300)
@given(st.binary(max_size=300), st.sampled_from([None, "application/x-www-form-urlencoded", "application/json"]))
def test_any_bytes_give_params_or_a_400(body: bytes, content_type: str | None) -> None:
    try:
        params = _read(body, content_type)
    except InvalidParameter as error:
        assert error.status == 400
    else:
        assert all(isinstance(key, str) and isinstance(value, str) for key, value in params.items())


@settings(max_examples=300)
@given(_json)
def test_any_json_gives_params_or_a_400(value: Any) -> None:
    try:
        params = _read(json.dumps(value).encode(), "application/json")
    except InvalidParameter as error:
        assert error.status == 400
    else:
        assert isinstance(value, dict)
        assert all(isinstance(item, str) for item in params.values())


@given(st.text(max_size=30))
def test_unknown_media_types_are_415(content_type: str) -> None:
    media = content_type.split(";", 1)[0].strip().lower()
    known = ("application/x-www-form-urlencoded", "application/json", "multipart/form-data", "", "text/plain")
    if media in known or not content_type.isascii() or any(ord(c) < 32 for c in content_type):
        return
    try:
        _read(b"uid=u", content_type)
    except UnsupportedMediaType:
        return
    raise AssertionError("an unknown media type was accepted")


@given(st.text(max_size=20))
def test_int_param_is_an_int_or_a_400(raw: str) -> None:
    try:
        value = int_param({"n": raw}, "n")
    except InvalidParameter as error:
        assert error.param == "n"
    else:
        assert value is None or 0 <= value < 10**10


@given(st.text(max_size=60))
def test_json_param_is_json_or_a_400(raw: str) -> None:
    try:
        json_param({"attrs": raw}, "attrs", "attributes")
    except InvalidParameter as error:
        assert error.param == "attributes"


@given(st.text(max_size=80))
def test_negotiate_never_fails(header: str) -> None:
    assert negotiate(header, "zh-CN") in ("zh-CN", "en")


def test_negotiate_follows_preference() -> None:
    assert negotiate("en-US,en;q=0.9,zh-CN;q=0.8", "zh-CN") == "en"
    assert negotiate("fr, zh-TW;q=0.5, en;q=0.4", "en") == "zh-CN"
    assert negotiate("zh;q=0, en;q=0.1", "zh-CN") == "en"
    assert negotiate("de", "en") == "en"

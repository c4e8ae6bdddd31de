"""Reading a bulk act's identities: repeated, comma-separated or a JSON array, with the other parameters beside
them; whatever arrives, parameters or one of our 4xx errors, never anything else."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphql_api.errors import InvalidParameter, UnsupportedMediaType
from rest_compat.identities import read_bulk_params

from .test_parsers import _json, _request


def _read(body: bytes, content_type: str | None, query: bytes = b"") -> tuple[dict[str, str], dict[str, list[str]]]:
    return asyncio.run(read_bulk_params(_request(body, content_type, query)))


def test_a_form_repeats_or_separates_with_commas() -> None:
    params, lists = _read(
        b"identities=a,b&identities=c&identities[]=d&identities=,&reason=spam&sources=camera,MICROPHONE",
        "application/x-www-form-urlencoded",
    )
    assert lists == {"identities": ["a", "b", "c", "d"], "sources": ["camera", "MICROPHONE"]}
    assert params == {"reason": "spam"}


def test_more_fields_than_a_single_act_takes_fit_a_bulk_one() -> None:
    body = "&".join(f"identities=p{n}" for n in range(1000)).encode()
    assert len(_read(body, "application/x-www-form-urlencoded")[1]["identities"]) == 1000


def test_json_takes_an_array_as_it_is_and_ignores_unknown_keys() -> None:
    body = json.dumps(
        {"identities": ["a,b", "c"], "duration": 60, "permission": {"can_publish": False}, "other": [1, {}]}
    )
    params, lists = _read(body.encode(), "application/json")
    assert lists == {"identities": ["a,b", "c"]}  # a comma inside an identity survives only this way
    assert params == {"duration": "60", "permission": '{"can_publish":false}'}
    with pytest.raises(InvalidParameter) as refused:
        _read(json.dumps({"identities": [1, 2]}).encode(), "application/json")
    assert refused.value.param == "identities"


def test_multipart_repeats_too() -> None:
    boundary = "b0undary"
    parts = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in (("identities", "a"), ("identities", "b,c"), ("reason", "r"))
    )
    params, lists = _read(f"{parts}--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}")
    assert (params, lists) == ({"reason": "r"}, {"identities": ["a", "b", "c"]})


def test_the_query_string_counts_too() -> None:
    _, lists = _read(b"", "application/x-www-form-urlencoded", b"identities=a,b")
    assert lists == {"identities": ["a", "b"]}


@settings(max_examples=200)
@given(_json, st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain"]))
def test_anything_is_parameters_or_a_client_error(value: Any, content_type: str) -> None:
    body = json.dumps(value).encode() if content_type == "application/json" else str(value).encode()
    try:
        params, lists = _read(body, content_type)
    except (InvalidParameter, UnsupportedMediaType):
        return
    assert all(isinstance(v, str) for v in params.values())
    assert all(isinstance(item, str) for items in lists.values() for item in items)

"""Every error carries both of its messages: a Chinese one for each kind (the parameter template excepted,
which the API document writes in English), and `localize` picks by language."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest

from graphql_api import errors
from graphql_api.i18n import localize

CJK = re.compile(r"[\u4e00-\u9fff]")


def every_error() -> list[type[errors.GxrtcError]]:
    found: list[type[errors.GxrtcError]] = []
    pending: list[type[errors.GxrtcError]] = [errors.GxrtcError]
    while pending:
        kind = pending.pop()
        found.append(kind)
        pending.extend(kind.__subclasses__())
    return found


def sample(kind: type[errors.GxrtcError]) -> errors.GxrtcError:
    arguments: dict[str, Any] = {}
    for name, parameter in inspect.signature(kind.__init__).parameters.items():
        if name == "self" or parameter.default is not inspect.Parameter.empty:
            continue
        arguments[name] = {"retry_after": 3, "limit": 10, "seconds": 2.0}.get(name, f"<{name}>")
    if kind is errors.ServiceUnavailable:
        arguments["reason"] = "overloaded"
    return kind(**arguments)


@pytest.mark.parametrize("kind", every_error(), ids=lambda kind: kind.__name__)
def test_each_error_has_its_chinese_message(kind: type[errors.GxrtcError]) -> None:
    error = sample(kind)
    chinese = localize(error, "zh-CN", {})
    assert localize(error, "en", {}) == error.message
    if isinstance(error, errors.InvalidParameter):
        assert chinese == error.message
    else:
        assert CJK.search(chinese), chinese
        assert not CJK.search(error.message)


def test_the_chinese_message_names_what_the_english_one_names() -> None:
    error = errors.ParticipantNotFound("thehome", "xtqxk")
    assert "thehome" in error.zh()
    assert "xtqxk" in error.zh()
    assert localize(errors.MissingParameter("uid"), "zh-CN", {"uid": "identity"}) == "params identity is required"

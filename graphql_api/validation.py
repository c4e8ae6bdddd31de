"""Checks on caller input shared by both faces; each failure names its parameter."""

from __future__ import annotations

import re

from .errors import InvalidParameter, MissingParameter

__all__ = ["MAX_NAME_LENGTH", "check_count", "check_name"]

MAX_NAME_LENGTH = 256
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: none
# belongs in a room name or identity, and some break logs and headers.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_INT32_MAX = 2**31 - 1


def check_name(value: str | None, param: str) -> str:
    if value is None:
        raise MissingParameter(param)
    if value == "":
        raise InvalidParameter(param, "must not be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidParameter(param, f"must be at most {MAX_NAME_LENGTH} characters")
    if _CONTROL.search(value):
        raise InvalidParameter(param, "must not contain control characters")
    return value


def check_count(value: int | None, param: str, *, minimum: int = 0, maximum: int = _INT32_MAX) -> int | None:
    if value is None:
        return None
    if not minimum <= value <= maximum:
        raise InvalidParameter(param, f"must be between {minimum} and {maximum}")
    return value

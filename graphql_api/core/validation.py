"""Checks on caller input shared by both faces; each failure names its parameter."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import InvalidParameter, MissingParameter

__all__ = ["MAX_NAME_LENGTH", "check_count", "check_identities", "check_name", "check_text", "check_unicode"]

MAX_NAME_LENGTH = 256
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: none
# belongs in a room name or identity, and some break logs and headers.
# Lone surrogates (JSON's "\ud800") are no text at all: nothing can encode them.
_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NOT_UNICODE = "must be valid Unicode text (it has a lone surrogate)"
_INT32_MAX = 2**31 - 1


def check_name(value: str | None, param: str) -> str:
    if value is None:
        raise MissingParameter(param)
    if value == "":
        raise InvalidParameter(param, "must not be empty")
    refused = _REFUSED.search(value)
    if refused:
        if _SURROGATE.match(refused.group()):
            raise InvalidParameter(param, _NOT_UNICODE)
        raise InvalidParameter(param, "must not contain control characters")
    # LiveKit counts bytes, so a name of 256 Chinese characters would be refused upstream.
    if _too_long(value, MAX_NAME_LENGTH):
        raise InvalidParameter(param, f"must be at most {MAX_NAME_LENGTH} bytes of UTF-8")
    return value


def check_identities(values: Sequence[str] | None, param: str, *, maximum: int) -> list[str]:
    """A list of identities, each once in its first order: at least one, at most `maximum` distinct ones.

    Only the list is checked here; each identity is checked where it is used (a bulk act's item, a read).
    """
    if values is None:
        raise MissingParameter(param)
    if isinstance(values, str) or not all(isinstance(value, str) for value in values):
        raise InvalidParameter(param, "must be a list of strings")
    distinct = list(dict.fromkeys(values))
    if not distinct:
        raise InvalidParameter(param, "must name at least one identity")
    if len(distinct) > maximum:
        raise InvalidParameter(param, f"must name at most {maximum} identities")
    return distinct


def check_count(value: int | None, param: str, *, minimum: int = 0, maximum: int = _INT32_MAX) -> int | None:
    if value is None:
        return None
    if not minimum <= value <= maximum:
        raise InvalidParameter(param, f"must be between {minimum} and {maximum}")
    return value


def check_text(value: str, param: str, limit: int) -> str:
    check_unicode(value, param)
    if _too_long(value, limit):
        raise InvalidParameter(param, f"must be at most {limit} bytes of UTF-8")
    return value


def check_unicode(value: str, param: str) -> str:
    if _SURROGATE.search(value):
        raise InvalidParameter(param, _NOT_UNICODE)
    return value


def _too_long(value: str, limit: int) -> bool:
    # A character is one to four bytes of UTF-8: encode only when it could matter.
    return len(value) > limit or (len(value) * 4 > limit and len(value.encode()) > limit)

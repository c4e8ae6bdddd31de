"""Which language a caller gets its messages in, and the message of an error in it.

Each error carries both of its messages (`graphql_api.errors`); this picks one.

`Accept-Language` picks zh-CN or en; anything else gets the configured
default. The API document's own strings are used where it has them (its 403
example for a caller who is not logged in; its English `params <name> is
required` template, which stays English in both languages since legacy
clients may match on it). Programs should match `meta.error` or the GraphQL
`extensions.code`, which never change with the language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from .errors import GxrtcError, InvalidParameter

__all__ = ["Language", "localize", "negotiate", "zh_for_status"]

Language = Literal["zh-CN", "en"]


def negotiate(accept_language: str | None, default: Language) -> Language:
    """The first of zh or en in the header's order of preference; q-values of 0 are refusals."""
    if not accept_language:
        return default
    ranked: list[tuple[float, int, Language]] = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-", 1)[0]
        if quality > 0 and primary in ("zh", "en"):
            ranked.append((-quality, position, "zh-CN" if primary == "zh" else "en"))
    return min(ranked)[2] if ranked else default


def localize(error: GxrtcError, language: Language, aliases: Mapping[str, str]) -> str:
    """`error`'s message in `language`, with parameters named as the face shows them (`aliases`)."""
    if language == "zh-CN" and not isinstance(error, InvalidParameter):
        return error.zh()
    return error.message_for(aliases)


_ZH_BY_STATUS = {
    404: "接口不存在",
    405: "不支持的请求方法",
    408: "请求超时",
    413: "请求体过大",
    429: "请求过于频繁,请稍后重试",
    500: "服务器内部错误",
    503: "服务繁忙,请稍后重试",
}


def zh_for_status(status: int) -> str | None:
    """For errors raised outside our tree (unknown paths, wrong methods): a message by status."""
    return _ZH_BY_STATUS.get(status)

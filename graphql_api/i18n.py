"""Error messages for people, in the language they asked for.

`Accept-Language` picks zh-CN or en; anything else gets the configured
default. The API document's own strings are used where it has them (its 403
example for a caller who is not logged in; its English `params <name> is
required` template, which stays English in both languages since legacy
clients may match on it). Programs should match `meta.error` or the GraphQL
`extensions.code`, which never change with the language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

from .errors import (
    Banned,
    Conflict,
    Forbidden,
    GxrtcError,
    InvalidParameter,
    NotFound,
    ParticipantNotFound,
    PayloadTooLarge,
    RequestTimeout,
    RoomLocked,
    RoomNotFound,
    ServiceUnavailable,
    TooManyRequests,
    TrackNotFound,
    Unauthenticated,
    UnsupportedMediaType,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

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


def _zh_unavailable(error: GxrtcError) -> str:
    if error.error == "shutting down":
        return "服务正在重启,请稍后重试"
    if error.error == "database unavailable":
        return "数据库暂时无法连接,请稍后重试"
    return "服务繁忙,请稍后重试"


# Most specific class first: the first match wins.
_ZH: list[tuple[type[GxrtcError], Callable[[GxrtcError], str]]] = [
    (Unauthenticated, lambda e: "用户没有登录,不能使用"),
    (Banned, lambda e: f"用户 {e.identity} 已被禁止进入房间 {e.room}"),  # type: ignore[attr-defined]
    (RoomLocked, lambda e: f"房间 {e.room} 已锁定,只有主持人可以加入"),  # type: ignore[attr-defined]
    (Forbidden, lambda e: "用户没有权限进行此操作"),
    (RoomNotFound, lambda e: f"房间 {e.room} 不存在"),  # type: ignore[attr-defined]
    (ParticipantNotFound, lambda e: f"用户 {e.identity} 不在房间 {e.room} 中"),  # type: ignore[attr-defined]
    (TrackNotFound, lambda e: f"用户 {e.identity} 没有轨道 {e.track}"),  # type: ignore[attr-defined]
    (NotFound, lambda e: "请求的资源不存在"),
    (Conflict, lambda e: f"媒体服务器拒绝了此操作: {e.message}"),
    (PayloadTooLarge, lambda e: f"请求体过大,不能超过 {e.limit} 字节"),  # type: ignore[attr-defined]
    (RequestTimeout, lambda e: f"请求体未能在 {e.seconds:g} 秒内送达"),  # type: ignore[attr-defined]
    (TooManyRequests, lambda e: f"请求过于频繁,请 {e.retry_after} 秒后重试"),  # type: ignore[attr-defined]
    (ServiceUnavailable, _zh_unavailable),
    (UnsupportedMediaType, lambda e: "不支持的请求格式,请使用表单或 JSON"),
    (UpstreamUnavailable, lambda e: "媒体服务器暂时无法连接,请稍后重试"),
    (UpstreamTimeout, lambda e: "媒体服务器响应超时,请稍后重试"),
    (UpstreamError, lambda e: "媒体服务器出错,请稍后重试"),
]


def localize(error: GxrtcError, language: Language, aliases: Mapping[str, str]) -> str:
    if language == "zh-CN" and not isinstance(error, InvalidParameter):
        for kind, message in _ZH:
            if isinstance(error, kind):
                return message(error)
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

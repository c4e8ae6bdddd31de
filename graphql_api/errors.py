"""The one error tree of GXRTC API.

Every error the service means to show a caller is a :class:`GxrtcError`. Each
knows its HTTP status, its GraphQL ``extensions.code``, a short stable English
reason (``error``) and its message for people in both languages: ``message`` in
English and ``zh()`` in Chinese (`graphql_api.i18n` picks one). The REST face and
the GraphQL face turn them into their own shapes in one place each; anything
that is not a ``GxrtcError`` is a bug and is shown to callers only as a masked
internal error.

    GxrtcError                      500 INTERNAL_SERVER_ERROR
    ├── InvalidParameter            400 BAD_USER_INPUT
    │   └── MissingParameter        400 BAD_USER_INPUT
    ├── Unauthenticated             401 UNAUTHENTICATED        no credential, or one we cannot trust
    ├── Forbidden                   403 FORBIDDEN              a known caller without the right
    │   ├── Banned                  403 BANNED                 a token for an identity banned from the room
    │   └── RoomLocked              403 ROOM_LOCKED            a token for a user while the room is locked
    ├── NotFound                    404 NOT_FOUND
    │   ├── RoomNotFound
    │   ├── ParticipantNotFound
    │   └── TrackNotFound
    ├── Conflict                    409 CONFLICT
    ├── RequestTimeout              408 REQUEST_TIMEOUT        a body that did not arrive in time
    ├── PayloadTooLarge             413 PAYLOAD_TOO_LARGE
    ├── TooManyRequests             429 TOO_MANY_REQUESTS      a brake: failed credentials, one client's share
    ├── ServiceUnavailable          503 SERVICE_UNAVAILABLE    overloaded, or shutting down
    ├── UnsupportedMediaType        415 UNSUPPORTED_MEDIA_TYPE
    └── UpstreamError               502 BAD_GATEWAY        LiveKit answered, but not usefully
        ├── UpstreamAuthError       502 BAD_GATEWAY        LiveKit rejected our own credentials
        ├── UpstreamUnavailable     503 SERVICE_UNAVAILABLE LiveKit could not be reached
        └── UpstreamTimeout         504 GATEWAY_TIMEOUT    LiveKit did not answer in time
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "Banned",
    "Conflict",
    "Forbidden",
    "GxrtcError",
    "InvalidParameter",
    "MissingParameter",
    "NotFound",
    "ParticipantNotFound",
    "PayloadTooLarge",
    "RequestTimeout",
    "RoomLocked",
    "RoomNotFound",
    "ServiceUnavailable",
    "TooManyRequests",
    "TrackNotFound",
    "Unauthenticated",
    "UnsupportedMediaType",
    "UpstreamAuthError",
    "UpstreamError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]


class GxrtcError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"
    error: ClassVar[str] = "internal error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.error
        super().__init__(self.message)

    def message_for(self, aliases: Mapping[str, str]) -> str:
        """The message with parameters named as the face that shows it names them."""
        return self.message

    def zh(self) -> str:
        """The message in Chinese."""
        return "服务器内部错误"

    @property
    def extensions(self) -> dict[str, Any]:
        # graphql-core copies an original error's `extensions` onto the
        # GraphQLError it wraps it in, so this is how the code reaches clients
        # without the core importing anything from GraphQL.
        return {"code": self.code, "status": self.status}


class InvalidParameter(GxrtcError):
    status = 400
    code = "BAD_USER_INPUT"
    error = "invalid parameter"

    def __init__(self, param: str, detail: str) -> None:
        self.param = param
        self.detail = detail
        super().__init__(f"params {param} {detail}")

    def message_for(self, aliases: Mapping[str, str]) -> str:
        return f"params {aliases.get(self.param, self.param)} {self.detail}"

    def zh(self) -> str:
        # The API document's template, which legacy clients may match on, stays as it is written.
        return self.message

    @property
    def extensions(self) -> dict[str, Any]:
        return {**super().extensions, "param": self.param}


class MissingParameter(InvalidParameter):
    error = "missing parameter"

    def __init__(self, param: str) -> None:
        # The wording is the API document's own template.
        super().__init__(param, "is required")


class Unauthenticated(GxrtcError):
    status = 401
    code = "UNAUTHENTICATED"
    # The API document's own 403 example uses this reason for a caller who is not logged in.
    error = "user unauthorized"

    def __init__(self, message: str = "you are not logged in: send Authorization: Bearer <credential>") -> None:
        super().__init__(message)

    def zh(self) -> str:
        return "用户没有登录,不能使用"  # the API document's own words


class Forbidden(GxrtcError):
    status = 403
    code = "FORBIDDEN"
    error = "forbidden"

    def __init__(self, message: str = "you may not do this") -> None:
        super().__init__(message)

    def zh(self) -> str:
        return "用户没有权限进行此操作"


class Banned(Forbidden):
    code = "BANNED"
    error = "banned"

    def __init__(self, room: str, identity: str) -> None:
        self.room = room
        self.identity = identity
        super().__init__(f"{identity} is banned from room {room}")

    def zh(self) -> str:
        return f"用户 {self.identity} 已被禁止进入房间 {self.room}"


class RoomLocked(Forbidden):
    code = "ROOM_LOCKED"
    error = "room locked"

    def __init__(self, room: str) -> None:
        self.room = room
        super().__init__(f"room {room} is locked: only its moderators may join")

    def zh(self) -> str:
        return f"房间 {self.room} 已锁定,只有主持人可以加入"


class NotFound(GxrtcError):
    status = 404
    code = "NOT_FOUND"
    error = "not found"

    def zh(self) -> str:
        return "请求的资源不存在"


class RoomNotFound(NotFound):
    error = "room not found"

    def __init__(self, room: str) -> None:
        self.room = room
        super().__init__(f"room {room} does not exist")

    def zh(self) -> str:
        return f"房间 {self.room} 不存在"


class ParticipantNotFound(NotFound):
    error = "participant not found"

    def __init__(self, room: str, identity: str) -> None:
        self.room = room
        self.identity = identity
        super().__init__(f"participant {identity} is not in room {room}")

    def zh(self) -> str:
        return f"用户 {self.identity} 不在房间 {self.room} 中"


class TrackNotFound(NotFound):
    error = "track not found"

    def __init__(self, identity: str, track: str) -> None:
        self.identity = identity
        self.track = track
        super().__init__(f"participant {identity} has no track {track}")

    def zh(self) -> str:
        return f"用户 {self.identity} 没有轨道 {self.track}"


class Conflict(GxrtcError):
    status = 409
    code = "CONFLICT"
    error = "conflict"

    def zh(self) -> str:
        return f"媒体服务器拒绝了此操作: {self.message}"


class PayloadTooLarge(GxrtcError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"
    error = "payload too large"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the request body is over the limit of {limit} bytes")

    def zh(self) -> str:
        return f"请求体过大,不能超过 {self.limit} 字节"


class RequestTimeout(GxrtcError):
    status = 408
    code = "REQUEST_TIMEOUT"
    error = "request timeout"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"the request body did not arrive within {seconds:g} s")

    def zh(self) -> str:
        return f"请求体未能在 {self.seconds:g} 秒内送达"


class TooManyRequests(GxrtcError):
    """A caller (an address, or a key prefix) has used up its share; `retry_after` says when to come back."""

    status = 429
    code = "TOO_MANY_REQUESTS"
    error = "too many requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)

    def zh(self) -> str:
        return f"请求过于频繁,请 {self.retry_after} 秒后重试"

    @property
    def extensions(self) -> dict[str, Any]:
        return {**super().extensions, "retryAfter": self.retry_after}


class ServiceUnavailable(GxrtcError):
    """This service itself cannot take the request now: overloaded, or shutting down."""

    status = 503
    code = "SERVICE_UNAVAILABLE"
    error = "service unavailable"

    def __init__(self, message: str, *, reason: str, retry_after: int = 1) -> None:
        self.error = reason  # type: ignore[misc]
        self.retry_after = retry_after
        super().__init__(message)

    def zh(self) -> str:
        if self.error == "shutting down":
            return "服务正在重启,请稍后重试"
        if self.error == "database unavailable":
            return "数据库暂时无法连接,请稍后重试"
        return "服务繁忙,请稍后重试"


class UnsupportedMediaType(GxrtcError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    error = "unsupported media type"

    def zh(self) -> str:
        return "不支持的请求格式,请使用表单或 JSON"


class UpstreamError(GxrtcError):
    status = 502
    code = "BAD_GATEWAY"
    error = "livekit error"

    def zh(self) -> str:
        return "媒体服务器出错,请稍后重试"


class UpstreamAuthError(UpstreamError):
    error = "livekit rejected the service credentials"

    def __init__(self) -> None:
        # The caller did nothing wrong, so this must never look like their 401.
        super().__init__("the media server rejected this service's credentials")


class UpstreamUnavailable(UpstreamError):
    status = 503
    code = "SERVICE_UNAVAILABLE"
    error = "livekit unavailable"

    def __init__(
        self, message: str = "the media server cannot be reached, try again shortly", *, retry_after: int = 1
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message)

    @property
    def extensions(self) -> dict[str, Any]:
        return {**super().extensions, "retryAfter": self.retry_after}

    def zh(self) -> str:
        return "媒体服务器暂时无法连接,请稍后重试"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "GATEWAY_TIMEOUT"
    error = "livekit timeout"

    def __init__(self) -> None:
        super().__init__("the media server did not answer in time")

    def zh(self) -> str:
        return "媒体服务器响应超时,请稍后重试"

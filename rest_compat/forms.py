"""Reading a request's parameters the way legacy clients send them.

The document says "Content Type: form": `application/x-www-form-urlencoded`
(what `curl -d` sends). `multipart/form-data` and a JSON object with the same
keys are accepted too. Query-string parameters fill in what the body lacks.
JSON is read with orjson, which refuses what no text can be (lone surrogates
such as "\ud800", invalid UTF-8) and nesting over 1,024 deep, as malformed.
"""

from __future__ import annotations

import json
from typing import Any, overload
from urllib.parse import parse_qsl

import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request

from graphql_api.errors import InvalidParameter, UnsupportedMediaType

__all__ = ["MAX_FIELDS", "bool_param", "int_param", "json_param", "list_param", "read_params"]

MAX_FIELDS = 100


# A JSON client may send numbers as numbers, and `attrs` or `permission` as an
# object rather than as a string holding one; both mean the same as the form.
_NUMBER_KEYS = frozenset({"empty_timeout", "departure_timeout", "max_participants", "duration"})
_OBJECT_KEYS = frozenset({"attrs", "attributes", "permission"})
_BOOLEAN_KEYS = frozenset({"remove_late_joiners", "strict"})
# Lists of names: the key repeated, one comma-separated value, or (JSON) an array of strings. Repeated
# values are kept joined by a newline, which no name may contain (validation refuses control characters).
_LIST_KEYS = frozenset({"except", "sources", "identities"})
_REPEATED = "\n"
_KNOWN_KEYS = (
    _NUMBER_KEYS
    | _OBJECT_KEYS
    | _BOOLEAN_KEYS
    | _LIST_KEYS
    | {"uid", "room", "metadata", "name", "track_sid", "source", "reason", "topic", "payload"}
)
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _scalar(key: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if key in _NUMBER_KEYS and not isinstance(value, bool):
        # JSON has one number type: 300.0 is the integer 300.
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
    if key in _BOOLEAN_KEYS and isinstance(value, bool):
        return "true" if value else "false"
    if key in _OBJECT_KEYS and isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if key in _LIST_KEYS and isinstance(value, list) and all(isinstance(item, str) for item in value):
        return _REPEATED.join(value) if value else _REPEATED
    raise InvalidParameter(key, "must be a string" if key not in _NUMBER_KEYS else "must be a non-negative integer")


def _parse_urlencoded(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParameter("body", "must be UTF-8") from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict")
    except UnicodeDecodeError:
        raise InvalidParameter("body", "must be UTF-8 once percent-decoded") from None
    except ValueError:
        raise InvalidParameter("body", f"must have at most {MAX_FIELDS} fields") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        _add(params, key, value)
    return params


def _add(params: dict[str, str], key: str, value: str) -> None:
    """The first value of a key, but every value of a list key."""
    if key in _LIST_KEYS and key in params:
        params[key] += _REPEATED + value
    else:
        params.setdefault(key, value)


async def read_params(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    params: dict[str, str]
    if content_type == "multipart/form-data":
        form = await request.form(max_files=0, max_fields=MAX_FIELDS)
        params = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                raise InvalidParameter(key, "must be a plain form field, not a file")
            _add(params, key, value)
    elif content_type == "application/json":
        body = await request.body()
        if not body.strip():
            params = {}
        else:
            try:
                decoded = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise InvalidParameter("body", "must be a JSON object") from None
            if not isinstance(decoded, dict):
                raise InvalidParameter("body", "must be a JSON object")
            # Keys the API does not know are ignored, as a form's would be.
            params = {
                key: _scalar(key, value)
                for key, value in decoded.items()
                if value is not None and (key in _KNOWN_KEYS or isinstance(value, str))
            }
    elif content_type in ("application/x-www-form-urlencoded", "", "text/plain"):
        params = _parse_urlencoded(await request.body())
    else:
        raise UnsupportedMediaType(f"content type {content_type} is not supported; send a form or JSON")
    if request.scope.get("query_string"):
        for key, value in request.query_params.multi_items():
            params.setdefault(key, value)
    return params


def int_param(params: dict[str, str], key: str) -> int | None:
    raw = params.get(key)
    if raw is None or raw.strip() == "":
        return None
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        raise InvalidParameter(key, "must be a non-negative integer")
    return int(raw)


@overload
def bool_param(params: dict[str, str], key: str, *, default: bool) -> bool: ...


@overload
def bool_param(params: dict[str, str], key: str, *, default: None = None) -> bool | None: ...


def bool_param(params: dict[str, str], key: str, *, default: bool | None = None) -> bool | None:
    """true/false (1/0, yes/no, on/off, in any case); `default` when absent or blank."""
    raw = params.get(key)
    if raw is None or raw.strip() == "":
        return default
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise InvalidParameter(key, "must be true or false")


def list_param(params: dict[str, str], key: str) -> list[str] | None:
    """A list of names: the key repeated, or one comma-separated value; None when absent."""
    raw = params.get(key)
    if raw is None:
        return None
    items = raw.split(_REPEATED) if _REPEATED in raw else raw.split(",")
    return [item.strip() for item in items if item.strip()]


def json_param(params: dict[str, str], key: str, core_name: str) -> Any:
    """A form field that holds JSON, such as `attrs` or `permission`; None when absent or blank.

    Errors name the parameter as the core does (`core_name`), so the one alias
    table renders it as the document names it.
    """
    raw = params.get(key)
    if raw is None or raw.strip() == "":
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidParameter(core_name, 'must be a JSON object, like {"key":"value"}') from None

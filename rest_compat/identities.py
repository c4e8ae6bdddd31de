"""Reading a list of identities the way REST clients send one: a repeated field, comma-separated, or a JSON array.

`read_params` (forms) keeps the first value of a repeated field and at most
`MAX_FIELDS` fields; a bulk act names up to `MAX_BULK_IDENTITIES`, so its body
is read here, into the same scalar parameters plus the list. A form value is
split on commas (`identities=a,b&identities=c`); a JSON array's items are taken
as they are (an identity with a comma can only travel that way).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.datastructures import UploadFile
from starlette.requests import Request

from graphql_api.core.bulk import MAX_BULK_IDENTITIES
from graphql_api.errors import InvalidParameter, UnsupportedMediaType

from .forms import MAX_FIELDS

__all__ = ["IDENTITIES", "read_bulk_params", "split_identities"]

IDENTITIES = "identities"
_LIST_KEYS = frozenset({IDENTITIES, "sources"})
_SCALAR_KEYS = frozenset({"reason", "duration", "permission"})
_MAX_FORM_FIELDS = MAX_FIELDS + MAX_BULK_IDENTITIES


def split_identities(values: list[str]) -> list[str]:
    """Form values, each comma-separated, as one list (blank parts dropped); duplicates stay for the core."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _json_scalar(key: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return str(int(value))
    if isinstance(value, dict):
        return orjson.dumps(value).decode()
    raise InvalidParameter(key, "must be a string")


def _json_list(key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        return split_identities([value])
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise InvalidParameter(key, "must be a list of strings, or one comma-separated string")


async def read_bulk_params(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The body's (and query string's) scalar parameters, and its lists (`identities`, `sources`)."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    params: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    pairs: list[tuple[str, str]] = []
    if content_type == "multipart/form-data":
        form = await request.form(max_files=0, max_fields=_MAX_FORM_FIELDS)
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                raise InvalidParameter(key, "must be a plain form field, not a file")
            pairs.append((key, value))
    elif content_type == "application/json":
        raw = await request.body()
        if raw.strip():
            try:
                decoded = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise InvalidParameter("body", "must be a JSON object") from None
            if not isinstance(decoded, dict):
                raise InvalidParameter("body", "must be a JSON object")
            for key, value in decoded.items():
                if value is None:
                    continue
                if key in _LIST_KEYS:
                    lists[key] = _json_list(key, value)
                elif key in _SCALAR_KEYS or isinstance(value, str):
                    # Keys the API does not know are ignored, as a form's would be.
                    params[key] = _json_scalar(key, value)
    elif content_type in ("application/x-www-form-urlencoded", "", "text/plain"):
        try:
            text = (await request.body()).decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=_MAX_FORM_FIELDS, errors="strict")
        except UnicodeDecodeError:
            raise InvalidParameter("body", "must be UTF-8") from None
        except ValueError:
            raise InvalidParameter("body", f"must have at most {_MAX_FORM_FIELDS} fields") from None
    else:
        raise UnsupportedMediaType(f"content type {content_type} is not supported; send a form or JSON")
    if request.scope.get("query_string"):
        pairs.extend(request.query_params.multi_items())
    form_lists: dict[str, list[str]] = {}
    for key, value in pairs:
        name = key.removesuffix("[]")
        if name in _LIST_KEYS:
            form_lists.setdefault(name, []).append(value)
        else:
            params.setdefault(key, value)
    for name, values in form_lists.items():
        lists.setdefault(name, split_identities(values))
    return params, lists

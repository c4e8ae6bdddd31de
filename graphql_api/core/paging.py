"""Cursor pages over a list in a stable order: opaque cursors, a bounded page, the total after filters.

LiveKit lists rooms and participants whole (ListRooms filters by name only), so
a page is cut from a fresh listing: items sorted by a unique key, the page
starting after the cursor's key (keyset, so an item added or removed before the
cursor shifts nothing after it). A cursor is the key, base64url-encoded with a
kind, so a rooms cursor is refused where a participants cursor is expected;
it names a position, not a permission (each page is authorized as a read).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from ..errors import InvalidParameter
from .validation import check_count

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "Page", "cut_page", "decode_cursor", "encode_cursor"]

T = TypeVar("T")

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 500
_MAX_CURSOR_LENGTH: Final = 2048


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    """Each item's own cursor: the page after it starts with the next item."""
    total_count: int
    """How many items match the filters, over every page."""
    has_next_page: bool

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None


def encode_cursor(kind: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: str, param: str) -> str | None:
    """The key a cursor of `kind` names; a 400 naming `param` for anything this API did not give out."""
    if cursor is None or cursor == "":
        return None
    if len(cursor) > _MAX_CURSOR_LENGTH:
        raise InvalidParameter(param, "is not a cursor from this API")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidParameter(param, "is not a cursor from this API") from None
    prefix, separator, key = text.partition(":")
    if prefix != kind or not separator:
        raise InvalidParameter(param, "is not a cursor from this API")
    return key


def cut_page(
    items: Iterable[T],
    key: Callable[[T], str],
    *,
    kind: str,
    first: int | None,
    after: str | None,
) -> Page[T]:
    """The page of `items` (already filtered) after `after`, in the order of `key`, at most `first` long."""
    size = check_count(first, "first", minimum=1, maximum=MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE
    start = decode_cursor(after, kind, "after")
    ordered = sorted(items, key=key)
    remaining = ordered if start is None else [item for item in ordered if key(item) > start]
    chosen = remaining[:size]
    return Page(
        items=chosen,
        cursors=[encode_cursor(kind, key(item)) for item in chosen],
        total_count=len(ordered),
        has_next_page=len(remaining) > size,
    )

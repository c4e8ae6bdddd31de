"""Cursor connections (Relay's shape) and the filters of the paged lists (`graphql_api.core.paging`).

`Connection[Room]` is named `RoomConnection` by Strawberry, `Edge[Room]` `RoomEdge`, and so on, so
normalized caches and codegen see one ordinary type per list.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Callable
from typing import Generic, TypeVar, cast

import strawberry

from ..core.paging import Page
from ..core.participants import ParticipantFilter as ParticipantFilterData
from ..core.rooms import RoomFilter as RoomFilterData
from .types import ParticipantKind, ParticipantState

__all__ = ["AttributeMatch", "Connection", "Edge", "PageInfo", "ParticipantFilter", "RoomFilter"]

T = TypeVar("T")
M = TypeVar("M")


@strawberry.type(description="Where a page ends, and whether another follows.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")


@strawberry.type
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque; the page after this item starts with the next one.")
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int = strawberry.field(description="How many match the filter, over every page.")

    @classmethod
    def of(cls, page: Page[M], convert: Callable[[M], T]) -> Connection[T]:
        return cls(
            edges=[
                Edge(cursor=cursor, node=convert(item)) for item, cursor in zip(page.items, page.cursors, strict=True)
            ],
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
            total_count=page.total_count,
        )


@strawberry.input(description="Narrows a page of rooms; every field given must match.")
class RoomFilter:
    name_prefix: str | None = None
    has_participants: bool | None = None
    created_since: datetime.datetime | None = strawberry.field(
        default=None, description="Rooms LiveKit created at or after this time."
    )

    def to_data(self) -> RoomFilterData:
        since = self.created_since
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=datetime.UTC)
        return RoomFilterData(
            name_prefix=self.name_prefix,
            has_participants=self.has_participants,
            created_since=int(since.timestamp()) if since is not None else None,
        )


@strawberry.input(description="A participant attribute and the value it must have.")
class AttributeMatch:
    key: str
    value: str


@strawberry.input(description="Narrows a page of participants; every field given must match.")
class ParticipantFilter:
    states: list[ParticipantState] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Any of these states."
    )
    kinds: list[ParticipantKind] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Any of these kinds."
    )
    attribute: AttributeMatch | None = None
    publishing: bool | None = strawberry.field(default=None, description="Publishes at least one track, or none.")

    def to_data(self) -> ParticipantFilterData:
        return ParticipantFilterData(
            states=tuple(cast(enum.Enum, state).name for state in self.states or ()),
            kinds=tuple(cast(enum.Enum, kind).name for kind in self.kinds or ()),
            attribute=(self.attribute.key, self.attribute.value) if self.attribute is not None else None,
            publishing=self.publishing,
        )

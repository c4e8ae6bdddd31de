"""muteAll and unmuteAll (`graphql_api.core.mute_all`): a room's sticky mute, with a result per identity."""

from __future__ import annotations

from typing import Annotated

import strawberry

from ...core import mute_all as mute_all_ops
from ..context import Info
from ..moderation import RoomMuteAll
from ..types import ItemError, TrackSource

__all__ = ["MuteAllMutations"]


@strawberry.type(description="What a mute-all did to one participant in the room (the excepted are not listed).")
class MuteAllItem:
    identity: str
    ok: bool
    muted_tracks: int = strawberry.field(description="How many of its tracks this call muted.")
    error: ItemError | None


@strawberry.type(description="A mute-all: the room's state now, and a result per participant it concerned.")
class MuteAllResult:
    state: RoomMuteAll
    results: list[MuteAllItem]


@strawberry.type
class MuteAllMutations:
    @strawberry.mutation(
        description=(
            "Mute every track of `sources` (microphones by default) in a room, but those of the `except`"
            " identities, and keep it so: a track of those sources published or found unmuted later is muted"
            " as soon as the service learns of it (moderators of the room, admins). Calling it again replaces"
            " the sources and exceptions; NOT_FOUND for no such room. With `strict`, tokens minted meanwhile for"
            " identities not excepted cannot publish those sources at all (unpublished rather than muted)."
        )
    )
    async def mute_all(
        self,
        info: Info,
        room: str,
        except_: Annotated[list[str] | None, strawberry.argument(name="except")] = None,
        sources: list[TrackSource] | None = None,  # type: ignore[valid-type]
        strict: bool = False,
    ) -> MuteAllResult:
        core, principal = await info.context.caller()
        done = await mute_all_ops.mute_all(
            core,
            principal,
            room,
            excepted=except_,
            sources=[source.name for source in sources] if sources is not None else None,  # type: ignore[attr-defined]
            strict=strict,
        )
        language = info.context.language
        return MuteAllResult(
            state=RoomMuteAll.from_data(done.state),
            results=[
                MuteAllItem(
                    identity=outcome.identity,
                    ok=outcome.ok,
                    muted_tracks=outcome.muted_tracks,
                    error=ItemError.of(outcome.error, language) if outcome.error is not None else None,
                )
                for outcome in done.outcomes
            ],
        )

    @strawberry.mutation(
        description=(
            "Lift a room's mute-all: tracks stay as they are, and who joins afterwards is not muted."
            " True if the room was muted all."
        )
    )
    async def unmute_all(self, info: Info, room: str) -> bool:
        return await mute_all_ops.unmute_all(*await info.context.caller(), room)

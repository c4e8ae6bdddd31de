"""kickParticipants, muteParticipants, updateParticipantsPermissions, banParticipants (`graphql_api.core.bulk`).

Each answers a result per identity; an item's error has the code and reason of
the one error tree and a message in the caller's language, as the error of the
single act would (`graphql_api.errors`, `graphql_api.i18n`).
"""

from __future__ import annotations

import strawberry

from ...core import bulk as bulk_ops
from ...core.bulk import ItemResult
from ...i18n import Language, localize
from ..context import Info
from ..types import ParticipantPermissionInput, TrackSource

__all__ = ["BulkError", "BulkMutations", "BulkResult"]

_LIMIT = f"At most {bulk_ops.MAX_BULK_IDENTITIES} distinct identities (duplicates count once); more is BAD_USER_INPUT."


@strawberry.type(description="Why one identity of a bulk act failed: what the single act would have answered.")
class BulkError:
    code: str = strawberry.field(description="As `extensions.code` of the single act's error: NOT_FOUND, FORBIDDEN...")
    reason: str = strawberry.field(description="A short stable English reason (REST's `meta.error`).")
    message: str = strawberry.field(description="For people, in the caller's language.")


@strawberry.type(description="What became of one identity of a bulk act.")
class BulkResult:
    identity: str
    ok: bool
    error: BulkError | None

    @classmethod
    def of(cls, result: ItemResult, language: Language) -> BulkResult:
        error = result.error
        return cls(
            identity=result.identity,
            ok=error is None,
            error=None
            if error is None
            else BulkError(code=error.code, reason=error.error, message=localize(error, language, {})),
        )


def _results(results: list[ItemResult], info: Info) -> list[BulkResult]:
    return [BulkResult.of(result, info.context.language) for result in results]


@strawberry.type
class BulkMutations:
    @strawberry.mutation(
        description=(
            "Kick each of `identities` from `room`: a result per identity, in the order asked, never all or"
            f" nothing. Moderators of the room, admins. {_LIMIT}"
        )
    )
    async def kick_participants(self, info: Info, room: str, identities: list[str]) -> list[BulkResult]:
        return _results(await bulk_ops.kick_participants(*await info.context.caller(), room, identities), info)

    @strawberry.mutation(
        description=(
            "Mute (or with `muted: false`, unmute) each identity's tracks of `sources` (default: its microphone)."
            f" A result per identity. {_LIMIT}"
        )
    )
    async def mute_participants(
        self,
        info: Info,
        room: str,
        identities: list[str],
        sources: list[TrackSource] | None = None,  # type: ignore[valid-type]
        muted: bool = True,
    ) -> list[BulkResult]:
        names = [source.name for source in sources] if sources else None  # type: ignore[attr-defined]
        results = await bulk_ops.mute_participants(
            *await info.context.caller(), room, identities, sources=names, muted=muted
        )
        return _results(results, info)

    @strawberry.mutation(
        description=(
            "Change what each identity may do; fields left out keep their current value, as"
            f" updateParticipantPermissions. A result per identity. {_LIMIT}"
        )
    )
    async def update_participants_permissions(
        self, info: Info, room: str, identities: list[str], permission: ParticipantPermissionInput
    ) -> list[BulkResult]:
        results = await bulk_ops.update_participants_permissions(
            *await info.context.caller(), room, identities, permission.to_patch()
        )
        return _results(results, info)

    @strawberry.mutation(
        description=(
            "Ban each identity from `room`, as banParticipant (removed now if there; `durationSeconds` null or 0:"
            f" until unbanned). A result per identity. {_LIMIT}"
        )
    )
    async def ban_participants(
        self,
        info: Info,
        room: str,
        identities: list[str],
        reason: str | None = None,
        duration_seconds: int | None = None,
    ) -> list[BulkResult]:
        results = await bulk_ops.ban_participants(
            *await info.context.caller(), room, identities, reason=reason, duration_seconds=duration_seconds
        )
        return _results(results, info)

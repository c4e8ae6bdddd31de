"""kickParticipant, muteParticipant, updateParticipantInfo and -Permissions (`graphql_api.core.participants`)."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from ...core import participants as participant_ops
from ..context import Info
from ..types import Participant, ParticipantPermissionInput, TrackSource

__all__ = ["ParticipantMutations"]


@strawberry.type
class ParticipantMutations:
    @strawberry.mutation(description="Disconnect a participant from its room. True when done.")
    async def kick_participant(self, info: Info, room: str, identity: str) -> bool:
        await participant_ops.kick_participant(*await info.context.caller(), room, identity)
        return True

    @strawberry.mutation(
        description=(
            "Mute (or with `muted: false`, unmute) a participant's microphone tracks, or the one track or"
            " source given. Returns the participant with its tracks as they are now."
        )
    )
    async def mute_participant(
        self,
        info: Info,
        room: str,
        identity: str,
        muted: bool = True,
        track_sid: str | None = None,
        source: TrackSource | None = None,  # type: ignore[valid-type]
    ) -> Participant:
        participant = await participant_ops.mute_participant(
            *await info.context.caller(),
            room,
            identity,
            muted=muted,
            track_sid=track_sid,
            source=source.name if source is not None else None,
        )
        return Participant.from_proto(participant)

    @strawberry.mutation(
        description=(
            "Change a participant's metadata, name or attributes. Attributes merge into the current ones;"
            " an empty value deletes its key."
        )
    )
    async def update_participant_info(
        self,
        info: Info,
        room: str,
        identity: str,
        metadata: str | None = None,
        attributes: JSON | None = None,
        name: str | None = None,
    ) -> Participant:
        participant = await participant_ops.update_participant(
            *await info.context.caller(), room, identity, metadata=metadata, attributes=attributes, name=name
        )
        return Participant.from_proto(participant)

    @strawberry.mutation(description="Change what a participant may do; fields left out keep their current value.")
    async def update_participant_permissions(
        self, info: Info, room: str, identity: str, permission: ParticipantPermissionInput
    ) -> Participant:
        participant = await participant_ops.update_participant(
            *await info.context.caller(), room, identity, permission=permission.to_patch()
        )
        return Participant.from_proto(participant)

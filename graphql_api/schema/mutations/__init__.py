"""The GraphQL mutations, one class per noun, assembled into `Mutation` (fields in this order in the SDL)."""

from __future__ import annotations

import strawberry

from .bans import BanMutations
from .bulk import BulkMutations
from .locks import LockMutations
from .mute_all import MuteAllMutations
from .participants import ParticipantMutations
from .room_info import RoomInfoMutations
from .rooms import RoomMutations
from .tokens import TokenMutations

__all__ = ["Mutation"]


@strawberry.type
class Mutation(
    TokenMutations,
    RoomMutations,
    RoomInfoMutations,
    ParticipantMutations,
    BanMutations,
    LockMutations,
    MuteAllMutations,
    BulkMutations,
):
    """The mutations of tokens, rooms (and the room itself), participants, bans, locks, mute-all and bulk acts,
    in this order (the bases' order is the SDL's)."""

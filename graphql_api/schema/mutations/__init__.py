"""The GraphQL mutations, one class per noun, assembled into `Mutation` (fields in this order in the SDL)."""

from __future__ import annotations

import strawberry

from .bans import BanMutations
from .bulk import BulkMutations
from .locks import LockMutations
from .participants import ParticipantMutations
from .rooms import RoomMutations
from .tokens import TokenMutations

__all__ = ["Mutation"]


@strawberry.type
class Mutation(TokenMutations, RoomMutations, ParticipantMutations, BanMutations, LockMutations, BulkMutations):
    """The tokens', rooms', participants', bans', locks' and bulk acts' mutations, in this order (the SDL's)."""

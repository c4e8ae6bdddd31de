"""The GraphQL mutations, one class per noun, assembled into `Mutation` (fields in this order in the SDL)."""

from __future__ import annotations

import strawberry

from .bans import BanMutations
from .locks import LockMutations
from .participants import ParticipantMutations
from .rooms import RoomMutations
from .tokens import TokenMutations

__all__ = ["Mutation"]


@strawberry.type
class Mutation(TokenMutations, RoomMutations, ParticipantMutations, BanMutations, LockMutations):
    """The tokens', rooms', participants', bans' and locks' mutations, in this order (the bases' order is the SDL's)."""

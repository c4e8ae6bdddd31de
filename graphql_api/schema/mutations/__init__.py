"""The GraphQL mutations, one class per noun, assembled into `Mutation` (fields in this order in the SDL)."""

from __future__ import annotations

import strawberry

from .participants import ParticipantMutations
from .rooms import RoomMutations
from .tokens import TokenMutations

__all__ = ["Mutation"]


@strawberry.type
class Mutation(TokenMutations, RoomMutations, ParticipantMutations):
    """The tokens', rooms' and participants' mutations, in this order (the bases' order is the SDL's)."""

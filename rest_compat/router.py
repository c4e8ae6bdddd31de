"""REST compat: the paths, parameters and envelope of the GXRTC API document, one module per noun.

Importing `tokens`, `rooms`, `room_info`, `participants`, `bans`, `locks`, `mute_all` and `audit` fills
the one route table (`table.router`), in this order, which is the order Starlette tries them in.
"""

from __future__ import annotations

# isort: off
from . import tokens
from . import rooms
from . import room_info
from . import participants
from . import bans
from . import locks
from . import mute_all
from . import audit

# isort: on
from .table import router

__all__ = ["audit", "bans", "locks", "mute_all", "participants", "room_info", "rooms", "router", "tokens"]

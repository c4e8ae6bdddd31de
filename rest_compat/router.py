"""REST compat: the paths, parameters and envelope of the GXRTC API document, one module per noun.

Importing `tokens`, `rooms`, `room_info`, `participants`, `bans`, `locks`, `mute_all`, `audit`, `bulk` and
`presence` fills the one route table (`table.router`), in this order, which is the order Starlette tries them in.
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
from . import bulk
from . import presence

# isort: on
from .table import router

__all__ = [
    "audit",
    "bans",
    "bulk",
    "locks",
    "mute_all",
    "participants",
    "presence",
    "room_info",
    "rooms",
    "router",
    "tokens",
]

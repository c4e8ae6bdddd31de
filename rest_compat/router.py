"""REST compat: the paths, parameters and envelope of the GXRTC API document, one module per noun.

Importing `tokens`, `rooms`, `participants`, `bans`, `locks`, `audit`, `bulk` and `presence` fills the one route table
(`table.router`), in this order, which is the order Starlette tries them in.
"""

from __future__ import annotations

# isort: off
from . import tokens
from . import rooms
from . import participants
from . import bans
from . import locks
from . import audit
from . import bulk
from . import presence

# isort: on
from .table import router

__all__ = ["audit", "bans", "bulk", "locks", "participants", "presence", "rooms", "router", "tokens"]

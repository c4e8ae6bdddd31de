"""The moderation store: bans, room locks, rooms muted all and the audit trail, in SQLite or PostgreSQL.

State that must survive a restart and be shared by every instance. SQLAlchemy 2
(async; aiosqlite or asyncpg), schema by Alembic's migrations. The tables are in
`tables`.
"""

from __future__ import annotations

from .engine import Store
from .tables import EVERY_ROOM, audit_events, bans, metadata, room_locks, room_mute_all

__all__ = ["EVERY_ROOM", "Store", "audit_events", "bans", "metadata", "room_locks", "room_mute_all"]

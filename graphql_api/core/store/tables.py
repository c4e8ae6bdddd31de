"""The moderation store's tables: bans, room locks, rooms muted all and the audit trail.

SQLAlchemy Core tables, one `MetaData`, the same on SQLite and PostgreSQL.
Times are Unix seconds (a double on both), so comparisons and expiry need no
time-zone handling and read the same on either database. Alembic's migrations
(`migrations/`) create exactly these; a test holds the two equal.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Double,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from ..validation import MAX_NAME_LENGTH

__all__ = ["EVERY_ROOM", "audit_events", "bans", "metadata", "room_locks", "room_mute_all"]

# Names constraints so migrations can refer to them on either database.
metadata: Final = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

EVERY_ROOM: Final = ""
"""`bans.room` of a ban on every room (an admin's). No room is named "": names must not be empty."""

_NAME = String(MAX_NAME_LENGTH * 4)  # characters on PostgreSQL; a name is at most that many bytes of UTF-8

bans: Final = Table(
    "bans",
    metadata,
    Column("room", _NAME, nullable=False, comment='"" for every room'),
    Column("identity", _NAME, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("banned_by", _NAME, nullable=False),
    Column("banned_at", Double, nullable=False),
    Column("expires_at", Double, nullable=True, comment="NULL: until unbanned"),
    PrimaryKeyConstraint("room", "identity"),
    Index(None, "identity"),
)

room_locks: Final = Table(
    "room_locks",
    metadata,
    Column("room", _NAME, primary_key=True),
    Column("locked_by", _NAME, nullable=False),
    Column("locked_at", Double, nullable=False),
    Column("remove_late_joiners", Boolean, nullable=False, default=True),
)

room_mute_all: Final = Table(
    "room_mute_all",
    metadata,
    Column("room", _NAME, primary_key=True),
    Column("muted_by", _NAME, nullable=False),
    Column("muted_at", Double, nullable=False),
    Column("sources", JSON, nullable=False, comment="track source names, lower-case"),
    Column("excepted", JSON, nullable=False, comment="identities left alone"),
    Column("strict", Boolean, nullable=False, default=False, comment="tokens minted meanwhile cannot publish them"),
)

# SQLite makes only an INTEGER PRIMARY KEY an alias of its rowid (and so autoincrementing).
_ROW_ID = BigInteger().with_variant(Integer, "sqlite")

audit_events: Final = Table(
    "audit_events",
    metadata,
    Column("id", _ROW_ID, primary_key=True, autoincrement=True),
    Column("at", Double, nullable=False),
    Column("actor", _NAME, nullable=False, comment="the principal's uid"),
    Column("actor_role", String(16), nullable=False, comment="admin, moderator or user"),
    Column("credential", String(16), nullable=False, comment="jwt, api_key or anonymous"),
    Column("face", String(16), nullable=False, comment="rest or graphql"),
    Column("action", String(64), nullable=False),
    Column("room", _NAME, nullable=True),
    Column("identity", _NAME, nullable=True),
    Column("detail", JSON, nullable=False, default=dict, comment="the parameters that matter; never a secret"),
    Column("result", String(64), nullable=False, comment='"ok" or the error code'),
    Column("request_id", String(128), nullable=True),
    Index(None, "room", "id"),
    Index(None, "actor", "id"),
    Index(None, "action", "id"),
    Index(None, "at"),
)

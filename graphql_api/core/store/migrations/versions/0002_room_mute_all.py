"""Rooms muted all: a room's sticky mute-all state (which sources, who is excepted).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Written out rather than imported: a migration stays what it was when tables.py changes.
_NAME = sa.String(1024)


def upgrade() -> None:
    op.create_table(
        "room_mute_all",
        sa.Column("room", _NAME, nullable=False),
        sa.Column("muted_by", _NAME, nullable=False),
        sa.Column("muted_at", sa.Double(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False, comment="track source names, lower-case"),
        sa.Column("excepted", sa.JSON(), nullable=False, comment="identities left alone"),
        sa.Column("strict", sa.Boolean(), nullable=False, comment="tokens minted meanwhile cannot publish them"),
        sa.PrimaryKeyConstraint("room", name="pk_room_mute_all"),
    )


def downgrade() -> None:
    op.drop_table("room_mute_all")

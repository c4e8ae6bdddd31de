"""The moderation store: bans, room locks and the audit trail.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Written out rather than imported: a migration stays what it was when tables.py changes.
_NAME = sa.String(1024)
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bans",
        sa.Column("room", _NAME, nullable=False, comment='"" for every room'),
        sa.Column("identity", _NAME, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("banned_by", _NAME, nullable=False),
        sa.Column("banned_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=True, comment="NULL: until unbanned"),
        sa.PrimaryKeyConstraint("room", "identity", name="pk_bans"),
    )
    op.create_index("ix_bans_identity", "bans", ["identity"])
    op.create_table(
        "room_locks",
        sa.Column("room", _NAME, nullable=False),
        sa.Column("locked_by", _NAME, nullable=False),
        sa.Column("locked_at", sa.Double(), nullable=False),
        sa.Column("remove_late_joiners", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("room", name="pk_room_locks"),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("actor", _NAME, nullable=False, comment="the principal's uid"),
        sa.Column("actor_role", sa.String(16), nullable=False, comment="admin, moderator or user"),
        sa.Column("credential", sa.String(16), nullable=False, comment="jwt, api_key or anonymous"),
        sa.Column("face", sa.String(16), nullable=False, comment="rest or graphql"),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("room", _NAME, nullable=True),
        sa.Column("identity", _NAME, nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False, comment="the parameters that matter; never a secret"),
        sa.Column("result", sa.String(64), nullable=False, comment='"ok" or the error code'),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_room_id", "audit_events", ["room", "id"])
    op.create_index("ix_audit_events_actor_id", "audit_events", ["actor", "id"])
    op.create_index("ix_audit_events_action_id", "audit_events", ["action", "id"])
    op.create_index("ix_audit_events_at", "audit_events", ["at"])


def downgrade() -> None:
    op.drop_table("audit_events")
    op.drop_table("room_locks")
    op.drop_table("bans")

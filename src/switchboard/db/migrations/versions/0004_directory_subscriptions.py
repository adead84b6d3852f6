"""Graph change-notification subscriptions of just-in-time accounts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 17:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import switchboard.db.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "directory_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=32), nullable=False),
        sa.Column("expires_at", switchboard.db.types.UTCDateTime(), nullable=False),
        sa.Column("client_state_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", switchboard.db.types.UTCDateTime(), nullable=False),
        sa.Column("renewed_at", switchboard.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_directory_subscriptions_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_subscriptions")),
        sa.UniqueConstraint(
            "account_id", "resource", name=op.f("uq_directory_subscriptions_account_id_resource")
        ),
        sa.UniqueConstraint(
            "subscription_id", name=op.f("uq_directory_subscriptions_subscription_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("directory_subscriptions")

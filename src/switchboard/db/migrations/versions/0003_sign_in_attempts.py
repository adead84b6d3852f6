"""sign-in attempts for throttling

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 16:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import switchboard.db.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("attempted_at", switchboard.db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_attempts")),
    )
    with op.batch_alter_table("sign_in_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sign_in_attempts_email_time", ["email_key", "attempted_at"], unique=False
        )
        batch_op.create_index(
            "ix_sign_in_attempts_ip_time", ["client_ip", "attempted_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sign_in_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_sign_in_attempts_ip_time")
        batch_op.drop_index("ix_sign_in_attempts_email_time")
    op.drop_table("sign_in_attempts")

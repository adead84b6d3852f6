"""a running sync run's phase and progress counts (read live by the run page); who decided a
held run and when; what the picker shows of a user offered under manual provisioning

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import switchboard.db.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.add_column(sa.Column("phase", sa.String(16), nullable=True))
        batch.add_column(sa.Column("progress", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("decision", sa.String(16), nullable=True))
        batch.add_column(sa.Column("decided_by", sa.String(254), nullable=True))
        batch.add_column(sa.Column("decided_at", switchboard.db.types.UTCDateTime(), nullable=True))
    with op.batch_alter_table("sync_run_items") as batch:
        batch.add_column(sa.Column("details", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_run_items") as batch:
        batch.drop_column("details")
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("decided_at")
        batch.drop_column("decided_by")
        batch.drop_column("decision")
        batch.drop_column("progress")
        batch.drop_column("phase")

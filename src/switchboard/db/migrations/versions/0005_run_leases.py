"""Run leases: one running run per account, held by a heartbeat

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 04:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import switchboard.db.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

RUNNING_LEASE = "status = 'running' AND NOT dry_run"


def upgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.add_column(
            sa.Column("heartbeat_at", switchboard.db.types.UTCDateTime(), nullable=True)
        )
    # Runs left "running" by a crash before leases existed: abandoned, or the index below
    # could not be built (and they would block their account).
    op.execute(
        "UPDATE sync_runs SET status = 'abandoned',"
        " finished_at = COALESCE(finished_at, started_at),"
        " message = 'stopped without finishing (found running when run leases were"
        " introduced); what it had carried out stays'"
        " WHERE status = 'running' AND NOT dry_run"
    )
    op.create_index(
        "uq_sync_runs_one_running",
        "sync_runs",
        ["account_id"],
        unique=True,
        sqlite_where=sa.text(RUNNING_LEASE),
        postgresql_where=sa.text(RUNNING_LEASE),
    )


def downgrade() -> None:
    op.drop_index("uq_sync_runs_one_running", table_name="sync_runs")
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("heartbeat_at")

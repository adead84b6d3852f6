"""admins created with an initial password change it at first sign-in; audit entries keep the
name of their object and the number of the sync run that made them; the users list filters by
location and status on an index

Entries written before keep no name (the audit page falls back to the object's current name,
then to its id) and no run number.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("principals") as batch:
        batch.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("object_name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("run_number", sa.Integer(), nullable=True))
    op.create_index("ix_users_account_location", "users", ["account_id", "location_id"])
    op.create_index("ix_users_account_status", "users", ["account_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_users_account_status", table_name="users")
    op.drop_index("ix_users_account_location", table_name="users")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("run_number")
        batch.drop_column("object_name")
    with op.batch_alter_table("principals") as batch:
        batch.drop_column("must_change_password")

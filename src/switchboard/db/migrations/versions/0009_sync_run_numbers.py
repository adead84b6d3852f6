"""sync runs are numbered per account (1, 2, ...); existing runs in the order they started

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_runs = sa.table(
    "sync_runs",
    sa.column("id", sa.Integer()),
    sa.column("account_id", sa.Integer()),
    sa.column("number", sa.Integer()),
)


def upgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.add_column(sa.Column("number", sa.Integer(), nullable=True))
    bind = op.get_bind()
    numbered: list[dict[str, int]] = []
    last: dict[int, int] = {}
    rows = bind.execute(sa.select(_runs.c.id, _runs.c.account_id).order_by(_runs.c.id))
    for run_id, account_id in rows:
        last[account_id] = last.get(account_id, 0) + 1
        numbered.append({"run_id": run_id, "run_number": last[account_id]})
    if numbered:
        bind.execute(
            _runs.update()
            .where(_runs.c.id == sa.bindparam("run_id"))
            .values(number=sa.bindparam("run_number")),
            numbered,
        )
    with op.batch_alter_table("sync_runs") as batch:
        batch.alter_column("number", existing_type=sa.Integer(), nullable=False)
        batch.create_index("uq_sync_runs_account_number", ["account_id", "number"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_index("uq_sync_runs_account_number")
        batch.drop_column("number")

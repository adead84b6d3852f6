"""audit entries name a sync run by its number within the account, not its global id; an
index of held runs for the fleet view

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_audit = sa.table(
    "audit_events",
    sa.column("id", sa.Integer()),
    sa.column("account_id", sa.Integer()),
    sa.column("object_type", sa.String()),
    sa.column("object_id", sa.String()),
)
_runs = sa.table(
    "sync_runs",
    sa.column("id", sa.Integer()),
    sa.column("account_id", sa.Integer()),
    sa.column("number", sa.Integer()),
)


def _rewrite(source: sa.ColumnClause[int], target: sa.ColumnClause[int]) -> None:
    """Replace each run entry's object_id: ``source`` value of the account's run -> ``target``.
    Entries of runs already pruned keep what they had."""
    bind = op.get_bind()
    entries = bind.execute(
        sa.select(_audit.c.id, _audit.c.account_id, _audit.c.object_id).where(
            _audit.c.object_type == "sync_run"
        )
    ).all()
    lookup = {
        (account_id, str(key)): str(value)
        for account_id, key, value in bind.execute(sa.select(_runs.c.account_id, source, target))
    }
    changes = [
        {"entry": entry, "value": lookup[(account_id, object_id)]}
        for entry, account_id, object_id in entries
        if (account_id, object_id) in lookup
    ]
    if changes:
        bind.execute(
            _audit.update()
            .where(_audit.c.id == sa.bindparam("entry"))
            .values(object_id=sa.bindparam("value")),
            changes,
        )


HELD = "status = 'held'"


def upgrade() -> None:
    _rewrite(_runs.c.id, _runs.c.number)
    op.create_index(
        "ix_sync_runs_held",
        "sync_runs",
        ["account_id"],
        sqlite_where=sa.text(HELD),
        postgresql_where=sa.text(HELD),
    )


def downgrade() -> None:
    op.drop_index("ix_sync_runs_held", table_name="sync_runs")
    _rewrite(_runs.c.number, _runs.c.id)

"""SQLite never reuses the ids of deleted users, locations, licenses, numbers and media

Audit events name the object they changed by id; without AUTOINCREMENT SQLite hands the id of
the last deleted row to the next new one, so two users could share an id in the audit log.
SQLite can only add AUTOINCREMENT by rebuilding the table (data and indexes are copied); the
sequence then starts above every id the table or the audit log has seen. PostgreSQL's
sequences never reuse ids: nothing to do there.

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-30 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# table -> the object_type its rows have in audit_events
TABLES = {
    "users": "user",
    "locations": "location",
    "license_types": "license",
    "phone_numbers": "number",
    "media": "media",
}


def _rebuild(autoincrement: bool) -> None:
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild(True)
    for table, object_type in TABLES.items():
        # Ids deleted before this migration stay unused too, as far as the audit log knows them.
        bind = op.get_bind()
        bind.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :t"), {"t": table})
        highest: sa.Select[int] = sa.select(
            sa.func.coalesce(sa.func.max(sa.column("id", sa.Integer)), 0)
        ).select_from(sa.table(table))
        audited = sa.text(
            "SELECT coalesce(max(CAST(object_id AS INTEGER)), 0) FROM audit_events"
            " WHERE object_type = :kind"
        )
        seq = max(
            bind.execute(highest).scalar_one(),
            bind.execute(audited, {"kind": object_type}).scalar_one(),
        )
        bind.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :seq)"),
            {"t": table, "seq": seq},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild(False)

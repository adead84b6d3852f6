"""SCIM users keep a case-folded copy of given name, display name, department and locality,
so that filters compare them ignoring case in any script on SQLite and PostgreSQL alike (the
databases' own lower() folds only ASCII letters under some locales)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

FOLDED = (
    ("given_name", "given_name_key", 100),
    ("display_name", "display_name_key", 254),
    ("department", "department_key", 100),
    ("locality", "locality_key", 100),
)


def upgrade() -> None:
    with op.batch_alter_table("scim_users") as batch:
        for _, key, size in FOLDED:
            batch.add_column(sa.Column(key, sa.String(size), nullable=True))
    # Rows written before get their keys here: case folding is Python's, not the database's.
    users = sa.table(
        "scim_users",
        sa.column("id", sa.String()),
        *(sa.column(name, sa.String()) for name, _, _ in FOLDED),
        *(sa.column(key, sa.String()) for _, key, _ in FOLDED),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(users.c.id, *(users.c[name] for name, _, _ in FOLDED))).all()
    for row in rows:
        values = {
            key: (row._mapping[name].casefold() if row._mapping[name] is not None else None)
            for name, key, _ in FOLDED
        }
        conn.execute(users.update().where(users.c.id == row.id).values(**values))


def downgrade() -> None:
    with op.batch_alter_table("scim_users") as batch:
        for _, key, _ in reversed(FOLDED):
            batch.drop_column(key)

"""Whole tenant as an explicit choice: stored sync settings without groups say all_users

An empty group list used to mean every user of the tenant; it is now refused unless
``all_users`` is set. Registrations saved before keep syncing what they synced.

Revision ID: 0008
Revises: 0004
Create Date: 2026-11-30 04:30:00.000000
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_registrations = sa.table(
    "directory_registrations",
    sa.column("id", sa.Integer()),
    sa.column("policy", sa.JSON()),
)


def _rewrite(change: Any) -> None:
    bind = op.get_bind()
    for row_id, policy in bind.execute(sa.select(_registrations.c.id, _registrations.c.policy)):
        updated = change(dict(policy or {}))
        if updated is not None:
            bind.execute(
                _registrations.update().where(_registrations.c.id == row_id).values(policy=updated)
            )


def upgrade() -> None:
    def explicit(policy: dict[str, Any]) -> dict[str, Any] | None:
        if "all_users" in policy:
            return None
        policy["all_users"] = not policy.get("groups")
        return policy

    _rewrite(explicit)


def downgrade() -> None:
    def implicit(policy: dict[str, Any]) -> dict[str, Any] | None:
        if "all_users" not in policy:
            return None
        policy.pop("all_users")
        policy.pop("creation_guard", None)
        return policy

    _rewrite(implicit)

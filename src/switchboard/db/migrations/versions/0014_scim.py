"""SCIM 2.0: an account's SCIM source and tokens, the users and groups its client pushed, and
the SCIM request log

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 16:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import switchboard.db.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

UTC = switchboard.db.types.UTCDateTime


def account_fk() -> sa.ForeignKey:
    return sa.ForeignKey("accounts.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "scim_sources",
        sa.Column("account_id", sa.Integer(), account_fk(), primary_key=True),
        sa.Column("client", sa.String(16), nullable=False),
        sa.Column("deprovision", sa.String(16), nullable=False),
        sa.Column("location_attribute", sa.String(16), nullable=False),
        sa.Column("location_rules", sa.JSON(), nullable=False),
        sa.Column("default_location", sa.String(100), nullable=True),
        sa.Column("rate_limit", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
    )
    op.create_table(
        "scim_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), account_fk(), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("expires_at", UTC(), nullable=True),
        sa.Column("revoked_at", UTC(), nullable=True),
        sa.Column("last_used_at", UTC(), nullable=True),
        sa.UniqueConstraint("prefix", name="uq_scim_tokens_prefix"),
    )
    op.create_index("ix_scim_tokens_account_id", "scim_tokens", ["account_id"])
    op.create_table(
        "scim_users",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.Integer(), account_fk(), nullable=False),
        sa.Column("external_id", sa.String(254), nullable=True),
        sa.Column("user_name", sa.String(254), nullable=False),
        sa.Column("user_name_key", sa.String(254), nullable=False),
        sa.Column("given_name", sa.String(100), nullable=True),
        sa.Column("family_name", sa.String(100), nullable=True),
        sa.Column("family_name_key", sa.String(100), nullable=True),
        sa.Column("display_name", sa.String(254), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("email_key", sa.String(254), nullable=True),
        sa.Column("email_type", sa.String(16), nullable=True),
        sa.Column("email_primary", sa.Boolean(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=True),
        sa.Column("department", sa.String(100), nullable=True),
        sa.Column("locality", sa.String(100), nullable=True),
        sa.Column("location", sa.String(100), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint(
            "account_id", "user_name_key", name="uq_scim_users_account_id_user_name_key"
        ),
    )
    for name, columns in (
        ("ix_scim_users_account_external", ["account_id", "external_id"]),
        ("ix_scim_users_account_email", ["account_id", "email_key"]),
        ("ix_scim_users_account_modified", ["account_id", "updated_at"]),
        ("ix_scim_users_account_family", ["account_id", "family_name_key"]),
    ):
        op.create_index(name, "scim_users", columns)
    op.create_table(
        "scim_groups",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.Integer(), account_fk(), nullable=False),
        sa.Column("external_id", sa.String(254), nullable=True),
        sa.Column("display_name", sa.String(254), nullable=False),
        sa.Column("display_name_key", sa.String(254), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_scim_groups_account_name", "scim_groups", ["account_id", "display_name_key"]
    )
    op.create_index("ix_scim_groups_account_external", "scim_groups", ["account_id", "external_id"])
    op.create_table(
        "scim_group_members",
        sa.Column(
            "group_id",
            sa.String(64),
            sa.ForeignKey("scim_groups.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "user_id",
            sa.String(64),
            sa.ForeignKey("scim_users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_index("ix_scim_group_members_user_id", "scim_group_members", ["user_id"])
    op.create_table(
        "scim_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("account_id", sa.Integer(), account_fk(), nullable=False),
        sa.Column("at", UTC(), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("subject", sa.String(254), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("change", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
    )
    op.create_index("ix_scim_requests_account_at", "scim_requests", ["account_id", "at"])


def downgrade() -> None:
    for table in (
        "scim_requests",
        "scim_group_members",
        "scim_groups",
        "scim_users",
        "scim_tokens",
        "scim_sources",
    ):
        op.drop_table(table)

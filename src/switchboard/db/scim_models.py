"""What an account that takes its users over SCIM 2.0 holds: its SCIM settings and tokens, the
users and groups its SCIM client pushed (the directory, as that client last said it), and the
request log. Re-exported by ``switchboard.db.models``.

A SCIM user row is the directory's record; the portal user it became is written only through
``switchboard.portal.users`` and linked by ``users.directory_id`` = the SCIM id, which stays
when a relocation recreates the portal user.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, validates

from switchboard.db.base import Base
from switchboard.db.types import UTCDateTime


class ScimSource(Base):
    """An account's SCIM connection: present while the account takes users over SCIM."""

    __tablename__ = "scim_sources"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    # entra or okta: which instructions the Directory tab shows; both speak the same endpoint.
    client: Mapped[str] = mapped_column(String(16))
    # What a deactivation (active = false) means: disable (keep, flagged) or delete.
    deprovision: Mapped[str] = mapped_column(String(16), default="disable")
    # Where a user's location comes from: department, locality or switchboard.
    location_attribute: Mapped[str] = mapped_column(String(16), default="department")
    # Directory value (lower case) -> location name, as in the Graph sync settings.
    location_rules: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    default_location: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Requests per second above which the endpoint answers 429.
    rate_limit: Mapped[int] = mapped_column(Integer, default=100)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ScimToken(Base):
    """A bearer token of an account's SCIM client; only its SHA-256 digest is kept."""

    __tablename__ = "scim_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    # Public lookup part of the token.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A rotated token keeps working until then (the overlap), a revoked one not at all.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ScimUser(Base):
    """A user as the account's SCIM client last sent it: only what the portal uses."""

    __tablename__ = "scim_users"
    __table_args__ = (
        UniqueConstraint("account_id", "user_name_key"),
        Index("ix_scim_users_account_external", "account_id", "external_id"),
        Index("ix_scim_users_account_email", "account_id", "email_key"),
        Index("ix_scim_users_account_modified", "account_id", "updated_at"),
        Index("ix_scim_users_account_family", "account_id", "family_name_key"),
    )

    # The SCIM id (a UUID we hand out): also the portal user's directory_id.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(254), nullable=True)
    user_name: Mapped[str] = mapped_column(String(254))
    # userName compares ignoring case (RFC 7643 caseExact false): the indexed lookup key.
    user_name_key: Mapped[str] = mapped_column(String(254))
    given_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    given_name_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    family_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    family_name_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    display_name: Mapped[str | None] = mapped_column(String(254), nullable=True)
    display_name_key: Mapped[str | None] = mapped_column(String(254), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    email_key: Mapped[str | None] = mapped_column(String(254), nullable=True)
    email_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # As sent; None (not sent) shows as true.
    email_primary: Mapped[bool | None] = mapped_column(nullable=True)
    # None: the client never sent it, which counts as active.
    active: Mapped[bool | None] = mapped_column(nullable=True)
    # The location attributes a source may choose, as sent.
    department: Mapped[str | None] = mapped_column(String(100), nullable=True)
    department_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    locality: Mapped[str | None] = mapped_column(String(100), nullable=True)
    locality_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    location: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Counts every change: the ETag (W/"<version>").
    version: Mapped[int] = mapped_column(Integer, default=1)

    # The keys filters compare these by (migration 0015) follow every assignment, so no writer
    # can forget one. Python's casefold, because the databases' lower() is locale-bound.
    @validates("given_name", "display_name", "department", "locality")
    def _fold(self, name: str, value: str | None) -> str | None:
        setattr(self, f"{name}_key", value.casefold() if value is not None else None)
        return value


class ScimGroup(Base):
    """A group the SCIM client pushed: id, externalId, displayName and member ids only."""

    __tablename__ = "scim_groups"
    __table_args__ = (
        Index("ix_scim_groups_account_name", "account_id", "display_name_key"),
        Index("ix_scim_groups_account_external", "account_id", "external_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(254), nullable=True)
    display_name: Mapped[str] = mapped_column(String(254))
    display_name_key: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)


class ScimGroupMember(Base):
    __tablename__ = "scim_group_members"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("scim_groups.id", ondelete="CASCADE"), primary_key=True
    )
    # A SCIM user id; the member of a deleted user goes with it.
    user_id: Mapped[str] = mapped_column(
        ForeignKey("scim_users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ScimRequest(Base):
    """One SCIM request, as an account admin reads it: never a credential or a whole body."""

    __tablename__ = "scim_requests"
    __table_args__ = (Index("ix_scim_requests_account_at", "account_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(300))
    # The SCIM user or group the request was about, by its userName or displayName.
    subject: Mapped[str | None] = mapped_column(String(254), nullable=True)
    status: Mapped[int] = mapped_column(Integer)
    # What changed, in words (created, updated: first name, email; disabled; deleted).
    change: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Why it was refused, in words an admin can act on.
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)

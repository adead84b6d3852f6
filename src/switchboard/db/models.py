"""The portal's tables. Only the service functions in ``switchboard.portal`` write them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from switchboard.db.base import NAMING as NAMING
from switchboard.db.base import Base as Base
from switchboard.db.principal_models import ApiToken as ApiToken
from switchboard.db.principal_models import Principal as Principal
from switchboard.db.principal_models import SignInAttempt as SignInAttempt
from switchboard.db.principal_models import UiSession as UiSession
from switchboard.db.scim_models import ScimGroup as ScimGroup
from switchboard.db.scim_models import ScimGroupMember as ScimGroupMember
from switchboard.db.scim_models import ScimRequest as ScimRequest
from switchboard.db.scim_models import ScimSource as ScimSource
from switchboard.db.scim_models import ScimToken as ScimToken
from switchboard.db.scim_models import ScimUser as ScimUser
from switchboard.db.types import UTCDateTime

# The rows the run lease covers (see SyncRun): written the same on SQLite and PostgreSQL.
RUNNING_LEASE = "status = 'running' AND NOT dry_run"
HELD = "status = 'held'"


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    retention_plan: Mapped[str] = mapped_column(String(4), default="6m")
    extension_length: Mapped[int] = mapped_column(Integer, default=4)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    terminated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# Tables whose ids the audit log names: SQLite must never hand a deleted row's id to a new
# one (AUTOINCREMENT; PostgreSQL's sequences never reuse ids). Migration 0006.
NO_ID_REUSE = {"sqlite_autoincrement": True}


class Location(Base):
    __tablename__ = "locations"
    __table_args__ = (UniqueConstraint("account_id", "name_key"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    # Lower-cased name: names are unique per account ignoring case.
    name_key: Mapped[str] = mapped_column(String(100))
    street: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(100))
    postal_code: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    time_zone: Mapped[str] = mapped_column(String(64))


class LicenseType(Base):
    __tablename__ = "license_types"
    __table_args__ = (UniqueConstraint("account_id", "name_key"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100))
    seats: Mapped[int] = mapped_column(Integer)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("account_id", "username_key"),
        UniqueConstraint("account_id", "email_key"),
        UniqueConstraint("account_id", "extension"),
        UniqueConstraint("account_id", "directory_id"),
        Index("ix_users_account_last_first", "account_id", "last_name", "first_name"),
        # The users list filters by location and by status (migration 0012).
        Index("ix_users_account_location", "account_id", "location_id"),
        Index("ix_users_account_status", "account_id", "status"),
        NO_ID_REUSE,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(254))
    username_key: Mapped[str] = mapped_column(String(254))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    extension: Mapped[str] = mapped_column(String(6))
    license_id: Mapped[int | None] = mapped_column(
        ForeignKey("license_types.id"), nullable=True, index=True
    )
    status: Mapped[str] = mapped_column(String(24), default="active")
    source: Mapped[str] = mapped_column(String(16), default="local")
    directory_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    location: Mapped[Location] = relationship(lazy="joined")
    license: Mapped[LicenseType | None] = relationship(lazy="joined")
    numbers: Mapped[list[PhoneNumber]] = relationship(
        back_populates="user", lazy="selectin", order_by="PhoneNumber.e164"
    )


class PhoneNumber(Base):
    __tablename__ = "phone_numbers"
    __table_args__ = (NO_ID_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    e164: Mapped[str] = mapped_column(String(16), unique=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="available")
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    user: Mapped[User | None] = relationship(back_populates="numbers")
    location: Mapped[Location] = relationship(lazy="joined")


class Media(Base):
    """A voicemail or call recording; outlives its user until the retention plan expires it."""

    __tablename__ = "media"
    __table_args__ = (Index("ix_media_account_recorded", "account_id", "recorded_at"), NO_ID_REUSE)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # Captured at ingest so the media stays attributable after the user is deleted.
    owner_name: Mapped[str] = mapped_column(String(201))
    kind: Mapped[str] = mapped_column(String(16))
    caller: Mapped[str | None] = mapped_column(String(32), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_seconds: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_account_time", "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), nullable=True
    )
    actor: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The object's name when the entry was written (a deleted user's entries still name them).
    object_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The account's sync run that made the change, if one did.
    run_number: Mapped[int | None] = mapped_column(Integer, nullable=True)


# --- Directory sync bookkeeping -------------------------------------------------------------


class DirectoryRegistration(Base):
    """An account's connection to its Entra ID tenant (one per account).

    The private key is stored encrypted with SWITCHBOARD_SECRET_KEY; ``next_*`` hold a rotated
    certificate until it is proven, while the current one keeps working.
    """

    __tablename__ = "directory_registrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), unique=True
    )
    tenant_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(64))
    cloud: Mapped[str] = mapped_column(String(16))
    authority_url: Mapped[str] = mapped_column(String(300))
    graph_url: Mapped[str] = mapped_column(String(300))
    ca_bundle_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    certificate_pem: Mapped[str] = mapped_column(Text)
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    next_certificate_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_private_key_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_test: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DirectorySyncState(Base):
    """Delta links and safety-net times. Saved in the transaction of the changes they cover."""

    __tablename__ = "directory_sync_state"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    users_delta_link: Mapped[str | None] = mapped_column(Text, nullable=True)
    groups_delta_link: Mapped[str | None] = mapped_column(Text, nullable=True)
    delta_chain_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_full_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_delta_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SyncRun(Base):
    __tablename__ = "sync_runs"
    __table_args__ = (
        Index("ix_sync_runs_account_started", "account_id", "started_at"),
        # The run lease: at most one running run per account (dry runs change nothing).
        Index(
            "uq_sync_runs_one_running",
            "account_id",
            unique=True,
            sqlite_where=text(RUNNING_LEASE),
            postgresql_where=text(RUNNING_LEASE),
        ),
        Index("uq_sync_runs_account_number", "account_id", "number", unique=True),
        # Held runs are few: the fleet view finds them without reading every run.
        Index(
            "ix_sync_runs_held",
            "account_id",
            sqlite_where=text(HELD),
            postgresql_where=text(HELD),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    # The account's own count of runs (1, 2, ...), what people name a run by within an account.
    number: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(16))  # manual, schedule, notification, api
    kind: Mapped[str] = mapped_column(String(8))  # full, delta, single
    # running, succeeded, partial, failed, held, abandoned (stopped heartbeating),
    # interrupted (throttled; resumes after resume_after)
    status: Mapped[str] = mapped_column(String(16))
    dry_run: Mapped[bool] = mapped_column(default=False)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Renewed while the run works; a running run whose heartbeat is old has died.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Interrupted by throttling: no run reads Entra ID for the account before this time.
    resume_after: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # While it runs: reading, planning, applying, writing_back; finished once closed. With
    # ``progress`` (read, planned, applied, errors so far) it is what the run page shows live.
    phase: Mapped[str | None] = mapped_column(String(16), nullable=True)
    progress: Mapped[dict[str, int] | None] = mapped_column(JSON, nullable=True)
    # A held run once decided: approved or rejected, by whom (their label) and when.
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(254), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SyncRunItem(Base):
    """One planned action for one directory user: what happened, or why it could not."""

    __tablename__ = "sync_run_items"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"), index=True)
    directory_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    username: Mapped[str | None] = mapped_column(String(254), nullable=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(16))
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # pending (held for approval or dry run), applied, rejected, failed
    state: Mapped[str] = mapped_column(String(16), default="applied")
    # An offered user (manual provisioning): display name, email, office and portal location
    # for the "From directory" picker; empty for every other item.
    details: Mapped[dict[str, str] | None] = mapped_column(JSON(none_as_null=True), nullable=True)


class WriteBackTask(Base):
    """A queued two-way write of extension or number to Entra ID, retried until it lands."""

    __tablename__ = "writeback_tasks"
    __table_args__ = (Index("ix_writeback_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    directory_id: Mapped[str] = mapped_column(String(64))
    properties: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, done, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DirectorySubscription(Base):
    """A Graph change-notification subscription of a just-in-time account (users or groups).

    The clientState secret Graph echoes in each notification is kept only as a SHA-256 digest:
    enough to check a notification, useless to forge one from a database copy.
    """

    __tablename__ = "directory_subscriptions"
    __table_args__ = (UniqueConstraint("account_id", "resource"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    subscription_id: Mapped[str] = mapped_column(String(64), unique=True)
    resource: Mapped[str] = mapped_column(String(32))  # users, groups
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    client_state_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    renewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ProcessHeartbeat(Base):
    """A live scheduler or queue worker, for /readyz and the UI: its row is renewed every few
    seconds and removed when it stops; a stale row means it died without saying so."""

    __tablename__ = "process_heartbeats"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid:role
    role: Mapped[str] = mapped_column(String(20))  # scheduler, worker
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime())

"""An account's Entra ID registration: the only writer of ``directory_registrations``.

Switchboard generates the app credential itself (a key pair and a self-signed certificate); the
customer's admin uploads the public certificate to their app registration, so no admin password
is ever asked for. The private key is stored encrypted (see ``secrets_at_rest``) and never leaves
through an API. Settings are checked in ``settings_validation``; the certificate's download and
rotation are ``certificate_rotation``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from switchboard.connection import app_certificates
from switchboard.connection.settings_validation import (
    GUARDS,
    check_guards,
    checked_policy,
    explicit_scope,
    merge_patch,
    validate_settings,
)
from switchboard.db.models import (
    Account,
    DirectoryRegistration,
    DirectorySyncState,
    ScimSource,
    User,
    WriteBackTask,
)
from switchboard.directory import clouds
from switchboard.directory.stored_credentials import KEY_PURPOSE
from switchboard.portal import audit, users
from switchboard.portal.actors import Actor
from switchboard.portal.clock_context import now
from switchboard.portal.errors import Conflict, NotFound, ValidationFailed
from switchboard.portal.events import AccountTerminated, Event, JitEnded, emit
from switchboard.secrets_at_rest import secrets_of
from switchboard.sync.policy import RESCOPING, SyncPolicy

OBJECT = "directory_registration"

# Application permissions (admin consent) the sync needs; two-way adds writing phone fields.
READ_PERMISSIONS = ("User.Read.All", "GroupMember.Read.All")
WRITE_PERMISSION = "User.ReadWrite.All"


class RegistrationIn(BaseModel):
    """What an admin gives to connect an account; everything else Switchboard generates."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: str = Field(max_length=64, description="Directory (tenant) id, a GUID")
    client_id: str = Field(max_length=64, description="Application (client) id, a GUID")
    cloud: str | None = Field(
        default=None,
        description="global, usgov, china or custom (default: global, or custom when URLs"
        " are given)",
    )
    authority_url: str | None = Field(
        default=None, max_length=300, description="custom only: https://host of the sign-in"
    )
    graph_url: str | None = Field(
        default=None, max_length=300, description="custom only: https://host of Graph"
    )
    ca_bundle_pem: str | None = Field(
        default=None, description="custom only: PEM certificates to trust for those hosts"
    )
    settings: SyncPolicy | None = None


class ConnectionTestRecord(BaseModel):
    """A connection test's outcome, as the connection test reports it."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    message: str = ""
    # The first failed check's kind (switchboard.connection.test_failures.FailureKind).
    kind: str | None = None
    checks: list[dict[str, Any]] = Field(default_factory=list)
    # SHA-1 thumbprints of the certificates that obtained a token in this test.
    proven_certificates: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class DisconnectSummary:
    unlinked_users: int
    writebacks_dropped: int


# --- reading ------------------------------------------------------------------------------------


def find_registration(session: Session, account: Account) -> DirectoryRegistration | None:
    """For the sync engine, which has already checked access to ``account``."""
    return session.scalar(
        select(DirectoryRegistration).where(DirectoryRegistration.account_id == account.id)
    )


def get_registration(session: Session, actor: Actor, account: Account) -> DirectoryRegistration:
    actor.require_read(account.id)
    registration = find_registration(session, account)
    if registration is None:
        raise NotFound(
            f"account '{account.slug}' is not connected to Entra ID; connect it first"
            f" (switchboard directory connect {account.slug} ...)",
            code="directory_not_connected",
        )
    return registration


def policy_of(registration: DirectoryRegistration) -> SyncPolicy:
    return SyncPolicy.model_validate(registration.policy or {})


def scope_chosen(policy: SyncPolicy) -> bool:
    """Groups, or the whole tenant chosen explicitly; a wizard connection has neither yet."""
    return bool(policy.groups) or policy.all_users


def required_permissions(policy: SyncPolicy) -> list[str]:
    wanted = list(READ_PERMISSIONS)
    if policy.direction == "two_way":
        wanted.append(WRITE_PERMISSION)
    return wanted


# --- settings -----------------------------------------------------------------------------------


def patched_policy(
    session: Session, account: Account, registration: DirectoryRegistration, changes: Any
) -> SyncPolicy:
    """The settings a merge patch would give, validated as a whole; nothing is stored (a
    preview of unsaved settings uses it as the save does)."""
    if not isinstance(changes, Mapping):
        raise ValidationFailed("the settings must be a JSON object", field=None)
    patch = explicit_scope(dict(changes))
    rules = patch.get("location_rules")
    if isinstance(rules, Mapping):
        # Rules are keyed by the case-folded directory value; so is the patch.
        patch["location_rules"] = {str(k).strip().casefold(): v for k, v in rules.items()}
    current = policy_of(registration).model_dump(mode="json")
    policy = validate_settings(session, account, merge_patch(current, patch))
    # Stored guards from before these limits keep working until they are changed.
    check_guards(policy, [name for name in GUARDS if name in patch])
    return policy


def update_settings(
    session: Session, actor: Actor, account: Account, changes: Mapping[str, Any]
) -> DirectoryRegistration:
    """Apply a merge patch to the sync settings; the result is validated as a whole."""
    actor.require_write(account.id)
    registration = get_registration(session, actor, account)
    current = policy_of(registration).model_dump(mode="json")
    policy = patched_policy(session, account, registration, changes)
    new = policy.model_dump(mode="json")
    changed = sorted(k for k in new if new[k] != current.get(k))
    if changed:
        if current.get("mode") == "jit" and new.get("mode") != "jit":
            emit(session, JitEnded(account.id, f"mode changed to {new.get('mode')}"))
        registration.policy = new
        registration.updated_at = now(session)
        state = session.get(DirectorySyncState, account.id)
        if state is not None and any(name in RESCOPING for name in changed):
            # A full reconcile is due now; the scheduler's safety net sees it (see rescope).
            state.delta_chain_started_at = None
        session.flush()
        audit.record(
            session,
            actor,
            "directory.settings_updated",
            account_id=account.id,
            object_type=OBJECT,
            object_id=registration.id,
            fields=changed,
        )
    return registration


# --- connect, record a test, disconnect -----------------------------------------------------------


def refuse_while_scim(session: Session, account: Account) -> None:
    """An account takes users from one source at a time: no Graph while SCIM pushes them."""
    if session.get(ScimSource, account.id) is not None:
        raise Conflict(
            f"account '{account.slug}' takes its users over SCIM (Entra provisioning or Okta);"
            " disconnect SCIM on the Directory tab first (its users stay as portal users), then"
            " connect Entra ID over Microsoft Graph",
            code="other_source_connected",
        )


def new_key_pair(session: Session, account: Account) -> tuple[str, str]:
    """A new certificate for the account, and its private key sealed for storage."""
    pair = app_certificates.generate(f"Switchboard {account.slug}", now(session))
    sealed = secrets_of(session).encrypt(pair.private_key_pem, purpose=KEY_PURPOSE)
    return pair.certificate_pem, sealed


def connect(
    session: Session,
    actor: Actor,
    account: Account,
    data: RegistrationIn,
    *,
    scope_later: bool = False,
) -> DirectoryRegistration:
    """Register the account's Entra tenant and generate its certificate (one per account).

    ``scope_later`` (the connect wizard): without settings, connect with the defaults and no
    scope yet; nothing syncs until the groups (or all users) are chosen."""
    actor.require_write(account.id)
    refuse_while_scim(session, account)
    tenant_id = clouds.guid(data.tenant_id, "tenant_id", "Directory (tenant) ID")
    client_id = clouds.guid(data.client_id, "client_id", "Application (client) ID")
    endpoints = clouds.resolve(data.cloud, data.authority_url, data.graph_url, data.ca_bundle_pem)
    if scope_later and data.settings is None:
        policy = SyncPolicy()
    else:
        policy = checked_policy(session, account, data.settings or SyncPolicy(), "settings.")
        check_guards(policy, list(GUARDS), "settings.")
    if find_registration(session, account) is not None:
        raise Conflict(
            f"account '{account.slug}' is already connected to Entra ID; change its settings,"
            " or disconnect it first to connect another tenant",
            code="directory_already_connected",
        )
    certificate, sealed = new_key_pair(session, account)
    stamp = now(session)
    registration = DirectoryRegistration(
        account_id=account.id,
        tenant_id=tenant_id,
        client_id=client_id,
        cloud=endpoints.cloud,
        authority_url=endpoints.authority_url,
        graph_url=endpoints.graph_url,
        ca_bundle_pem=endpoints.ca_bundle_pem,
        certificate_pem=certificate,
        private_key_encrypted=sealed,
        policy=policy.model_dump(mode="json"),
        last_test=None,
        created_at=stamp,
        updated_at=stamp,
    )
    session.add(registration)
    session.flush()
    audit.record(
        session,
        actor,
        "directory.connected",
        account_id=account.id,
        object_type=OBJECT,
        object_id=registration.id,
        fields=["tenant_id", "client_id", "cloud", "certificate", "settings"],
    )
    return registration


def record_change(
    session: Session,
    actor: Actor,
    account: Account,
    registration: DirectoryRegistration,
    action: str,
    fields: list[str],
) -> None:
    """Stamp a change of the registration and put it in the audit trail."""
    registration.updated_at = now(session)
    session.flush()
    audit.record(
        session,
        actor,
        action,
        account_id=account.id,
        object_type=OBJECT,
        object_id=registration.id,
        fields=fields,
    )


def record_test_result(
    session: Session, actor: Actor, account: Account, result: ConnectionTestRecord
) -> DirectoryRegistration:
    actor.require_write(account.id)
    registration = get_registration(session, actor, account)
    stored = result.model_dump(mode="json")
    stored["proven_certificates"] = sorted({t.upper() for t in result.proven_certificates})
    stored["tested_at"] = now(session).isoformat()
    registration.last_test = stored
    record_change(session, actor, account, registration, "directory.tested", ["last_test"])
    return registration


def disconnect(session: Session, actor: Actor, account: Account) -> DisconnectSummary:
    """Delete the registration (and with its row, the key), the delta state, queued
    write-backs and change-notification subscriptions (those in Graph after the commit, best
    effort); directory users stay as ordinary local users with every field editable."""
    actor.require_write(account.id)
    registration = get_registration(session, actor, account)
    linked = list(
        session.scalars(
            select(User.id)
            .where(User.account_id == account.id, User.source == "directory")
            .order_by(User.id)
        )
    )
    for user_id in linked:
        users.unlink_from_directory(session, actor, account, user_id)
    dropped = session.execute(
        delete(WriteBackTask).where(
            WriteBackTask.account_id == account.id, WriteBackTask.status != "done"
        )
    )
    session.execute(delete(DirectorySyncState).where(DirectorySyncState.account_id == account.id))
    emit(session, JitEnded(account.id, "disconnected"))
    registration_id = registration.id
    session.delete(registration)
    session.flush()
    audit.record(
        session,
        actor,
        "directory.disconnected",
        account_id=account.id,
        object_type=OBJECT,
        object_id=registration_id,
        fields=["registration", "certificate", "sync_state", "writebacks", "users"],
    )
    return DisconnectSummary(
        unlinked_users=len(linked), writebacks_dropped=int(getattr(dropped, "rowcount", 0) or 0)
    )


def on_account_terminated(session: Session, event: Event) -> None:
    """Listener: a terminated account keeps no Entra ID connection (nor its key)."""
    if not isinstance(event, AccountTerminated):
        return
    account = session.get(Account, event.account_id)
    if account is not None and find_registration(session, account) is not None:
        disconnect(session, event.actor, account)

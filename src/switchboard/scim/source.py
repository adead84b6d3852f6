"""An account's SCIM connection: which client pushes (Entra or Okta, for the instructions),
what a deactivation means, where a user's location comes from, and the request rate allowed.

An account takes users from one source at a time: SCIM is refused while Entra ID is connected
over Graph (and the Graph connection refuses while SCIM is on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from switchboard.db.models import (
    Account,
    DirectoryRegistration,
    Location,
    ScimGroup,
    ScimSource,
    ScimUser,
    User,
)
from switchboard.portal import audit, users
from switchboard.portal.actors import Actor
from switchboard.portal.clock_context import now
from switchboard.portal.errors import Conflict, NotFound, ValidationFailed
from switchboard.scim import tokens
from switchboard.sync.policy import AttributeMapping, SyncPolicy

Client = Literal["entra", "okta"]
Deprovision = Literal["disable", "delete"]
LocationAttribute = Literal["department", "locality", "switchboard"]
CLIENTS: tuple[Client, ...] = ("entra", "okta")
DEPROVISION: tuple[Deprovision, ...] = ("disable", "delete")
LOCATION_ATTRIBUTES: tuple[LocationAttribute, ...] = ("department", "locality", "switchboard")
DEFAULT_RATE_LIMIT = 100  # requests per second: four times what Entra must be able to send
RATE_LIMIT_RANGE = (25, 10_000)

# The Graph property each location attribute is read as by the sync's mapping.
LOCATION_PROPERTY = {
    "department": "department",
    "locality": "city",
    "switchboard": "officeLocation",
}


@dataclass(frozen=True)
class ScimSettings:
    deprovision: Deprovision | None = None
    location_attribute: LocationAttribute | None = None
    location_rules: dict[str, str] | None = None
    default_location: str | None = None
    rate_limit: int | None = None


def get_source(session: Session, account: Account) -> ScimSource | None:
    return session.get(ScimSource, account.id)


def require_source(session: Session, account: Account) -> ScimSource:
    found = get_source(session, account)
    if found is None:
        raise NotFound(
            f"account '{account.slug}' does not take users over SCIM; choose Entra provisioning"
            " (SCIM) or Okta (SCIM) as its directory source first",
            code="scim_not_connected",
        )
    return found


def connect(
    session: Session,
    actor: Actor,
    account: Account,
    client: Client,
    settings: ScimSettings = ScimSettings(),
) -> ScimSource:
    """Make SCIM the account's directory source (refused while Graph is connected)."""
    actor.require_write(account.id)
    if client not in CLIENTS:
        raise ValidationFailed("the SCIM client must be entra or okta", field="client")
    graph = session.scalar(
        select(DirectoryRegistration.id).where(DirectoryRegistration.account_id == account.id)
    )
    if graph is not None:
        raise Conflict(
            "this account is connected to Entra ID over Microsoft Graph; disconnect it on the"
            " Directory tab first (its users stay as portal users), then choose SCIM",
            field="client",
            code="other_source_connected",
        )
    stamp = now(session)
    source = get_source(session, account)
    if source is None:
        source = ScimSource(
            account_id=account.id,
            client=client,
            deprovision="disable",
            location_attribute="department",
            location_rules={},
            default_location=None,
            rate_limit=DEFAULT_RATE_LIMIT,
            created_at=stamp,
            updated_at=stamp,
        )
        session.add(source)
        action = "scim.connected"
    else:
        source.client = client
        source.updated_at = stamp
        action = "scim.client_changed"
    _apply(session, account, source, settings)
    if source.default_location is None:
        first = session.scalar(
            select(Location.name).where(Location.account_id == account.id).order_by(Location.id)
        )
        source.default_location = first
    session.flush()
    audit.record(
        session,
        actor,
        action,
        account_id=account.id,
        object_type="account",
        object_id=account.id,
        fields=["scim"],
    )
    return source


def update(session: Session, actor: Actor, account: Account, settings: ScimSettings) -> ScimSource:
    actor.require_write(account.id)
    source = require_source(session, account)
    changed = _apply(session, account, source, settings)
    if changed:
        source.updated_at = now(session)
        audit.record(
            session,
            actor,
            "scim.settings_changed",
            account_id=account.id,
            object_type="account",
            object_id=account.id,
            fields=changed,
        )
    return source


def disconnect(session: Session, actor: Actor, account: Account) -> None:
    """SCIM stops: tokens revoked, what the client pushed forgotten; the portal users it made
    stay as ordinary portal users (as when a Graph registration is deleted)."""
    actor.require_write(account.id)
    source = require_source(session, account)
    tokens.revoke(session, actor, account)
    linked = session.scalars(
        select(User.id).where(User.account_id == account.id, User.directory_id.is_not(None))
    ).all()
    for user_id in linked:
        users.unlink_from_directory(session, actor, account, user_id)
    session.execute(delete(ScimGroup).where(ScimGroup.account_id == account.id))
    session.execute(delete(ScimUser).where(ScimUser.account_id == account.id))
    session.delete(source)
    audit.record(
        session,
        actor,
        "scim.disconnected",
        account_id=account.id,
        object_type="account",
        object_id=account.id,
        fields=["scim"],
    )


def _apply(
    session: Session, account: Account, source: ScimSource, settings: ScimSettings
) -> list[str]:
    changed: list[str] = []
    if settings.deprovision is not None:
        if settings.deprovision not in DEPROVISION:
            raise ValidationFailed(
                "what a deactivation means must be disable or delete", field="scim_deprovision"
            )
        if source.deprovision != settings.deprovision:
            source.deprovision = settings.deprovision
            changed.append("deprovision")
    if settings.location_attribute is not None:
        if settings.location_attribute not in LOCATION_ATTRIBUTES:
            raise ValidationFailed(
                "the location must come from department, locality or switchboard",
                field="location_attribute",
            )
        if source.location_attribute != settings.location_attribute:
            source.location_attribute = settings.location_attribute
            changed.append("location_attribute")
    if settings.location_rules is not None:
        rules = SyncPolicy(location_rules=settings.location_rules).location_rules
        if source.location_rules != rules:
            source.location_rules = rules
            changed.append("location_rules")
    if settings.default_location is not None:
        name = settings.default_location.strip()
        found = session.scalar(
            select(Location.name).where(
                Location.account_id == account.id, Location.name_key == name.casefold()
            )
        )
        if found is None:
            raise ValidationFailed(
                f"the account has no location named '{name}'", field="default_location"
            )
        if source.default_location != found:
            source.default_location = found
            changed.append("default_location")
    if settings.rate_limit is not None:
        low, high = RATE_LIMIT_RANGE
        if not low <= settings.rate_limit <= high:
            raise ValidationFailed(
                f"the request rate limit must be between {low} and {high} requests per second",
                field="rate_limit",
            )
        if source.rate_limit != settings.rate_limit:
            source.rate_limit = settings.rate_limit
            changed.append("rate_limit")
    return changed


def policy_for(source: ScimSource) -> SyncPolicy:
    """The sync policy SCIM users are mapped with: names, email (userName when there is none)
    and the location from the chosen attribute through the account's location rules."""
    return SyncPolicy(
        all_users=True,
        mapping=AttributeMapping(location=LOCATION_PROPERTY[source.location_attribute]),
        location_rules=dict(source.location_rules),
        default_location=source.default_location,
    )

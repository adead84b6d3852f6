"""An account's SCIM connection: which client pushes (Entra or Okta, for the instructions),
what a deactivation means, where a user's location comes from, and the request rate allowed.

An account takes users from one source at a time: SCIM is refused while Entra ID is connected
over Graph (and the Graph connection refuses while SCIM is on).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from switchboard.db.models import (
    Account,
    DirectoryRegistration,
    Location,
    ScimGroup,
    ScimSource,
    ScimToken,
    ScimUser,
    User,
)
from switchboard.portal import audit, users
from switchboard.portal.actors import Actor
from switchboard.portal.clock_context import now
from switchboard.portal.errors import Conflict, NotFound, ValidationFailed
from switchboard.portal.locations import find_location_by_name
from switchboard.portal.validation import quote
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
    """A change of the settings: None leaves a setting as it is; an empty
    ``default_location`` clears it (users without a location are then refused)."""

    deprovision: Deprovision | None = None
    location_attribute: LocationAttribute | None = None
    location_rules: dict[str, str] | None = None
    default_location: str | None = None
    rate_limit: int | None = None


def endpoint_url(base: str, account: Account) -> str:
    """The Tenant URL (Entra) or Base URL (Okta) of the account's SCIM endpoint."""
    return f"{base.rstrip('/')}/scim/v2/{account.slug}"


@dataclass(frozen=True)
class ScimSetup:
    """What the setup pages, the API and the CLI show of an account's SCIM connection."""

    source: ScimSource | None  # None: the account does not take users over SCIM
    tokens: list[ScimToken]  # the latest, newest first, whatever their state
    graph_connected: bool  # the other source: SCIM cannot be chosen while it is connected
    at: datetime  # when this was read: a token's state depends on it


def read_setup(session: Session, actor: Actor, account: Account) -> ScimSetup:
    actor.require_read(account.id)
    graph = session.scalar(
        select(DirectoryRegistration.id).where(DirectoryRegistration.account_id == account.id)
    )
    return ScimSetup(
        source=get_source(session, account),
        tokens=tokens.list_tokens(session, account),
        graph_connected=graph is not None,
        at=now(session),
    )


def linked_users(session: Session, account: Account) -> int:
    """How many portal users the directory source keeps in step (they stay on disconnect)."""
    found = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.account_id == account.id, User.source == "directory")
    )
    return int(found or 0)


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
    if source is not None:
        # Already the source: the client (whose instructions are shown) and settings change.
        changed = ["client"] if source.client != client else []
        source.client = client
        changed += _apply(session, account, source, settings)
        if changed:
            source.updated_at = stamp
            _audit(session, actor, account, "scim.settings_changed", changed)
        return source
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
    _apply(session, account, source, settings)
    if source.default_location is None and settings.default_location is None:
        # Minimal RFC clients send no location: they land in the account's first location.
        first = session.scalar(
            select(Location.name).where(Location.account_id == account.id).order_by(Location.id)
        )
        source.default_location = first
    session.flush()
    _audit(session, actor, account, "scim.connected", ["scim"])
    return source


def _audit(
    session: Session, actor: Actor, account: Account, action: str, fields: list[str]
) -> None:
    audit.record(
        session,
        actor,
        action,
        account_id=account.id,
        object_type="account",
        object_id=account.id,
        fields=fields,
    )


def update(session: Session, actor: Actor, account: Account, settings: ScimSettings) -> ScimSource:
    actor.require_write(account.id)
    source = require_source(session, account)
    changed = _apply(session, account, source, settings)
    if changed:
        source.updated_at = now(session)
        _audit(session, actor, account, "scim.settings_changed", changed)
    return source


def disconnect(session: Session, actor: Actor, account: Account) -> None:
    """SCIM stops: tokens revoked, what the client pushed forgotten; the portal users it made
    stay as ordinary portal users (as when a Graph registration is deleted)."""
    actor.require_write(account.id)
    source = require_source(session, account)
    tokens.revoke(session, actor, account)
    linked = session.scalars(
        select(User.id)
        .where(User.account_id == account.id, User.source == "directory")
        .order_by(User.id)
    ).all()
    for user_id in linked:
        users.unlink_from_directory(session, actor, account, user_id)
    session.execute(delete(ScimGroup).where(ScimGroup.account_id == account.id))
    session.execute(delete(ScimUser).where(ScimUser.account_id == account.id))
    session.delete(source)
    _audit(session, actor, account, "scim.disconnected", ["scim"])


def _apply(
    session: Session, account: Account, source: ScimSource, settings: ScimSettings
) -> list[str]:
    changed: list[str] = []
    if settings.deprovision is not None:
        if settings.deprovision not in DEPROVISION:
            raise ValidationFailed(
                "what a deactivation means must be disable or delete", field="deprovision"
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
        rules = _checked_rules(session, account, settings.location_rules)
        if source.location_rules != rules:
            source.location_rules = rules
            changed.append("location_rules")
    if settings.default_location is not None:
        default = _checked_default(session, account, settings.default_location)
        if source.default_location != default:
            source.default_location = default
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


def _checked_rules(session: Session, account: Account, wanted: dict[str, str]) -> dict[str, str]:
    """Directory value (case-folded) -> the location's own spelling; every location must exist."""
    try:
        cleaned = SyncPolicy(location_rules=wanted).location_rules
    except ValidationError as exc:
        rule = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise ValidationFailed(f"location_rules: {rule}", field="location_rules") from exc
    rules: dict[str, str] = {}
    for value, name in cleaned.items():
        location = find_location_by_name(session, account, name)
        if location is None:
            raise ValidationFailed(
                f"location_rules: the rule {quote(value)} -> {quote(name)} names no location of"
                " this account; create the location first or correct the rule",
                field="location_rules",
            )
        rules[value] = location.name
    return rules


def _checked_default(session: Session, account: Account, wanted: str) -> str | None:
    name = wanted.strip()
    if not name:
        return None
    location = find_location_by_name(session, account, name)
    if location is None:
        raise ValidationFailed(
            f"default_location: the account has no location named {quote(name)}; create it"
            " first or choose another",
            field="default_location",
        )
    return location.name


def policy_for(source: ScimSource) -> SyncPolicy:
    """The sync policy SCIM users are mapped with: names, email (userName when there is none)
    and the location from the chosen attribute through the account's location rules."""
    return SyncPolicy(
        all_users=True,
        mapping=AttributeMapping(location=LOCATION_PROPERTY[source.location_attribute]),
        location_rules=dict(source.location_rules),
        default_location=source.default_location,
    )

"""Directory attributes -> the portal fields the directory owns. Pure, no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from switchboard.directory.models import DirectoryUser
from switchboard.portal import validation
from switchboard.sync.policy import SyncPolicy

USERNAME_MAX = 254
# Whitespace (re's \s is str.isspace's set), a control or an invisible formatting character:
# not in a username (validation.TOKEN_PATTERN).
_NOT_IN_USERNAME = re.compile(
    r"\s|" + validation.CONTROL_RE.pattern + "|" + validation.INVISIBLE_RE.pattern
)


@dataclass(frozen=True)
class LocationRef:
    id: int
    name: str


@dataclass(frozen=True)
class Desired:
    """What the portal should hold for a directory user."""

    username: str
    first_name: str
    last_name: str
    email: str
    location: LocationRef


@dataclass(frozen=True)
class MappingError:
    code: str
    message: str


def text_of(user: DirectoryUser, source: str) -> str:
    value = user.get(source)
    if isinstance(value, list):  # e.g. a multi-valued property: take the first value
        value = value[0] if value else None
    return value.strip() if isinstance(value, str) else ""


def resolve_location(
    value: str, policy: SyncPolicy, locations: Mapping[str, LocationRef]
) -> LocationRef | None:
    """Rule (ignoring case), else a location of that name (ignoring case), else the default."""
    key = value.strip().casefold()
    if key:
        target = policy.location_rules.get(key)
        if target is not None:
            return locations.get(target.casefold())
        if key in locations:
            return locations[key]
    if policy.default_location:
        return locations.get(policy.default_location.casefold())
    return None


def map_user(
    user: DirectoryUser, policy: SyncPolicy, locations: Mapping[str, LocationRef]
) -> Desired | MappingError:
    m = policy.mapping
    upn = user.user_principal_name.strip()
    if not upn:
        return MappingError("missing_attribute", "userPrincipalName is empty in Entra ID")
    # The portal's username rules (schemas.Username), checked here so apply can trust them.
    if len(upn) > USERNAME_MAX or _NOT_IN_USERNAME.search(upn):
        return MappingError(
            "invalid_attribute",
            f"the userPrincipalName from Entra ID must be at most {USERNAME_MAX} characters"
            " without spaces, control or invisible characters to be a portal username",
        )
    first = text_of(user, m.first_name)
    if not first:
        return MappingError(
            "missing_attribute",
            f"{m.first_name} (first name) is empty in Entra ID; fill it in there or map the"
            " first name to another property",
        )
    last = text_of(user, m.last_name)
    if not last:
        return MappingError(
            "missing_attribute",
            f"{m.last_name} (last name) is empty in Entra ID; fill it in there or map the"
            " last name to another property",
        )
    for label, value in (("first name", first), ("last name", last)):
        try:
            validation.text(value)
        except ValueError as exc:
            return MappingError("invalid_attribute", f"the {label} from Entra ID {exc}")
    raw_email = text_of(user, m.email) or (
        text_of(user, m.email_fallback) if m.email_fallback else ""
    )
    if not raw_email:
        return MappingError(
            "missing_attribute",
            f"{m.email} (email) is empty in Entra ID and there is no fallback; set the user's"
            " mail in Entra ID",
        )
    try:
        email = validation.email(raw_email)
    except ValueError as exc:
        return MappingError(
            "invalid_email", f"the email {validation.quote(raw_email)} from Entra ID {exc}"
        )
    location_value = text_of(user, m.location)
    location = resolve_location(location_value, policy, locations)
    if location is None:
        shown = validation.quote(location_value) if location_value else "empty"
        return MappingError(
            "unmapped_location",
            f"{m.location} is {shown} and matches no location; add a location rule for it or"
            " a default location in the sync settings",
        )
    return Desired(username=upn, first_name=first, last_name=last, email=email, location=location)

"""The attributes of a SCIM User the portal uses, read from a request body and rendered back.

Read by hand rather than through scim2-models' resource classes: Entra sends shapes a strict
model refuses (``active`` as the string "False", a manager as a bare string, attribute names
in any case), and the portal keeps only a few attributes anyway. Anything else a client sends
(roles, manager, phone numbers of other kinds) is accepted and not stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from switchboard.scim.errors import invalid_value

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SWITCHBOARD_USER = "urn:ietf:params:scim:schemas:extension:switchboard:2.0:User"
EXTENSIONS = (ENTERPRISE_USER, SWITCHBOARD_USER)

# Column sizes (db.scim_models.ScimUser): longer values are refused, never cut.
LIMITS = {
    "userName": 254,
    "externalId": 254,
    "name.givenName": 100,
    "name.familyName": 100,
    "displayName": 254,
    "emails.value": 254,
    "department": 100,
    "addresses.locality": 100,
    "location": 100,
    "extension": 6,
    "phoneNumber": 16,
}


@dataclass(frozen=True)
class UserData:
    """What a client said of a user, as the portal keeps it."""

    user_name: str
    external_id: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    display_name: str | None = None
    email: str | None = None
    email_type: str | None = None
    email_primary: bool | None = None
    # None: never sent, which counts as active (RFC 7643 gives active no default).
    active: bool | None = None
    department: str | None = None
    locality: str | None = None
    location: str | None = None
    # Portal-owned: an extension and a number the client asks for (Switchboard schema).
    extension: str | None = None
    phone_number: str | None = None

    @property
    def enabled(self) -> bool:
        return self.active is not False


def boolean(value: object, attribute: str) -> bool:
    """A SCIM boolean; Entra sends "True" and "False" as strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise invalid_value(f"{attribute} must be true or false")


def text(value: object, attribute: str, *, required: bool = False) -> str | None:
    """A string attribute: trimmed, empty as absent, refused when not a string or too long."""
    if value is None:
        if required:
            raise invalid_value(f"{attribute} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise invalid_value(f"{attribute} must be a string")
    cleaned = str(value).strip()
    if not cleaned:
        if required:
            raise invalid_value(f"{attribute} must not be empty")
        return None
    limit = LIMITS.get(attribute)
    if limit is not None and len(cleaned) > limit:
        raise invalid_value(f"{attribute} is longer than {limit} characters")
    return cleaned


def folded(body: Mapping[str, Any]) -> dict[str, Any]:
    """Attribute names compare ignoring case (RFC 7643 2.1): keys lower-cased."""
    return {str(k).lower(): v for k, v in body.items()}


def _object(value: object, attribute: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise invalid_value(f"{attribute} must be an object")
    return folded(value)


def _list(value: object, attribute: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list):
        raise invalid_value(f"{attribute} must be a list")
    return [_object(item, attribute) for item in value]


def _pick(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The value a multi-valued attribute stands for: the primary, else work, else the first."""
    for item in items:
        if item.get("primary") is True or str(item.get("primary")).lower() == "true":
            return item
    for item in items:
        if str(item.get("type", "")).lower() == "work":
            return item
    return items[0] if items else None


def parse_user(body: Mapping[str, Any]) -> UserData:
    """A User resource (POST or PUT body, or a patched document) as the portal keeps it."""
    if not isinstance(body, Mapping):
        raise invalid_value("the request body must be a JSON object")
    attrs = folded(body)
    schemas = attrs.get("schemas")
    if schemas is not None:
        if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
            raise invalid_value("schemas must be a list of schema URNs")
        unknown = [
            s for s in schemas if s.lower() not in {CORE_USER.lower(), *map(str.lower, EXTENSIONS)}
        ]
        if unknown:
            raise invalid_value(
                f"schema {unknown[0]} is not one this endpoint serves for users; use "
                f"{CORE_USER} with {ENTERPRISE_USER} or {SWITCHBOARD_USER}"
            )
    name = _object(attrs.get("name"), "name")
    email = _pick(_list(attrs.get("emails"), "emails"))
    address = _pick(_list(attrs.get("addresses"), "addresses"))
    enterprise = _object(attrs.get(ENTERPRISE_USER.lower()), ENTERPRISE_USER)
    ours = _object(attrs.get(SWITCHBOARD_USER.lower()), SWITCHBOARD_USER)
    active = attrs.get("active")
    user_name = text(attrs.get("username"), "userName", required=True)
    assert user_name is not None
    email_type = text(email.get("type"), "emails.type") if email else None
    return UserData(
        user_name=user_name,
        external_id=text(attrs.get("externalid"), "externalId"),
        given_name=text(name.get("givenname"), "name.givenName"),
        family_name=text(name.get("familyname"), "name.familyName"),
        display_name=text(attrs.get("displayname"), "displayName"),
        email=text(email.get("value"), "emails.value") if email else None,
        email_type=email_type[:16] if email_type else None,
        email_primary=(
            boolean(email["primary"], "emails.primary")
            if email and email.get("primary") is not None
            else None
        ),
        active=None if active is None else boolean(active, "active"),
        department=text(enterprise.get("department"), "department"),
        locality=text(address.get("locality"), "addresses.locality") if address else None,
        location=text(ours.get("location"), "location"),
        extension=text(ours.get("extension"), "extension"),
        phone_number=text(ours.get("phonenumber"), "phoneNumber"),
    )


def document(data: UserData) -> dict[str, Any]:
    """The user as a SCIM document without id and meta: what PATCH operations act on and what
    a response shows of what the client sent."""
    doc: dict[str, Any] = {"schemas": [CORE_USER], "userName": data.user_name}
    if data.external_id is not None:
        doc["externalId"] = data.external_id
    name = {
        k: v
        for k, v in (("givenName", data.given_name), ("familyName", data.family_name))
        if v is not None
    }
    if name:
        doc["name"] = name
    if data.display_name is not None:
        doc["displayName"] = data.display_name
    if data.email is not None:
        primary = data.email_primary is not False
        doc["emails"] = [
            {"value": data.email, "type": data.email_type or "work", "primary": primary}
        ]
    if data.active is not None:
        doc["active"] = data.active
    if data.locality is not None:
        doc["addresses"] = [{"type": "work", "locality": data.locality}]
    if data.department is not None:
        doc["schemas"].append(ENTERPRISE_USER)
        doc[ENTERPRISE_USER] = {"department": data.department}
    ours = {
        k: v
        for k, v in (
            ("location", data.location),
            ("extension", data.extension),
            ("phoneNumber", data.phone_number),
        )
        if v is not None
    }
    if ours:
        doc["schemas"].append(SWITCHBOARD_USER)
        doc[SWITCHBOARD_USER] = ours
    return doc

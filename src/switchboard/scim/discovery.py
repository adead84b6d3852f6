"""What the endpoint says of itself (RFC 7643 5-7): its capabilities, its resource types and
the schemas of exactly the attributes it keeps, so a client (or a conformance checker) sends
what the portal uses. The Switchboard extension is offered only to an account whose users'
location comes from it."""

from __future__ import annotations

from typing import Any

from switchboard.db.models import ScimSource
from switchboard.scim.user_attributes import CORE_USER, ENTERPRISE_USER, SWITCHBOARD_USER

CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SERVICE_PROVIDER_CONFIG = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
MAX_RESULTS = 1000


def _attribute(
    name: str,
    description: str,
    *,
    kind: str = "string",
    required: bool = False,
    case_exact: bool = False,
    mutability: str = "readWrite",
    uniqueness: str = "none",
    multi: bool = False,
    subs: list[dict[str, Any]] | None = None,
    canonical: list[str] | None = None,
    returned: str = "default",
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "name": name,
        "type": kind,
        "multiValued": multi,
        "description": description,
        "required": required,
        "mutability": mutability,
        "returned": returned,
    }
    if kind == "string":
        found["caseExact"] = case_exact
        found["uniqueness"] = uniqueness
    if canonical:
        found["canonicalValues"] = canonical
    if subs:
        found["subAttributes"] = subs
    return found


USER_ATTRIBUTES = [
    _attribute(
        "userName",
        "Unique within the account, ignoring case: the portal username.",
        required=True,
        uniqueness="server",
    ),
    _attribute(
        "name",
        "The user's name.",
        kind="complex",
        subs=[
            _attribute("familyName", "The last name."),
            _attribute("givenName", "The first name."),
        ],
    ),
    _attribute("displayName", "The name shown when there is no first and last name."),
    _attribute(
        "emails",
        "The user's email; the primary (or work) one is kept. Required unless userName is"
        " an email address.",
        kind="complex",
        multi=True,
        required=True,
        subs=[
            _attribute("value", "The email address.", required=True),
            _attribute("type", "work, home or other.", canonical=["work", "home", "other"]),
            _attribute("primary", "Whether it is the user's email.", kind="boolean"),
        ],
    ),
    _attribute(
        "addresses",
        "The user's work address: only its locality is kept (a location source).",
        kind="complex",
        multi=True,
        subs=[
            _attribute("type", "work.", canonical=["work"]),
            _attribute("locality", "The city."),
        ],
    ),
    _attribute(
        "active",
        "false: deactivated (disabled in the portal, or deleted: the account's setting).",
        kind="boolean",
    ),
]
ENTERPRISE_ATTRIBUTES = [_attribute("department", "The department (a location source).")]
SWITCHBOARD_ATTRIBUTES = [
    _attribute("location", "The portal location, by name or through a location rule."),
    _attribute("extension", "The extension; the portal picks one when absent."),
    _attribute("phoneNumber", "A number of the account's inventory, in E.164 (+14155550100)."),
]
GROUP_ATTRIBUTES = [
    _attribute("displayName", "The group's name.", required=True),
    _attribute(
        "members",
        "The group's users, by id.",
        kind="complex",
        multi=True,
        subs=[
            _attribute("value", "The id of a user.", mutability="immutable"),
            {
                **_attribute("$ref", "The user's URL.", kind="reference", mutability="immutable"),
                "referenceTypes": ["User"],
            },
            _attribute("type", "User.", mutability="immutable", canonical=["User"]),
        ],
    ),
]


def _schema(urn: str, name: str, description: str, attributes: list[Any], base: str) -> Any:
    return {
        "schemas": [SCHEMA],
        "id": urn,
        "name": name,
        "description": description,
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{urn}"},
    }


def schemas(source: ScimSource, base: str) -> list[dict[str, Any]]:
    found = [
        _schema(CORE_USER, "User", "User Account", USER_ATTRIBUTES, base),
        _schema(ENTERPRISE_USER, "EnterpriseUser", "Enterprise User", ENTERPRISE_ATTRIBUTES, base),
        _schema(CORE_GROUP, "Group", "Group", GROUP_ATTRIBUTES, base),
    ]
    if source.location_attribute == "switchboard":
        found.append(
            _schema(
                SWITCHBOARD_USER,
                "SwitchboardUser",
                "Where the user sits in the phone system",
                SWITCHBOARD_ATTRIBUTES,
                base,
            )
        )
    return found


def resource_types(source: ScimSource, base: str) -> list[dict[str, Any]]:
    extensions = [{"schema": ENTERPRISE_USER, "required": False}]
    if source.location_attribute == "switchboard":
        extensions.append({"schema": SWITCHBOARD_USER, "required": False})
    return [
        {
            "schemas": [RESOURCE_TYPE],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "User Account",
            "schema": CORE_USER,
            "schemaExtensions": extensions,
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/User"},
        },
        {
            "schemas": [RESOURCE_TYPE],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "Group",
            "schema": CORE_GROUP,
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/Group"},
        },
    ]


def service_provider_config(base: str) -> dict[str, Any]:
    return {
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "documentationUri": f"{base}/ServiceProviderConfig",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "The account's SCIM token, from its Directory tab",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base}/ServiceProviderConfig",
        },
    }


def list_response(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }

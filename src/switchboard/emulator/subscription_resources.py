"""The subscription resource: its record and Graph JSON, which directory changes it matches,
and the rules a create or renew request must meet.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from switchboard.emulator.clock import iso
from switchboard.emulator.directory_objects import Change, bad_request

MAX_EXPIRATION_MINUTES = 41_760
SUPPORTED_CHANGE_TYPES = {"updated", "deleted"}


@dataclass
class Subscription:
    id: str
    app_id: str
    resource: str
    change_types: list[str]
    notification_url: str
    lifecycle_url: str | None
    expiration: float
    client_state: str | None
    created: float
    reauthorization_sent: bool = False

    def to_graph(self, tenant_id: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.app_id,
            "changeType": ",".join(self.change_types),
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": iso(self.expiration),
            "creatorId": self.app_id,
            "latestSupportedTlsVersion": "v1_2",
            "notificationUrlAppId": None,
            "includeResourceData": False,
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationQueryOptions": None,
        }

    def matches(self, change: Change) -> bool:
        if change.change_type not in self.change_types:
            return False
        resource = self.resource.strip("/").lower()
        if resource == change.resource.lower():
            return True
        parts = resource.split("/")
        return (
            len(parts) == 2
            and parts[0] == change.resource.lower()
            and parts[1] == change.object_id.lower()
        )


@dataclass(frozen=True)
class NewSubscription:
    """A create request's fields once checked (the endpoints are validated afterwards)."""

    resource: str
    change_types: list[str]
    notification_url: str
    lifecycle_url: str | None
    expiration: float
    client_state: str | None


def check_new_subscription(body: Any, now: float) -> NewSubscription:
    """The fields of a create request, checked in the order Graph reports them."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object describing the subscription.")
    resource = body.get("resource")
    if not isinstance(resource, str) or not resource.strip("/"):
        raise bad_request(
            "resource: give users, groups, users/{id}, groups/{id} or groups/{id}/members."
        )
    resource = resource.strip("/")
    parts = resource.split("/")
    valid = (
        (len(parts) == 1 and parts[0] in ("users", "groups"))
        or (len(parts) == 2 and parts[0] in ("users", "groups"))
        or (len(parts) == 3 and parts[0] == "groups" and parts[2] == "members")
    )
    if not valid:
        raise bad_request(
            f"resource: '{resource}' is not a supported resource for "
            "subscriptions; use users, groups or groups/{id}/members."
        )
    raw_types = body.get("changeType")
    if not isinstance(raw_types, str) or not raw_types.strip():
        raise bad_request("changeType: give updated, deleted or both (comma separated).")
    change_types = [t.strip() for t in raw_types.split(",") if t.strip()]
    for t in change_types:
        if t not in SUPPORTED_CHANGE_TYPES:
            raise bad_request(
                f"changeType: '{t}' is not supported for resource '{parts[0]}'; use updated "
                "and/or deleted (creation and soft deletion arrive as updated)."
            )
    if body.get("includeResourceData"):
        raise bad_request(
            f"includeResourceData: rich notifications are not supported for resource "
            f"'{parts[0]}'; fetch changes with delta."
        )
    url = check_url(body.get("notificationUrl"), "notificationUrl")
    lifecycle = body.get("lifecycleNotificationUrl")
    lifecycle = check_url(lifecycle, "lifecycleNotificationUrl") if lifecycle else None
    expiration = check_expiration(body.get("expirationDateTime"), now)
    client_state = body.get("clientState")
    if client_state is not None and (not isinstance(client_state, str) or len(client_state) > 255):
        raise bad_request("clientState: give a string of at most 255 characters.")
    return NewSubscription(resource, change_types, url, lifecycle, expiration, client_state)


def check_expiration(value: Any, now: float) -> float:
    expiration = parse_time(value, "expirationDateTime")
    if expiration <= now:
        raise bad_request("expirationDateTime: must be in the future.")
    if expiration > now + MAX_EXPIRATION_MINUTES * 60:
        raise bad_request(
            f"Subscription expiration can only be {MAX_EXPIRATION_MINUTES} minutes in the "
            "future (expirationDateTime)."
        )
    return expiration


def parse_time(value: Any, field_name: str) -> float:
    if not isinstance(value, str):
        raise bad_request(f"{field_name}: give an ISO 8601 date-time such as 2026-01-01T00:00:00Z.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise bad_request(f"{field_name}: '{value}' is not an ISO 8601 date-time.") from exc
    if parsed.tzinfo is None:
        raise bad_request(f"{field_name}: include a time zone (Z for UTC).")
    return parsed.timestamp()


def check_url(value: Any, field_name: str) -> str:
    if not isinstance(value, str) or not value:
        raise bad_request(f"{field_name}: give the endpoint's URL.")
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value
    loopback = False
    if parts.hostname:
        try:
            loopback = ipaddress.ip_address(parts.hostname).is_loopback
        except ValueError:
            loopback = parts.hostname == "localhost"
    if parts.scheme == "http" and loopback:
        return value  # plain HTTP is allowed for loopback endpoints only (local development)
    raise bad_request(f"{field_name}: the URL must use HTTPS (got '{value}').")

"""Graph change-notification subscriptions on the wire: create, renew, reauthorize, delete.

The sync layer (sync/subscription_upkeep.py) decides what to do; this module only speaks Graph.
Errors are the client's taxonomy: GraphNotFound means the subscription is gone (expired or
removed) and must be created again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

from switchboard.db.models import DirectoryRegistration
from switchboard.directory.auth import TokenCache
from switchboard.directory.client import GraphClient, RetryPolicy
from switchboard.directory.factory import graph_credentials
from switchboard.secrets_at_rest import SecretBox

# A create waits for Graph to validate our endpoint (up to 10 s); keep retries short so a
# worker tick or a disconnect is not held for minutes by a Graph outage.
SUBSCRIPTION_RETRY = RetryPolicy(max_attempts=3, max_total_wait=10.0)


@dataclass(frozen=True)
class GraphSubscription:
    id: str
    resource: str
    expires_at: datetime


class SubscriptionApi(Protocol):
    """What the subscription service needs from Graph (tests wire an in-memory one)."""

    def create_subscription(
        self,
        *,
        resource: str,
        change_type: str,
        notification_url: str,
        lifecycle_url: str,
        expires_at: datetime,
        client_state: str,
    ) -> GraphSubscription: ...

    def renew_subscription(self, subscription_id: str, expires_at: datetime) -> datetime: ...

    def reauthorize_subscription(self, subscription_id: str) -> None: ...

    def delete_subscription(self, subscription_id: str) -> None: ...

    def close(self) -> None: ...


def graph_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_graph_time(value: Any, fallback: datetime) -> datetime:
    if not isinstance(value, str) or not value:
        return fallback
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class GraphSubscriptions:
    """SubscriptionApi over a GraphClient (``/subscriptions``)."""

    def __init__(self, client: GraphClient) -> None:
        self.client = client

    def create_subscription(
        self,
        *,
        resource: str,
        change_type: str,
        notification_url: str,
        lifecycle_url: str,
        expires_at: datetime,
        client_state: str,
    ) -> GraphSubscription:
        body = self.client.post(
            "/subscriptions",
            {
                "changeType": change_type,
                "notificationUrl": notification_url,
                "lifecycleNotificationUrl": lifecycle_url,
                "resource": resource,
                "expirationDateTime": graph_time(expires_at),
                "clientState": client_state,
            },
        )
        return GraphSubscription(
            id=str(body["id"]),
            resource=str(body.get("resource") or resource),
            expires_at=parse_graph_time(body.get("expirationDateTime"), expires_at),
        )

    def renew_subscription(self, subscription_id: str, expires_at: datetime) -> datetime:
        resp = self.client.request(
            "PATCH",
            f"/subscriptions/{quote(subscription_id, safe='')}",
            json={"expirationDateTime": graph_time(expires_at)},
        )
        body = resp.json() if resp.content else {}
        found = body.get("expirationDateTime") if isinstance(body, dict) else None
        return parse_graph_time(found, expires_at)

    def reauthorize_subscription(self, subscription_id: str) -> None:
        self.client.request("POST", f"/subscriptions/{quote(subscription_id, safe='')}/reauthorize")

    def delete_subscription(self, subscription_id: str) -> None:
        self.client.request("DELETE", f"/subscriptions/{quote(subscription_id, safe='')}")

    def close(self) -> None:
        self.client.close()


def graph_subscriptions_for(
    secrets: SecretBox, tokens: TokenCache
) -> Callable[[DirectoryRegistration], SubscriptionApi]:
    """Registration -> GraphSubscriptions with the registration's certificate."""

    def subscriptions_for(registration: DirectoryRegistration) -> SubscriptionApi:
        creds = graph_credentials(registration, secrets)
        client = GraphClient(
            creds.graph_url,
            tokens.provider(creds),
            verify=creds.ssl_context(),
            background=False,
            retry=SUBSCRIPTION_RETRY,
            max_connections=4,
            timeout=30.0,
        )
        return GraphSubscriptions(client)

    return subscriptions_for

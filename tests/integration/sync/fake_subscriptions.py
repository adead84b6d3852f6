"""Graph's /subscriptions in memory, behind the SubscriptionApi the service uses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from switchboard.directory.errors import GraphNotFound
from switchboard.directory.graph_subscriptions import GraphSubscription


@dataclass
class FakeSubscriptions:
    """Graph's /subscriptions in memory: what was created, renewed, reauthorized, deleted."""

    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: list[dict[str, Any]] = field(default_factory=list)
    renewed: list[tuple[str, datetime]] = field(default_factory=list)
    reauthorized: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    closed: int = 0

    def create_subscription(self, **request: Any) -> GraphSubscription:
        sid = str(uuid.uuid4())
        self.live[sid] = dict(request)
        self.created.append({"id": sid, **request})
        return GraphSubscription(sid, request["resource"], request["expires_at"])

    def _known(self, sid: str) -> dict[str, Any]:
        if sid not in self.live:
            raise GraphNotFound(f"subscription {sid} not found", status=404)
        return self.live[sid]

    def renew_subscription(self, subscription_id: str, expires_at: datetime) -> datetime:
        self._known(subscription_id)["expires_at"] = expires_at
        self.renewed.append((subscription_id, expires_at))
        return expires_at

    def reauthorize_subscription(self, subscription_id: str) -> None:
        self._known(subscription_id)
        self.reauthorized.append(subscription_id)

    def delete_subscription(self, subscription_id: str) -> None:
        self._known(subscription_id)
        del self.live[subscription_id]
        self.deleted.append(subscription_id)

    def close(self) -> None:
        self.closed += 1

    def state_of(self, resource: str) -> tuple[str, str]:
        sid, request = next((k, v) for k, v in self.live.items() if v["resource"] == resource)
        return sid, str(request["client_state"])

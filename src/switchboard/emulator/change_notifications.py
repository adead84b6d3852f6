"""Subscriptions and change notifications: validation handshake, delivery, retries, lifecycle
(the subscription record and the rules its requests meet are in subscription_resources.py).

Delivery follows Graph's rules: one POST can carry items of several subscriptions for the same
URL; an endpoint must answer 2xx within 3 seconds or the batch is retried with backoff for up to
4 hours (emulator clock) and then dropped; endpoints that are often slow get delayed delivery
(over 10% slow answers) or lose notifications (over 15%).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import ssl
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from switchboard.emulator.clock import EmulatorClock, iso
from switchboard.emulator.directory_objects import Change, DirectoryError, bad_request
from switchboard.emulator.faults import Faults
from switchboard.emulator.subscription_resources import (
    Subscription,
    check_expiration,
    check_new_subscription,
)

log = logging.getLogger("switchboard.emulator.change_notifications")

MAX_SUBSCRIPTIONS_PER_APP = 100
VALIDATION_TIMEOUT_SECONDS = 10.0
DELIVERY_TIMEOUT_SECONDS = 3.0
SLOW_SECONDS = 2.9
RETRY_WINDOW_SECONDS = 4 * 3600
REAUTHORIZE_BEFORE_SECONDS = 3600


@dataclass
class _Pending:
    url: str
    item: dict[str, Any]
    first_attempt: float  # emulator clock
    attempts: int = 0
    due: float = 0.0  # wall clock


@dataclass
class EndpointStats:
    answers: deque[float] = field(default_factory=lambda: deque(maxlen=100))
    delivered: int = 0
    failed: int = 0
    dropped: int = 0

    def slow_share(self) -> float:
        if len(self.answers) < 10:
            return 0.0
        return sum(1 for d in self.answers if d > SLOW_SECONDS) / len(self.answers)


class Notifier:
    def __init__(self, tenant_id: str, clock: EmulatorClock, faults: Faults) -> None:
        self.tenant_id = tenant_id
        self.clock = clock
        self.faults = faults
        self.subscriptions: dict[str, Subscription] = {}
        self.stats: dict[str, EndpointStats] = {}
        self._queue: deque[_Pending] = deque()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # One TLS context for every outgoing call: building one loads the CA bundle (slow).
        self.verify: ssl.SSLContext | bool = ssl.create_default_context()
        self.sent_log: deque[dict[str, Any]] = deque(maxlen=500)
        self.dirty = False  # subscriptions changed since the last save

    # ------------------------------------------------------------------ subscriptions
    async def create(self, app_id: str, body: Any) -> Subscription:
        new = check_new_subscription(body, self.clock.timestamp())
        mine = [s for s in self.live() if s.app_id == app_id]
        if len(mine) >= MAX_SUBSCRIPTIONS_PER_APP:
            raise DirectoryError(
                403,
                "ExtensionError",
                f"Operation on this tenant has exceeded the quota of {MAX_SUBSCRIPTIONS_PER_APP} "
                "subscriptions per application.",
            )
        await self._validate_endpoint(new.notification_url, "notificationUrl")
        if new.lifecycle_url:
            await self._validate_endpoint(new.lifecycle_url, "lifecycleNotificationUrl")
        sub = Subscription(
            id=str(uuid.uuid4()),
            app_id=app_id,
            resource=new.resource,
            change_types=new.change_types,
            notification_url=new.notification_url,
            lifecycle_url=new.lifecycle_url,
            expiration=new.expiration,
            client_state=new.client_state,
            created=self.clock.timestamp(),
        )
        self.subscriptions[sub.id] = sub
        self.dirty = True
        return sub

    async def _validate_endpoint(self, url: str, field_name: str) -> None:
        token = (
            "Validation: Testing client application reachability for subscription "
            f"Request-Id: {uuid.uuid4()}"
        )
        sep = "&" if "?" in url else "?"
        target = f"{url}{sep}validationToken={quote(token)}"
        ok = False
        try:
            async with httpx.AsyncClient(
                verify=self.verify, timeout=VALIDATION_TIMEOUT_SECONDS
            ) as c:
                resp = await c.post(target, headers={"Content-Type": "text/plain; charset=utf-8"})
            ok = (
                resp.status_code == 200
                and resp.headers.get("content-type", "").startswith("text/plain")
                and resp.text == token
            )
        except httpx.HTTPError as exc:
            log.info("validation of %s failed: %s", url, exc)
        if not ok:
            raise bad_request(
                f"Subscription validation request failed ({field_name}). Notification endpoint "
                "must respond with 200 OK and the decoded validationToken as text/plain within "
                "10 seconds."
            )

    def live(self) -> list[Subscription]:
        now = self.clock.timestamp()
        for sid in [s.id for s in self.subscriptions.values() if s.expiration <= now]:
            del self.subscriptions[sid]
        return list(self.subscriptions.values())

    def get(self, sub_id: str, app_id: str) -> Subscription:
        self.live()
        sub = self.subscriptions.get(sub_id)
        if sub is None or sub.app_id != app_id:
            raise DirectoryError(
                404, "ResourceNotFound", f"The object was not found (subscription {sub_id})."
            )
        return sub

    def renew(self, sub_id: str, app_id: str, body: Any) -> Subscription:
        sub = self.get(sub_id, app_id)
        if not isinstance(body, dict) or set(body) - {"expirationDateTime"} or not body:
            raise bad_request("Only expirationDateTime can be changed on a subscription.")
        sub.expiration = check_expiration(body["expirationDateTime"], self.clock.timestamp())
        sub.reauthorization_sent = False
        self.dirty = True
        return sub

    def delete(self, sub_id: str, app_id: str) -> None:
        self.get(sub_id, app_id)
        del self.subscriptions[sub_id]
        self.dirty = True

    def reauthorize(self, sub_id: str, app_id: str) -> None:
        self.get(sub_id, app_id).reauthorization_sent = False

    # ------------------------------------------------------------------ delivery
    def on_change(self, change: Change) -> None:
        """Directory listener: queue one item per matching subscription."""
        if not self.subscriptions:
            return
        for sub in self.live():
            if not sub.matches(change):
                continue
            if change.kind == "users":
                odata_type, res = "#Microsoft.Graph.User", f"Users/{change.object_id}"
            else:
                odata_type, res = "#Microsoft.Graph.Group", f"Groups/{change.object_id}"
            item = {
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": iso(sub.expiration),
                "changeType": change.change_type,
                "clientState": sub.client_state,
                "resource": res,
                "resourceData": {
                    "@odata.type": odata_type,
                    "@odata.id": res,
                    "id": change.object_id,
                    "organizationId": self.tenant_id,
                },
                "tenantId": self.tenant_id,
            }
            self._enqueue(sub.notification_url, item)

    def request_reauthorization(self, sub_id: str) -> None:
        sub = self.subscriptions.get(sub_id)
        if sub is None:
            raise DirectoryError(404, "ResourceNotFound", f"No subscription {sub_id}.")
        self._send_lifecycle(sub)

    def _send_lifecycle(self, sub: Subscription) -> None:
        sub.reauthorization_sent = True
        if not sub.lifecycle_url:
            return
        self._enqueue(
            sub.lifecycle_url,
            {
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": iso(sub.expiration),
                "tenantId": self.tenant_id,
                "clientState": sub.client_state,
                "lifecycleEvent": "reauthorizationRequired",
            },
        )

    def _enqueue(self, url: str, item: dict[str, Any]) -> None:
        delay = self.faults.notification_delay_ms / 1000
        stats = self.stats.setdefault(url, EndpointStats())
        share = stats.slow_share()
        if share > 0.15:
            stats.dropped += 1
            return
        if share > 0.10:
            delay += 10.0  # delayed delivery for slow endpoints
        self._queue.append(_Pending(url, item, self.clock.timestamp(), 0, time.time() + delay))
        rate = self.faults.notification_duplicate_rate
        if rate and self.faults.rng.random() < rate:
            # Graph may deliver one change more than once; receivers must be idempotent.
            self._queue.append(
                _Pending(url, dict(item), self.clock.timestamp(), 0, time.time() + delay)
            )
        self._poke()

    def _poke(self) -> None:
        if self._wake is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def pending(self) -> int:
        return len(self._queue)

    async def run(self) -> None:
        """The delivery loop (one per server), batching items by endpoint URL."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        async with httpx.AsyncClient(
            verify=self.verify, timeout=DELIVERY_TIMEOUT_SECONDS
        ) as client:
            while True:
                self._lifecycle_tick()
                now = time.time()
                due = [p for p in self._queue if p.due <= now]
                if not due:
                    wait = min((p.due for p in self._queue), default=now + 1.0) - now
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=max(min(wait, 1.0), 0.01))
                    continue
                for p in due:
                    self._queue.remove(p)
                by_url: dict[str, list[_Pending]] = {}
                for p in due:
                    by_url.setdefault(p.url, []).append(p)
                await asyncio.gather(
                    *(self._post(client, url, batch) for url, batch in by_url.items())
                )

    def _lifecycle_tick(self) -> None:
        now = self.clock.timestamp()
        for sub in self.live():
            if not sub.reauthorization_sent and sub.expiration - now < REAUTHORIZE_BEFORE_SECONDS:
                self._send_lifecycle(sub)

    async def _post(self, client: httpx.AsyncClient, url: str, batch: list[_Pending]) -> None:
        stats = self.stats.setdefault(url, EndpointStats())
        keep = []
        for p in batch:
            if self.faults.notification_drop_rate and (
                self.faults.rng.random() < self.faults.notification_drop_rate
            ):
                stats.dropped += 1
            else:
                keep.append(p)
        if not keep:
            return
        started = time.monotonic()
        ok = False
        try:
            resp = await client.post(url, json={"value": [p.item for p in keep]})
            ok = 200 <= resp.status_code < 300
        except httpx.HTTPError as exc:
            log.info("notification to %s failed: %s", url, exc)
        stats.answers.append(time.monotonic() - started)
        if ok:
            stats.delivered += len(keep)
            for p in keep:
                self.sent_log.append({"url": url, **p.item})
            return
        stats.failed += 1
        now = self.clock.timestamp()
        for p in keep:
            if now - p.first_attempt > RETRY_WINDOW_SECONDS:
                stats.dropped += 1
                continue
            p.attempts += 1
            p.due = time.time() + min(2 ** (p.attempts - 1), 60) * (
                0.5 + secrets.randbelow(100) / 200
            )
            self._queue.append(p)

    # ------------------------------------------------------------------ persistence
    def to_json(self) -> list[dict[str, Any]]:
        self.dirty = False
        return [asdict(s) for s in self.subscriptions.values()]

    def load(self, rows: list[dict[str, Any]]) -> None:
        self.subscriptions = {r["id"]: Subscription(**r) for r in rows}

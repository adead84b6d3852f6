"""Keeping just-in-time accounts' Graph change-notification subscriptions alive: with
subscription_teardown.py (which drops them when jit mode ends), the only writer of
``directory_subscriptions``.

A jit account holds two subscriptions (``users`` and ``groups``, changeType updated,deleted)
whose notifications reach PUBLIC_URL/webhooks/graph. They live just under Graph's maximum of
41,760 minutes; the worker renews those that expire within a day, re-creates those Graph no
longer knows (404), and removes them when the account leaves jit mode or disconnects.

Graph calls happen outside database transactions: read what is stored, call Graph, then save
the outcome in a short transaction of its own. Each subscription gets its own clientState
secret, stored only as a SHA-256 digest (it is random and 256 bits long, so a plain digest is
enough; notifications are checked against it in constant time).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, DirectoryRegistration, DirectorySubscription
from switchboard.directory.errors import GraphError, GraphNotFound
from switchboard.directory.graph_subscriptions import SubscriptionApi
from switchboard.portal import audit
from switchboard.portal.actors import Actor
from switchboard.portal.clock_context import now
from switchboard.portal.users import sync_actor
from switchboard.sync.policy import SyncPolicy
from switchboard.sync.ports import SyncServices, Transactions

log = logging.getLogger("switchboard.subscriptions")

RESOURCES = ("users", "groups")
CHANGE_TYPE = "updated,deleted"  # users and groups refuse "created"; creation is "updated"
MAX_MINUTES = 41_760
# Just under Graph's maximum, so clock skew between us and Graph never makes it too long.
LIFETIME = timedelta(minutes=MAX_MINUTES - 60)
RENEW_WITHIN = timedelta(days=1)
WEBHOOK_PATH = "/webhooks/graph"
LIFECYCLE_PATH = "/webhooks/graph/lifecycle"
OBJECT = "directory_subscription"


def digest(client_state: str) -> str:
    return hashlib.sha256(client_state.encode()).hexdigest()


def state_matches(stored_digest: str, given: Any) -> bool:
    """Constant time: compare digests of equal length whatever the notification carried."""
    candidate = digest(given) if isinstance(given, str) else ""
    return hmac.compare_digest(stored_digest.encode(), candidate.encode())


def endpoint_urls(public_url: str) -> tuple[str, str]:
    base = public_url.rstrip("/")
    return base + WEBHOOK_PATH, base + LIFECYCLE_PATH


def wants_subscriptions(account: Account, registration: DirectoryRegistration | None) -> bool:
    if registration is None or account.status == "terminated":
        return False
    return SyncPolicy.model_validate(registration.policy or {}).mode == "jit"


# --- reading ------------------------------------------------------------------------------------


def list_subscriptions(
    session: Session, actor: Actor, account: Account
) -> list[DirectorySubscription]:
    actor.require_read(account.id)
    return list(
        session.scalars(
            select(DirectorySubscription)
            .where(DirectorySubscription.account_id == account.id)
            .order_by(DirectorySubscription.resource)
        )
    )


def describe(row: DirectorySubscription, stamp: datetime) -> dict[str, Any]:
    if row.expires_at <= stamp:
        state = "expired"
    elif row.expires_at - stamp < RENEW_WITHIN:
        state = "renewal due"
    else:
        state = "active"
    return {
        "resource": row.resource,
        "subscription_id": row.subscription_id,
        "state": state,
        "expires_at": row.expires_at.isoformat(),
        "created_at": row.created_at.isoformat(),
        "renewed_at": row.renewed_at.isoformat() if row.renewed_at else None,
    }


# --- maintaining --------------------------------------------------------------------------------


@dataclass
class MaintainReport:
    slug: str = ""
    created: list[str] = field(default_factory=list)
    renewed: list[str] = field(default_factory=list)
    recreated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.renewed or self.recreated or self.removed)


@dataclass(frozen=True)
class _Stored:
    subscription_id: str
    resource: str
    expires_at: datetime


def _stored(session: Session, account_id: int) -> dict[str, _Stored]:
    rows = session.scalars(
        select(DirectorySubscription).where(DirectorySubscription.account_id == account_id)
    )
    return {r.resource: _Stored(r.subscription_id, r.resource, r.expires_at) for r in rows}


def maintain(
    services: SyncServices, account_id: int, *, renew_within: timedelta = RENEW_WITHIN
) -> MaintainReport:
    """Bring one account's subscriptions to what its mode wants: create the missing ones,
    renew those expiring within ``renew_within``, re-create those Graph lost, or remove them
    all when the account is not (or no longer) in jit mode."""
    report = MaintainReport()
    with services.unit_of_work() as session:
        account = session.get(Account, account_id)
        if account is None:
            return report
        report.slug = account.slug
        registration = session.scalar(
            select(DirectoryRegistration).where(DirectoryRegistration.account_id == account_id)
        )
        stored = _stored(session, account_id)
        wanted = wants_subscriptions(account, registration)
        stamp = now(session)
        if registration is None:
            # Disconnected: the registration (and the key to call Graph) is gone; the listener
            # deleted what it could when it went. Forget any leftovers.
            if stored:
                session.execute(
                    delete(DirectorySubscription).where(
                        DirectorySubscription.account_id == account_id
                    )
                )
                report.removed.extend(sorted(stored))
            return report
        if not wanted and not stored:
            return report
        api = services.subscription_factory()(registration)
    try:
        if not wanted:
            for old in stored.values():
                delete_in_graph(api, old.subscription_id)
                _forget(services, account_id, old.subscription_id)
                report.removed.append(old.resource)
            return report
        public_url = services.settings.public_url
        for resource in RESOURCES:
            item = stored.get(resource)
            try:
                if item is not None and item.expires_at > stamp + renew_within:
                    continue
                renewable = item is not None and item.expires_at > stamp
                if renewable and item is not None and _renew(services, api, account_id, item):
                    report.renewed.append(resource)
                    continue
                # Missing, expired, or Graph no longer knows it (404): create it (again).
                if public_url is None:
                    report.errors.append(
                        f"{resource}: cannot subscribe to change notifications without"
                        " SWITCHBOARD_PUBLIC_URL (the portal's https address as Graph reaches it)"
                    )
                    continue
                if item is not None:
                    delete_in_graph(api, item.subscription_id)
                    _forget(services, account_id, item.subscription_id)
                if _create(services, api, account_id, resource, public_url):
                    (report.recreated if item is not None else report.created).append(resource)
                else:
                    report.errors.append(f"{resource}: the account left jit mode meanwhile")
            except GraphError as exc:
                report.errors.append(f"{resource}: Entra ID: {exc.message}")
                log.warning("%s: %s subscription: %s", report.slug, resource, exc.message)
    finally:
        api.close()
    return report


def _renew(services: Transactions, api: SubscriptionApi, account_id: int, item: _Stored) -> bool:
    """PATCH the expiration; False when Graph says the subscription is gone (404)."""
    with services.unit_of_work() as session:
        until = now(session) + LIFETIME
    try:
        expires = api.renew_subscription(item.subscription_id, until)
    except GraphNotFound:
        return False
    with services.unit_of_work() as session:
        row = session.scalar(
            select(DirectorySubscription).where(
                DirectorySubscription.account_id == account_id,
                DirectorySubscription.subscription_id == item.subscription_id,
            )
        )
        if row is not None:
            row.expires_at = expires
            row.renewed_at = now(session)
    return True


def _create(
    services: SyncServices, api: SubscriptionApi, account_id: int, resource: str, public_url: str
) -> bool:
    """Create in Graph (which validates our endpoint first), then store; if the account left
    jit mode while Graph was validating, delete the new subscription again."""
    notification_url, lifecycle_url = endpoint_urls(public_url)
    client_state = secrets.token_urlsafe(32)
    with services.unit_of_work() as session:
        until = now(session) + LIFETIME
    created = api.create_subscription(
        resource=resource,
        change_type=CHANGE_TYPE,
        notification_url=notification_url,
        lifecycle_url=lifecycle_url,
        expires_at=until,
        client_state=client_state,
    )
    with services.unit_of_work() as session:
        account = session.get(Account, account_id)
        registration = session.scalar(
            select(DirectoryRegistration).where(DirectoryRegistration.account_id == account_id)
        )
        keep = account is not None and wants_subscriptions(account, registration)
        if keep and account is not None:
            session.execute(
                delete(DirectorySubscription).where(
                    DirectorySubscription.account_id == account_id,
                    DirectorySubscription.resource == resource,
                )
            )
            stamp = now(session)
            session.add(
                DirectorySubscription(
                    account_id=account_id,
                    subscription_id=created.id.lower(),
                    resource=resource,
                    expires_at=created.expires_at,
                    client_state_sha256=digest(client_state),
                    created_at=stamp,
                )
            )
            session.flush()
            audit.record(
                session,
                sync_actor(account),
                "directory.subscription_created",
                account_id=account_id,
                object_type=OBJECT,
                object_id=created.id.lower(),
                fields=[resource],
            )
    if not keep:
        delete_in_graph(api, created.id)
    return keep


def _forget(services: Transactions, account_id: int, subscription_id: str) -> None:
    with services.unit_of_work() as session:
        session.execute(
            delete(DirectorySubscription).where(
                DirectorySubscription.account_id == account_id,
                DirectorySubscription.subscription_id == subscription_id,
            )
        )


def delete_in_graph(api: SubscriptionApi, subscription_id: str) -> None:
    """Best effort: a subscription Graph cannot delete now expires by itself within 29 days,
    and its notifications are ignored once we forgot it."""
    try:
        api.delete_subscription(subscription_id)
    except GraphNotFound:
        pass
    except GraphError as exc:
        log.warning("could not delete subscription %s in Entra ID: %s", subscription_id, exc)


def reauthorize(services: SyncServices, subscription_id: str) -> str:
    """Answer Graph's reauthorizationRequired; a subscription Graph lost is created again."""
    with services.unit_of_work() as session:
        row = session.scalar(
            select(DirectorySubscription).where(
                DirectorySubscription.subscription_id == subscription_id.lower()
            )
        )
        registration = (
            session.scalar(
                select(DirectoryRegistration).where(
                    DirectoryRegistration.account_id == row.account_id
                )
            )
            if row is not None
            else None
        )
        if row is None or registration is None:
            return "unknown"
        account_id = row.account_id
        api = services.subscription_factory()(registration)
    try:
        api.reauthorize_subscription(subscription_id.lower())
        return "reauthorized"
    except GraphNotFound:
        _forget(services, account_id, subscription_id.lower())
    except GraphError as exc:
        log.warning("reauthorizing subscription %s failed: %s", subscription_id, exc.message)
        return "failed"
    finally:
        api.close()
    maintain(services, account_id)
    return "recreated"


def recreate(services: SyncServices, subscription_id: str) -> MaintainReport | None:
    """Graph said it removed the subscription: forget it and subscribe again."""
    with services.unit_of_work() as session:
        account_id = session.scalar(
            select(DirectorySubscription.account_id).where(
                DirectorySubscription.subscription_id == subscription_id.lower()
            )
        )
    if account_id is None:
        return None
    _forget(services, account_id, subscription_id.lower())
    return maintain(services, account_id)

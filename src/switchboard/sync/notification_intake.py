"""Graph change notifications -> a coalesced delta round per account.

Webhooks are hints: a notification says only "something changed in this account's tenant";
the delta round that follows reads what changed. So a notification is checked (known
subscription, its clientState, its tenant) and then only marks its account dirty. The first
notification for an idle account starts its delta round at once; notifications arriving while
a round runs lead to exactly one more round afterwards. Duplicates are therefore harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, DirectoryRegistration, DirectorySubscription
from switchboard.metrics import NOTIFICATION_TO_COMMIT
from switchboard.portal.errors import PortalError
from switchboard.portal.users import sync_actor
from switchboard.sync.engine import SyncEngine
from switchboard.sync.ports import JobRunner, SyncServices
from switchboard.sync.subscription_upkeep import state_matches

log = logging.getLogger("switchboard.notifications")

# One POST carries at most this many items we look at; Graph batches far fewer.
MAX_ITEMS = 1000
RoundOutcome = Literal["ran", "busy", "skipped", "failed"]


@dataclass(frozen=True)
class Notification:
    """One item of a notification POST, as far as we use it (casing varies on the wire)."""

    subscription_id: str
    client_state: str | None = None
    change_type: str | None = None
    resource: str | None = None
    tenant_id: str | None = None
    lifecycle_event: str | None = None


def _lower_keys(obj: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in obj.items()}


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def parse_notifications(body: Any) -> list[Notification]:
    """Items of ``{"value": [...]}``, leniently: keys in any case, unknown keys ignored, items
    without a subscription id skipped. Anything else yields no items."""
    if not isinstance(body, Mapping):
        return []
    items = _lower_keys(body).get("value")
    if not isinstance(items, list):
        return []
    found = []
    for raw in items[:MAX_ITEMS]:
        if not isinstance(raw, Mapping):
            continue
        item = _lower_keys(raw)
        subscription_id = _text(item.get("subscriptionid"))
        if subscription_id is None:
            continue
        state = item.get("clientstate")
        found.append(
            Notification(
                subscription_id=subscription_id.lower(),
                client_state=state if isinstance(state, str) else None,
                change_type=(_text(item.get("changetype")) or "").lower() or None,
                resource=_text(item.get("resource")),
                tenant_id=(_text(item.get("tenantid")) or "").lower() or None,
                lifecycle_event=_text(item.get("lifecycleevent")),
            )
        )
    return found


@dataclass
class Verified:
    """The items that passed: accounts to sync, and lifecycle events per subscription."""

    accounts: set[int] = field(default_factory=set)
    lifecycle: list[tuple[int, str, str]] = field(default_factory=list)  # account, sub id, event
    ignored: int = 0


def verify(session: Session, notifications: Iterable[Notification]) -> Verified:
    """Keep items of a subscription we hold whose clientState matches (constant time) and
    whose tenant, when given, is the account's; ignore the rest."""
    items = list(notifications)
    out = Verified()
    if not items:
        return out
    rows = session.execute(
        select(DirectorySubscription, DirectoryRegistration.tenant_id)
        .join(
            DirectoryRegistration,
            DirectoryRegistration.account_id == DirectorySubscription.account_id,
        )
        .where(DirectorySubscription.subscription_id.in_({n.subscription_id for n in items}))
    ).all()
    known = {sub.subscription_id: (sub, tenant) for sub, tenant in rows}
    for item in items:
        found = known.get(item.subscription_id)
        if found is None:
            out.ignored += 1
            continue
        sub, tenant = found
        # Check the secret first and always, so timing does not tell which check failed.
        state_ok = state_matches(sub.client_state_sha256, item.client_state)
        tenant_ok = item.tenant_id is None or item.tenant_id == tenant.lower()
        if not (state_ok and tenant_ok):
            out.ignored += 1
            continue
        if item.lifecycle_event is not None:
            out.lifecycle.append((sub.account_id, sub.subscription_id, item.lifecycle_event))
        else:
            out.accounts.add(sub.account_id)
    if out.ignored:
        log.warning(
            "ignored %d notification item(s): unknown subscription or bad clientState", out.ignored
        )
    return out


class NotificationCoalescer:
    """Turns "account N changed" hints into delta rounds, one at a time per account.

    Leading edge: the first hint for an idle account starts its round at once (a job on the
    runner), so a single change pays no waiting window. Trailing edge: hints that arrive while
    a round runs mark the account dirty again, and exactly one more round follows when it
    ends; a burst therefore becomes few rounds, each reading everything changed so far.

    ``min_gap`` spaces the back-to-back rounds of a stream of changes: a trailing round starts
    no sooner than ``min_gap`` seconds after the previous round started (at once when that
    round took longer), so a tenant that changes all the time is read in rounds of everything
    changed so far rather than in a round per change. A round refused because another run of
    the account is in progress is retried ``busy_retry`` seconds after it, up to
    ``max_busy_retries`` times (the daily safety-net delta round catches anything given up on).

    Each round that ran observes ``NOTIFICATION_TO_COMMIT``: from the earliest hint it covers
    (as given to ``notify``) to its commit (the round returned).
    """

    def __init__(
        self,
        jobs: JobRunner,
        run_round: Callable[[int], RoundOutcome],
        *,
        min_gap: float = 1.2,
        busy_retry: float = 5.0,
        max_busy_retries: int = 60,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.jobs = jobs
        self.run_round = run_round
        self.min_gap = min_gap
        self.busy_retry = busy_retry
        self.max_busy_retries = max_busy_retries
        self.sleep = sleep
        self.clock = clock
        self._lock = threading.Lock()
        # Account -> arrival of the earliest hint not yet taken by a round.
        self._dirty: dict[int, float] = {}
        self._active: set[int] = set()

    def notify(self, account_id: int, arrived: float | None = None) -> bool:
        """Mark the account dirty; ``arrived`` is when the hint reached the process (this
        clock; now when not given). True if a new drain was started; False if one already
        running or starting covers this hint."""
        stamp = self.clock() if arrived is None else arrived
        with self._lock:
            self._dirty[account_id] = min(stamp, self._dirty.get(account_id, stamp))
            if account_id in self._active:
                return False
            self._active.add(account_id)
        # No job key: ``_active`` already allows one drain per account, and a key would refuse
        # a new drain while the previous one is still returning (after it saw nothing dirty).
        accepted = self.jobs.submit(
            f"notification delta of account {account_id}", partial(self._drain, account_id)
        )
        if not accepted:
            with self._lock:
                self._active.discard(account_id)
        return accepted

    def _drain(self, account_id: int) -> None:
        busy_tries = 0
        # The previous round of this drain: when it started and ended (None: none yet, so the
        # first round starts at once), and how long to wait after its end (a busy retry).
        last: tuple[float, float] | None = None
        pause = 0.0
        finished = False
        try:
            while True:
                with self._lock:
                    if account_id not in self._dirty:
                        # Released under the lock: a notify from now on starts a new drain,
                        # whose marker this drain must then leave alone.
                        self._active.discard(account_id)
                        finished = True
                        return
                if last is not None:
                    started, ended = last
                    now = self.clock()
                    delay = max(started + self.min_gap, ended + pause) - now
                    if delay > 0:
                        self.sleep(delay)
                with self._lock:  # only this drain takes the account's hints
                    since = self._dirty.pop(account_id)
                started = self.clock()
                try:
                    outcome = self.run_round(account_id)
                except Exception:
                    log.exception("notification delta round of account %s failed", account_id)
                    outcome = "failed"
                ended = self.clock()
                last, pause = (started, ended), 0.0
                if outcome == "ran":
                    NOTIFICATION_TO_COMMIT.observe(max(ended - since, 0.0))
                if outcome == "busy":
                    busy_tries += 1
                    if busy_tries <= self.max_busy_retries:
                        with self._lock:  # the hints stay pending, with their first arrival
                            self._dirty[account_id] = min(since, self._dirty.get(account_id, since))
                        pause = self.busy_retry
                    else:
                        log.warning(
                            "account %s: gave up waiting for the running sync; the next"
                            " notification or the daily delta round picks the changes up",
                            account_id,
                        )
                else:
                    busy_tries = 0
        finally:
            if not finished:  # an unexpected error: let the next notification start afresh
                with self._lock:
                    self._active.discard(account_id)


def delta_round(services: SyncServices, account_id: int) -> RoundOutcome:
    """One notification-triggered delta round of the account."""
    with services.unit_of_work() as session:
        account = session.get(Account, account_id)
        if account is None:
            return "skipped"
        slug, actor = account.slug, sync_actor(account)
    engine = SyncEngine(services, services.directory_factory())
    try:
        summary = engine.delta(actor, slug, trigger="notification")
    except PortalError as exc:
        if exc.code == "run_in_progress":
            return "busy"
        log.info("%s: notification delta round not started: %s", slug, exc.message)
        return "skipped"
    log.info("%s: notification %s run %s %s", slug, summary.kind, summary.run_id, summary.status)
    return "ran"


def coalescer_for(services: SyncServices) -> NotificationCoalescer:
    return NotificationCoalescer(
        services.jobs,
        partial(delta_round, services),
        min_gap=services.settings.notification_min_gap_seconds,
    )

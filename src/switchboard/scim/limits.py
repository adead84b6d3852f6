"""The limits of the SCIM endpoint: requests per second per account, and the size of a body.

Each account has a token bucket that holds as many requests as its SCIM source's rate limit
(requests per second) and refills at that rate, so a client may send a second's worth at once
and that rate sustained. Entra must be able to send 25 requests per second: the lowest limit an
account can choose is that, the default four times it.

A request whose token is then refused gets its token back (``refund``): whoever knows an
account's slug cannot use up its client's allowance with requests of no use.

The limits are read from the database at most every REFRESH_SECONDS per account and kept in
the process. Slugs that name no account share one bucket, and the table of accounts is
bounded, so requests to made-up slugs cannot grow the memory of the process.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, ScimSource
from switchboard.portal.validation import SLUG_RE
from switchboard.scim.source import DEFAULT_RATE_LIMIT

MAX_BODY_BYTES = 1024 * 1024
REFRESH_SECONDS = 5.0
MAX_ACCOUNTS = 10_000
# The bucket of the slugs that name no account (they are answered 404 anyway).
UNKNOWN = ""

Clock = Callable[[], float]


def rate_limit_of(session: Session, slug: str) -> int | None:
    """The account's requests per second; None when the slug names no account."""
    if not SLUG_RE.match(slug):
        return None
    row = session.execute(
        select(Account.id, ScimSource.rate_limit)
        .outerjoin(ScimSource, ScimSource.account_id == Account.id)
        .where(Account.slug == slug)
    ).first()
    if row is None:
        return None
    return int(row.rate_limit) if row.rate_limit else DEFAULT_RATE_LIMIT


class TokenBucket:
    """``rate`` tokens per second, at most ``rate`` held; a request takes one."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.stamp = now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def take(self, now: float) -> float:
        """0 when the request may go ahead, else the seconds until a token is there."""
        self._refill(now)
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate

    def give_back(self, now: float) -> None:
        self._refill(now)
        self.tokens = min(self.rate, self.tokens + 1)

    def resize(self, rate: float, now: float) -> None:
        self._refill(now)
        self.rate = rate
        self.tokens = min(self.tokens, rate)


@dataclass
class _Account:
    rate: int
    known: bool
    checked_at: float


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # Whole seconds the client should wait (Retry-After) when not allowed.
    retry_after: int = 0
    # The requests per second the account is allowed.
    rate: int = 0
    # The bucket the request was taken from (for ``refund``).
    key: str = UNKNOWN


class RateLimiter:
    """Per-account token buckets, keyed by slug. ``clock`` is monotonic seconds."""

    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        refresh_seconds: float = REFRESH_SECONDS,
        max_accounts: int = MAX_ACCOUNTS,
        default_rate: int = DEFAULT_RATE_LIMIT,
    ) -> None:
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self.max_accounts = max_accounts
        self.default_rate = default_rate
        self._accounts: OrderedDict[str, _Account] = OrderedDict()
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def claim_refresh(self, slug: str) -> bool:
        """Whether the caller should read the slug's limit now (then call ``set_limit``). One
        caller is told so per period: the others go on with the limit already known."""
        now = self.clock()
        with self._lock:
            found = self._accounts.get(slug)
            if found is not None and now - found.checked_at < self.refresh_seconds:
                self._accounts.move_to_end(slug)
                return False
            if found is None:
                found = _Account(self.default_rate, known=True, checked_at=now)
                self._remember(slug, found)
            found.checked_at = now
            return True

    def set_limit(self, slug: str, rate: int | None) -> None:
        """The limit read for ``slug``: requests per second, or None for no such account."""
        now = self.clock()
        with self._lock:
            found = self._accounts.get(slug)
            if found is None:
                found = _Account(self.default_rate, known=True, checked_at=now)
                self._remember(slug, found)
            found.known = rate is not None
            found.rate = rate if rate is not None else self.default_rate
            if not found.known:
                self._buckets.pop(slug, None)
            elif slug in self._buckets:
                self._buckets[slug].resize(found.rate, now)

    def take(self, slug: str) -> Decision:
        now = self.clock()
        with self._lock:
            found = self._accounts.get(slug)
            known = found is None or found.known
            key = slug if known else UNKNOWN
            rate = found.rate if found is not None else self.default_rate
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(rate, now)
            wait = bucket.take(now)
        if wait <= 0:
            return Decision(True, rate=int(bucket.rate), key=key)
        return Decision(False, retry_after=max(1, math.ceil(wait)), rate=int(bucket.rate), key=key)

    def refund(self, decision: Decision) -> None:
        """Give back what an allowed request took: its token was refused, so it was not the
        account's client, and a stranger must not use up the client's allowance."""
        if not decision.allowed:
            return
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(decision.key)
            if bucket is not None:
                bucket.give_back(now)

    def _remember(self, slug: str, entry: _Account) -> None:
        self._accounts[slug] = entry
        while len(self._accounts) > self.max_accounts:
            old, _ = self._accounts.popitem(last=False)
            self._buckets.pop(old, None)

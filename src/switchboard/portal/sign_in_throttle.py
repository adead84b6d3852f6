"""Sign-in throttling: too many failures for one email, or from one address, lock it out a while.

Failures are counted per typed email whether or not an admin has that email, so a lockout
says nothing about which emails exist. Only failures are stored, and only for as long as they
can still matter; a successful sign-in forgets the failures of its email.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from switchboard.db.models import SignInAttempt
from switchboard.portal.clock_context import now
from switchboard.portal.errors import PortalError

WINDOW = timedelta(minutes=15)  # failures counted together, and the length of a lockout
EMAIL_LIMIT = 5
IP_LIMIT = 50  # higher: one office behind NAT shares an address
# A lockout starts at the failure that reached the limit, itself at most WINDOW old.
_KEEP = WINDOW * 2


class Throttled(PortalError):
    status = 429
    code = "too_many_sign_ins"

    def __init__(self, retry_after: timedelta) -> None:
        self.minutes = max(1, math.ceil(retry_after.total_seconds() / 60))
        unit = "minute" if self.minutes == 1 else "minutes"
        super().__init__(f"Too many failed sign-ins; try again in {self.minutes} {unit}.")
        self.retry_after_seconds = max(1, math.ceil(retry_after.total_seconds()))


@dataclass(frozen=True)
class Attempt:
    email_key: str
    client_ip: str

    @classmethod
    def of(cls, email: str, client_ip: str | None) -> Attempt:
        return cls(email_key=email.strip().casefold()[:254], client_ip=(client_ip or "-")[:64])


def _locked_until(times: Sequence[datetime], limit: int) -> datetime | None:
    """When the latest lockout ends: ``limit`` failures within WINDOW lock the email (or address)
    for WINDOW after the last of them."""
    until = None
    for last in range(limit - 1, len(times)):
        if times[last] - times[last - limit + 1] < WINDOW:
            until = times[last] + WINDOW
    return until


def _failures(
    session: Session, column: InstrumentedAttribute[str], value: str, since: datetime
) -> list[datetime]:
    query = (
        select(SignInAttempt.attempted_at)
        .where(column == value, SignInAttempt.attempted_at > since)
        .order_by(SignInAttempt.attempted_at, SignInAttempt.id)
    )
    return list(session.scalars(query))


def check(session: Session, attempt: Attempt) -> None:
    """Raise Throttled while the email or the client address is locked out."""
    stamp = now(session)
    since = stamp - _KEEP
    locks = [
        _locked_until(
            _failures(session, SignInAttempt.email_key, attempt.email_key, since), EMAIL_LIMIT
        ),
        _locked_until(
            _failures(session, SignInAttempt.client_ip, attempt.client_ip, since), IP_LIMIT
        ),
    ]
    until = max((lock for lock in locks if lock is not None), default=None)
    if until is not None and until > stamp:
        raise Throttled(until - stamp)


def record_failure(session: Session, attempt: Attempt) -> None:
    stamp = now(session)
    # Sweeping here keeps the table to the failures of the last half hour, without a scheduler.
    session.execute(delete(SignInAttempt).where(SignInAttempt.attempted_at <= stamp - _KEEP))
    session.add(
        SignInAttempt(email_key=attempt.email_key, client_ip=attempt.client_ip, attempted_at=stamp)
    )


def record_success(session: Session, attempt: Attempt) -> None:
    session.execute(delete(SignInAttempt).where(SignInAttempt.email_key == attempt.email_key))

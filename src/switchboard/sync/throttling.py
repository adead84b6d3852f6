"""Throttling that outlasts the Graph client's patience: the run stops and the account waits.

When Entra ID asks to wait longer than the client waits inside one request (GraphThrottled),
the run ends ``interrupted``: what it committed stays (chunks are their own transactions; delta
links are saved only with the last chunk, so none are ahead of the work), and the run records
when it may resume. Until then no run reads Entra ID for the account: the scheduler waits, a
notification round is skipped, a start by hand is told when to come back (waiting there too is
what Graph asks: requests sent while throttled extend the throttling). After that time the
scheduler starts the interrupted run again, without the backoff that follows failures.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.db.models import SyncRun
from switchboard.directory.waits import describe_wait
from switchboard.portal.clock_context import now
from switchboard.portal.errors import Conflict
from switchboard.sync import runs
from switchboard.sync.runs import RunStatus

# A longer Retry-After (or a date far ahead) is taken as a day: the daily safety net still runs.
RESUME_WAIT_MAX = timedelta(hours=24)


def resume_time(moment: datetime, wait_seconds: float) -> datetime:
    """When the account may sync again: the wait asked for, up to the next whole minute (the
    message names the minute, and nothing may start before the time it names)."""
    at = moment + min(timedelta(seconds=max(wait_seconds, 0.0)), RESUME_WAIT_MAX)
    if at.second or at.microsecond:
        at = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return at


def clock_time(at: datetime, today: datetime) -> str:
    """HH:MM UTC, with the date when it is not today."""
    return at.strftime("%H:%M UTC" if at.date() == today.date() else "%Y-%m-%d %H:%M UTC")


def interrupt(session: Session, run_id: int, wait_seconds: float) -> SyncRun:
    """End the run as interrupted, keeping the counts it committed, and record its resume time."""
    stamp = now(session)
    until = resume_time(stamp, wait_seconds)
    run = session.get(SyncRun, run_id)
    if run is not None and run.status != RunStatus.RUNNING:  # abandoned meanwhile: keep that
        return run
    counts = dict(run.counts) if run is not None else {}
    message = (
        f"Entra ID asked to wait {describe_wait(wait_seconds)} (throttled); the sync resumes "
        f"after {clock_time(until, stamp)}"
    )
    run = runs.finish(session, run_id, status=RunStatus.INTERRUPTED, counts=counts, message=message)
    run.resume_after = until
    return run


def throttled_until(session: Session, account_id: int) -> datetime | None:
    """The time before which the account must not read Entra ID, if that is still ahead."""
    until = session.scalar(
        select(func.max(SyncRun.resume_after)).where(SyncRun.account_id == account_id)
    )
    return until if until is not None and until > now(session) else None


def refuse_while_throttled(session: Session, account_id: int, slug: str) -> None:
    """A run started before the resume time is told when to come back (Conflict 'throttled');
    checked in the transaction that starts the run."""
    until = throttled_until(session, account_id)
    stamp = now(session)
    if until is not None:
        raise Conflict(
            f"Entra ID asked Switchboard to wait (throttled): '{slug}' syncs again on its own "
            f"after {clock_time(until, stamp)}; start a run by hand after that time",
            code="throttled",
        )

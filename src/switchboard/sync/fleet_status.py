"""The sync health of every account at once: what a provider's operators watch.

One row per account: its connection and last connection test, mode, last run and last
completed run, the last run's errors, held runs, just-in-time subscriptions, the next
scheduled run (the scheduler's own rule, ``schedule.due``), failing write-backs, and the
reasons, in words, why it needs attention. Read-only.

A fixed number of statements serves any number of accounts (no query per account); each one
reaches runs through the ``(account_id, number)`` index or the small index of held runs, so
the cost follows the number of accounts, not the length of their run history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from switchboard.db.models import (
    Account,
    DirectoryRegistration,
    DirectorySubscription,
    DirectorySyncState,
    SyncRun,
    SyncRunItem,
    WriteBackTask,
)
from switchboard.portal.actors import Actor, Role
from switchboard.portal.clock_context import now
from switchboard.sync import subscription_upkeep
from switchboard.sync.fleet_health import AccountHealth, NextRun, RunBrief, reasons
from switchboard.sync.policy import SyncPolicy
from switchboard.sync.runs import RunStatus
from switchboard.sync.schedule import DEFAULT_LEASE, RunRecord, SyncTimes, due

# The newest runs (by number) the schedule looks at: room for the 20 runs of its history
# once dry runs and single-user runs are left out.
HISTORY_NUMBERS = 30
HISTORY = 20
# Error messages of the last run shown per account.
FIRST_ERRORS = 3
# A completed run: it did its work (a partial one failed for some users only).
COMPLETED = (RunStatus.SUCCEEDED.value, RunStatus.PARTIAL.value)


def fleet(
    session: Session,
    actor: Actor,
    *,
    lease: timedelta = DEFAULT_LEASE,
    only: Account | None = None,
) -> list[AccountHealth]:
    """Every account the actor may read (a provider admin: all; others: their own), those
    needing attention first. ``only``: that one account (after the same access check)."""
    query = select(Account).where(Account.status != "terminated").order_by(Account.slug)
    if only is not None:
        actor.require_read(only.id)
        query = query.where(Account.id == only.id)
    elif actor.role is not Role.PROVIDER_ADMIN:
        query = query.where(Account.id == actor.account_id)
    accounts = list(session.scalars(query))
    if not accounts:
        return []
    ids = [a.id for a in accounts]
    stamp = now(session)
    rows = {a.id: AccountHealth(a.id, a.slug, a.name) for a in accounts}
    registrations = {
        r.account_id: r
        for r in session.scalars(
            select(DirectoryRegistration).where(DirectoryRegistration.account_id.in_(ids))
        )
    }
    _connections(rows, registrations)
    last = _newest_runs(session, ids, None)
    completed = _newest_runs(session, ids, COMPLETED)
    for account_id, row in rows.items():
        if account_id in last:
            row.last_run = _brief(last[account_id], stamp)
        if account_id in completed:
            row.last_success = _brief(completed[account_id], stamp)
    _errors(session, rows, last)
    _held(session, rows, ids, stamp)
    _subscriptions(session, rows, accounts, registrations, stamp)
    _schedule(session, rows, accounts, registrations, stamp, lease)
    for account_id, failing in session.execute(
        select(WriteBackTask.account_id, func.count())
        .where(WriteBackTask.status == "failed", WriteBackTask.account_id.in_(ids))
        .group_by(WriteBackTask.account_id)
    ):
        rows[account_id].writebacks_failing = int(failing)
    for row in rows.values():
        row.reasons = reasons(row, registrations.get(row.account_id), stamp)
    return sorted(rows.values(), key=lambda r: (not r.needs_attention, -len(r.reasons), r.slug))


def _connections(
    rows: dict[int, AccountHealth], registrations: dict[int, DirectoryRegistration]
) -> None:
    for account_id, registration in registrations.items():
        row = rows[account_id]
        row.connected = True
        row.mode = _policy(registration).mode
        test: dict[str, Any] | None = registration.last_test
        if test is not None:
            row.test_ok = bool(test.get("ok"))
            row.test_message = str(test.get("message") or "") or None


def _policy(registration: DirectoryRegistration) -> SyncPolicy:
    return SyncPolicy.model_validate(registration.policy or {})


def _scheduled(*extra: ColumnElement[bool]) -> ColumnElement[bool]:
    """The runs the schedule counts: not dry runs, not single-user syncs."""
    return and_(SyncRun.dry_run.is_(False), SyncRun.kind != "single", *extra)


def _newest_runs(
    session: Session, ids: Sequence[int], statuses: Sequence[str] | None
) -> dict[int, SyncRun]:
    """Each account's newest scheduled-kind run (with one of ``statuses``): one probe of the
    (account, number) index per account, inside one statement."""
    conditions = [SyncRun.account_id == Account.id, _scheduled()]
    if statuses is not None:
        conditions.append(SyncRun.status.in_(statuses))
    top = (
        select(
            Account.id.label("account_id"),
            select(func.max(SyncRun.number)).where(*conditions).scalar_subquery().label("top"),
        )
        .where(Account.id.in_(ids))
        .subquery()
    )
    found = session.scalars(
        select(SyncRun).join(
            top, and_(SyncRun.account_id == top.c.account_id, SyncRun.number == top.c.top)
        )
    )
    return {r.account_id: r for r in found}


def _brief(run: SyncRun, stamp: datetime) -> RunBrief:
    since = run.finished_at or run.started_at
    return RunBrief(
        number=run.number,
        kind=run.kind,
        trigger=run.trigger,
        status=run.status,
        started_at=run.started_at,
        finished_at=run.finished_at,
        message=run.message,
        age_seconds=max(int((stamp - since).total_seconds()), 0),
    )


def _errors(session: Session, rows: dict[int, AccountHealth], last: dict[int, SyncRun]) -> None:
    """The last run's failed users (counted by the run itself) and its first few messages."""
    by_run = {run.id: account_id for account_id, run in last.items()}
    for account_id, run in last.items():
        counts = run.counts or {}
        rows[account_id].errors = int(counts.get("failed", 0)) + int(counts.get("error", 0))
    if not by_run:
        return
    ranked = (
        select(
            SyncRunItem.run_id,
            SyncRunItem.username,
            SyncRunItem.directory_id,
            SyncRunItem.message,
            func.row_number()
            .over(partition_by=SyncRunItem.run_id, order_by=SyncRunItem.id)
            .label("rank"),
        )
        .where(SyncRunItem.run_id.in_(list(by_run)), SyncRunItem.state == "failed")
        .subquery()
    )
    for run_id, username, directory_id, message, _rank in session.execute(
        select(ranked).where(ranked.c.rank <= FIRST_ERRORS).order_by(ranked.c.run_id, ranked.c.rank)
    ):
        who = username or directory_id
        text = message or "failed"
        rows[by_run[run_id]].first_errors.append(f"{who}: {text}" if who else text)


def _held(
    session: Session, rows: dict[int, AccountHealth], ids: Sequence[int], at: datetime
) -> None:
    for account_id, count, oldest, since in session.execute(
        select(
            SyncRun.account_id,
            func.count(),
            func.min(SyncRun.number),
            func.min(func.coalesce(SyncRun.finished_at, SyncRun.started_at)),
        )
        .where(
            SyncRun.status == RunStatus.HELD.value,
            SyncRun.dry_run.is_(False),
            SyncRun.account_id.in_(ids),
        )
        .group_by(SyncRun.account_id)
    ):
        row = rows[account_id]
        row.held_runs = int(count)
        row.oldest_held_number = int(oldest)
        row.oldest_held_age_seconds = max(int((at - since).total_seconds()), 0)


def _subscriptions(
    session: Session,
    rows: dict[int, AccountHealth],
    accounts: Sequence[Account],
    registrations: dict[int, DirectoryRegistration],
    stamp: datetime,
) -> None:
    jit = [
        a.id
        for a in accounts
        if subscription_upkeep.wants_subscriptions(a, registrations.get(a.id))
    ]
    if not jit:
        return
    held: dict[int, list[DirectorySubscription]] = defaultdict(list)
    for sub in session.scalars(
        select(DirectorySubscription).where(DirectorySubscription.account_id.in_(jit))
    ):
        held[sub.account_id].append(sub)
    for account_id in jit:
        row, mine = rows[account_id], held.get(account_id, [])
        row.subscriptions_missing = sorted(
            set(subscription_upkeep.RESOURCES) - {s.resource for s in mine}
        )
        soonest = min((s.expires_at for s in mine), default=None)
        row.subscriptions_expire_at = soonest
        if soonest is not None and soonest <= stamp:
            row.subscriptions = "expired"
        elif row.subscriptions_missing:
            row.subscriptions = "missing"
        elif soonest is not None and soonest - stamp < subscription_upkeep.RENEW_WITHIN:
            row.subscriptions = "expiring"
        else:
            row.subscriptions = "ok"


def _schedule(
    session: Session,
    rows: dict[int, AccountHealth],
    accounts: Sequence[Account],
    registrations: dict[int, DirectoryRegistration],
    stamp: datetime,
    lease: timedelta,
) -> None:
    """The next run as the scheduler decides it (``schedule.due``), from the same facts."""
    connected = [a for a in accounts if a.id in registrations]
    if not connected:
        return
    ids = [a.id for a in connected]
    states = {
        s.account_id: SyncTimes(s.last_full_at, s.last_delta_at, s.delta_chain_started_at)
        for s in session.scalars(
            select(DirectorySyncState).where(DirectorySyncState.account_id.in_(ids))
        )
    }
    top = (
        select(
            Account.id.label("account_id"),
            select(func.max(SyncRun.number))
            .where(SyncRun.account_id == Account.id)
            .scalar_subquery()
            .label("top"),
        )
        .where(Account.id.in_(ids))
        # OFFSET 0 keeps PostgreSQL from folding the subquery into the join, which would
        # compute each account's newest number once per run instead of once per account.
        .offset(0)
        .subquery()
    )
    history: dict[int, list[RunRecord]] = defaultdict(list)
    throttled: dict[int, datetime] = {}
    # Columns, not ORM objects: tens of thousands of rows for a large fleet.
    for r in session.execute(
        select(
            SyncRun.account_id,
            SyncRun.trigger,
            SyncRun.kind,
            SyncRun.status,
            SyncRun.dry_run,
            SyncRun.started_at,
            SyncRun.finished_at,
            SyncRun.heartbeat_at,
            SyncRun.resume_after,
        )
        .join(
            top,
            and_(
                SyncRun.account_id == top.c.account_id,
                SyncRun.number > top.c.top - HISTORY_NUMBERS,
            ),
        )
        .order_by(SyncRun.account_id, SyncRun.number.desc())
    ):
        if r.resume_after is not None:
            # Like ``throttling.throttled_until``, over the recent runs (a wait lasts a day
            # at most, and no run starts before it ends).
            known = throttled.get(r.account_id)
            throttled[r.account_id] = max(known, r.resume_after) if known else r.resume_after
        if r.dry_run or r.kind == "single" or len(history[r.account_id]) >= HISTORY:
            continue
        history[r.account_id].append(
            RunRecord(
                r.trigger,
                r.kind,
                r.status,
                r.started_at,
                r.finished_at,
                heartbeat_at=r.heartbeat_at,
                resume_after=r.resume_after,
            )
        )
    for account in connected:
        until = throttled.get(account.id)
        decision = due(
            stamp,
            _policy(registrations[account.id]),
            states.get(account.id),
            history.get(account.id, []),
            lease=lease,
            throttled_until=until if until is not None and until > stamp else None,
        )
        rows[account.id].next_run = NextRun(
            kind=decision.kind if decision.is_due else "none",
            at=decision.next_at,
            due_now=decision.is_due,
            reason=decision.reason,
        )

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
from dataclasses import dataclass, field
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
from switchboard.sync.cron import parse_cron
from switchboard.sync.policy import SyncPolicy
from switchboard.sync.runs import RunStatus
from switchboard.sync.schedule import DAILY_DELTA, DEFAULT_LEASE, RunRecord, SyncTimes, due

# The newest runs (by number) the schedule looks at: enough for the 20 runs of its history
# once dry runs and single-user runs are left out.
HISTORY_NUMBERS = 50
HISTORY = 20
# Error messages of the last run shown per account.
FIRST_ERRORS = 3
# A completed run: it did its work (a partial one failed for some users only).
COMPLETED = (RunStatus.SUCCEEDED.value, RunStatus.PARTIAL.value)
# Stale: no completed run for twice the mode's interval plus this margin.
STALE_MARGIN = timedelta(hours=1)


@dataclass(frozen=True)
class RunBrief:
    number: int
    kind: str
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    message: str | None
    age_seconds: int  # since it finished (or started, while it runs)


@dataclass(frozen=True)
class NextRun:
    kind: str  # full, delta, or none when nothing is scheduled
    at: datetime | None  # None: nothing will be due (e.g. terminated)
    due_now: bool
    reason: str


@dataclass
class AccountHealth:
    account_id: int
    slug: str
    name: str
    connected: bool = False
    mode: str | None = None
    # The last connection test: None when never tested.
    test_ok: bool | None = None
    test_message: str | None = None
    last_run: RunBrief | None = None
    last_success: RunBrief | None = None
    errors: int = 0
    first_errors: list[str] = field(default_factory=list)
    held_runs: int = 0
    oldest_held_number: int | None = None
    oldest_held_age_seconds: int | None = None
    # jit accounts only: "ok", "missing", "expiring" (within a day) or "expired"; else None.
    subscriptions: str | None = None
    subscriptions_missing: list[str] = field(default_factory=list)
    subscriptions_expire_at: datetime | None = None
    next_run: NextRun | None = None
    writebacks_failing: int = 0
    reasons: list[str] = field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        return bool(self.reasons)


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
        row.reasons = _reasons(row, registrations.get(row.account_id), stamp)
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
        .subquery()
    )
    history: dict[int, list[RunRecord]] = defaultdict(list)
    throttled: dict[int, datetime] = {}
    for r in session.scalars(
        select(SyncRun)
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


def stale_after(policy: SyncPolicy, stamp: datetime) -> timedelta:
    """How long an account may go without a completed run: twice the interval its mode runs
    at (batched: its schedule; every mode: the daily safety net), plus a margin."""
    interval = DAILY_DELTA
    if policy.mode == "batched" and policy.schedule_minutes:
        interval = timedelta(minutes=policy.schedule_minutes)
    elif policy.mode == "batched" and policy.schedule_cron:
        schedule = parse_cron(policy.schedule_cron)
        first = schedule.next_after(stamp)
        interval = min(schedule.next_after(first) - first, DAILY_DELTA)
    return 2 * interval + STALE_MARGIN


def _age(seconds: int) -> str:
    if seconds < 7200:
        return f"{max(seconds // 60, 1)} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _reasons(
    row: AccountHealth, registration: DirectoryRegistration | None, stamp: datetime
) -> list[str]:
    """Why the account needs an operator, in words; empty when it does not."""
    if registration is None:
        return []  # not connected: nothing of the directory sync to watch
    reasons: list[str] = []
    if row.test_ok is False:
        detail = f": {row.test_message}" if row.test_message else ""
        reasons.append(f"the last connection test failed{detail}")
    if row.last_run is not None and row.last_run.status == RunStatus.FAILED.value:
        reasons.append(f"the last run (#{row.last_run.number}) failed")
    if row.held_runs:
        age = _age(row.oldest_held_age_seconds or 0)
        reasons.append(
            f"run #{row.oldest_held_number} waits for approval (for {age})"
            if row.held_runs == 1
            else f"{row.held_runs} runs wait for approval (the oldest, #{row.oldest_held_number},"
            f" for {age})"
        )
    limit = stale_after(_policy(registration), stamp)
    if row.last_success is not None:
        if row.last_success.age_seconds > limit.total_seconds():
            reasons.append(
                f"stale: no completed run for {_age(row.last_success.age_seconds)}"
                f" (its mode expects one within {_age(int(limit.total_seconds()))})"
            )
    elif stamp - registration.created_at > limit:
        connected = int((stamp - registration.created_at).total_seconds())
        reasons.append(f"stale: no completed run since it was connected {_age(connected)} ago")
    if row.subscriptions == "missing":
        reasons.append(
            f"just-in-time subscriptions missing ({', '.join(row.subscriptions_missing)}):"
            " changes are only picked up by the daily safety net"
        )
    elif row.subscriptions == "expired":
        reasons.append(
            "just-in-time subscriptions expired: changes are only picked up by the daily safety net"
        )
    elif row.subscriptions == "expiring":
        reasons.append("just-in-time subscriptions expire within 24 hours and were not renewed")
    if row.writebacks_failing:
        reasons.append(f"{row.writebacks_failing} write-back(s) to Entra ID failed")
    return reasons

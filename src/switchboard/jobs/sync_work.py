"""The scheduled work both runners share: which accounts are due, and running one account.

The embedded scheduler (threads) and the queue workers (procrastinate) call the same
functions, so the two deployments decide and run alike.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from switchboard.db.models import (
    Account,
    DirectoryRegistration,
    DirectorySubscription,
    DirectorySyncState,
    SyncRun,
    WriteBackTask,
)
from switchboard.jobs.scan_cache import ScanCache
from switchboard.portal.clock_context import now
from switchboard.portal.errors import PortalError
from switchboard.portal.users import sync_actor
from switchboard.scim import request_log as scim_request_log
from switchboard.sync import run_retention, subscription_upkeep, writeback
from switchboard.sync.engine import RunSummary, SyncEngine
from switchboard.sync.policy import SyncPolicy
from switchboard.sync.ports import SyncServices
from switchboard.sync.schedule import DEFAULT_LEASE, Decision, RunRecord, SyncTimes, due

log = logging.getLogger("switchboard.worker")
# Enough history for the backoff to see a long streak of failures.
HISTORY = 20


@dataclass(frozen=True)
class AccountDecision:
    account_id: int
    slug: str
    mode: str
    decision: Decision


@dataclass
class TickReport:
    started: list[AccountDecision] = field(default_factory=list)
    not_due: list[AccountDecision] = field(default_factory=list)
    # Due, but work for the account is already queued or running.
    already_busy: list[AccountDecision] = field(default_factory=list)
    writebacks: list[str] = field(default_factory=list)
    # Accounts whose change-notification subscriptions were handed to the runner.
    subscriptions: list[str] = field(default_factory=list)
    # The run log's daily prune was handed to the runner.
    pruning: bool = False


_runs = SyncRun.__table__.c
# Built once: the scheduler runs these for every connected account on every tick.
_HISTORY = (
    select(
        _runs.trigger,
        _runs.kind,
        _runs.status,
        _runs.started_at,
        _runs.finished_at,
        _runs.heartbeat_at,
        _runs.resume_after,
    )
    .where(
        _runs.account_id == bindparam("account_id"),
        _runs.dry_run.is_(False),
        _runs.kind != "single",
    )
    .order_by(_runs.started_at.desc(), _runs.id.desc())
    .limit(HISTORY)
)
# A run interrupted by throttling refuses every later start (dry runs and single-user runs
# too) until its resume time, so the wait that still matters is on one of the newest runs.
_NEWEST_WAITS = (
    select(_runs.resume_after)
    .where(_runs.account_id == bindparam("account_id"))
    .order_by(_runs.started_at.desc(), _runs.id.desc())
    .limit(3)
    .subquery()
)
_WAIT = select(func.max(_NEWEST_WAITS.c.resume_after))


def _times(session: Session, account_ids: Sequence[int] | None = None) -> dict[int, SyncTimes]:
    st = DirectorySyncState.__table__.c
    query = select(st.account_id, st.last_full_at, st.last_delta_at, st.delta_chain_started_at)
    if account_ids is not None:
        query = query.where(st.account_id.in_(account_ids))
    return {row[0]: SyncTimes(row[1], row[2], row[3]) for row in session.execute(query)}


def decide(
    session: Session,
    account: Account,
    registration: DirectoryRegistration,
    *,
    lease: timedelta = DEFAULT_LEASE,
) -> Decision:
    """What is due for one account now."""
    return decide_from(
        session,
        account.id,
        _policy(registration.policy),
        terminated=account.status == "terminated",
        times=_times(session, [account.id]).get(account.id),
        lease=lease,
    )


def decide_from(
    session: Session,
    account_id: int,
    policy: SyncPolicy,
    *,
    terminated: bool,
    times: SyncTimes | None,
    lease: timedelta = DEFAULT_LEASE,
) -> Decision:
    """What is due for the account now; a few indexed reads (Core rows, no ORM objects), as
    the scheduler asks this of every connected account on every tick."""
    stamp = now(session)
    history = [
        RunRecord(
            r.trigger,
            r.kind,
            r.status,
            r.started_at,
            r.finished_at,
            heartbeat_at=r.heartbeat_at,
            resume_after=r.resume_after,
        )
        for r in session.execute(_HISTORY, {"account_id": account_id})
    ]
    throttled = session.scalar(_WAIT, {"account_id": account_id})
    return due(
        stamp,
        policy,
        times,
        history,
        terminated=terminated,
        lease=lease,
        throttled_until=throttled if throttled is not None and throttled > stamp else None,
    )


def _lease(services: SyncServices) -> timedelta:
    return timedelta(seconds=services.settings.run_lease_seconds)


def _policy(raw: dict[str, Any] | None) -> SyncPolicy:
    return SyncPolicy.model_validate(raw or {})


def scan(services: SyncServices, cache: ScanCache | None = None) -> list[AccountDecision]:
    """Every connected account with what is due for it now. With ``cache`` (kept from tick to
    tick by the scheduler), accounts where nothing changed keep their last decision."""
    a, reg = Account.__table__.c, DirectoryRegistration.__table__.c
    with services.unit_of_work() as session:
        stamp = now(session)
        rows = session.execute(
            select(a.id, a.slug, a.status, reg.policy)
            .join(DirectoryRegistration.__table__, reg.account_id == a.id)
            .order_by(a.id)
        ).all()
        times = _times(session)
        full = cache is None or cache.full_scan_due()
        changed: set[int] = set()
        watermark = 0
        if cache is not None:
            if full:
                watermark = session.scalar(select(func.max(_runs.id))) or 0
            else:
                changed, watermark = _new_runs(session, cache.watermark)
        decisions: list[AccountDecision] = []
        for account_id, slug, status, policy in rows:
            inputs = (status, policy, times.get(account_id))
            decision = (
                None
                if cache is None or full or account_id in changed
                else cache.reusable(account_id, inputs, stamp)
            )
            scope = _policy(policy)
            if decision is None and not scope.groups and not scope.all_users:
                # Connected, groups not chosen yet: nothing may sync (see Run.start).
                decision = Decision("none", "no groups chosen yet")
            if decision is None:
                decision = decide_from(
                    session,
                    account_id,
                    scope,
                    terminated=status == "terminated",
                    times=times.get(account_id),
                    lease=_lease(services),
                )
            if cache is not None:
                cache.entries[account_id] = (inputs, decision)
            mode = str((policy or {}).get("mode", "on_demand"))
            decisions.append(AccountDecision(account_id, slug, mode, decision))
    if cache is not None:
        cache.watermark = watermark
        if full:
            cache.full_at = time.monotonic()
            cache.entries = {d.account_id: cache.entries[d.account_id] for d in decisions}
    return decisions


def _new_runs(session: Session, watermark: int) -> tuple[set[int], int]:
    """Accounts with runs above ``watermark`` (a range of the primary key), and the new mark."""
    rows = session.execute(
        select(_runs.account_id, func.max(_runs.id))
        .where(_runs.id > watermark)
        .group_by(_runs.account_id)
    ).all()
    return {row[0] for row in rows}, max((row[1] for row in rows), default=watermark)


def decision_for(services: SyncServices, slug: str) -> AccountDecision | None:
    return next((d for d in scan(services) if d.slug == slug), None)


def due_writebacks(services: SyncServices) -> list[tuple[int, str]]:
    """Two-way accounts with write-backs whose retry time has come."""
    with services.unit_of_work() as session:
        stamp = now(session)
        rows = session.execute(
            select(Account.id, Account.slug, DirectoryRegistration.policy)
            .join(DirectoryRegistration, DirectoryRegistration.account_id == Account.id)
            .where(
                Account.status != "terminated",
                select(WriteBackTask.id)
                .where(
                    WriteBackTask.account_id == Account.id,
                    WriteBackTask.status == "pending",
                    WriteBackTask.next_attempt_at <= stamp,
                )
                .exists(),
            )
            .order_by(Account.id)
        ).all()
    return [
        (account_id, slug)
        for account_id, slug, policy in rows
        if SyncPolicy.model_validate(policy or {}).direction == "two_way"
    ]


def subscription_work(services: SyncServices) -> list[tuple[int, str]]:
    """Accounts whose change-notification subscriptions need Graph: jit accounts missing one
    (when SWITCHBOARD_PUBLIC_URL says where notifications go) or holding one that expires
    within a day, and accounts holding subscriptions they no longer want."""
    can_create = services.settings.public_url is not None
    with services.unit_of_work() as session:
        soon = now(session) + subscription_upkeep.RENEW_WITHIN
        held: dict[int, list[DirectorySubscription]] = {}
        for sub in session.scalars(select(DirectorySubscription)):
            held.setdefault(sub.account_id, []).append(sub)
        rows = session.execute(
            select(Account, DirectoryRegistration)
            .outerjoin(DirectoryRegistration, DirectoryRegistration.account_id == Account.id)
            .where(
                (DirectoryRegistration.id.is_not(None))
                | Account.id.in_(select(DirectorySubscription.account_id))
            )
            .order_by(Account.id)
        ).all()
        due: list[tuple[int, str]] = []
        for account, registration in rows:
            mine = held.get(account.id, [])
            if not subscription_upkeep.wants_subscriptions(account, registration):
                if mine:
                    due.append((account.id, account.slug))
                continue
            missing = set(subscription_upkeep.RESOURCES) - {s.resource for s in mine}
            expiring = any(s.expires_at <= soon for s in mine)
            if expiring or (missing and can_create):
                due.append((account.id, account.slug))
        return due


def maintain_subscriptions(services: SyncServices, account_id: int) -> None:
    report = subscription_upkeep.maintain(services, account_id)
    if report.changed or report.errors:
        log.info(
            "%s: subscriptions created %s, renewed %s, re-created %s, removed %s%s",
            report.slug,
            report.created,
            report.renewed,
            report.recreated,
            report.removed,
            f"; problems: {'; '.join(report.errors)}" if report.errors else "",
        )


def run_sync(services: SyncServices, account_id: int, kind: str) -> RunSummary | None:
    """Run the account's scheduled sync if it is still due (a queued job may be late).

    Returns None when nothing ran: no longer due, or another run got there first.
    """
    with services.unit_of_work() as session:
        account = session.get(Account, account_id)
        registration = session.scalar(
            select(DirectoryRegistration).where(DirectoryRegistration.account_id == account_id)
        )
        if account is None or registration is None:
            log.info("account %s is gone or disconnected; nothing to sync", account_id)
            return None
        decision = decide(session, account, registration, lease=_lease(services))
        slug, actor = account.slug, sync_actor(account)
    if not decision.is_due:
        log.info("%s: no longer due (%s)", slug, decision.reason)
        return None
    run_kind = "full" if "full" in (kind, decision.kind) else "delta"
    engine = SyncEngine(services, services.directory_factory())
    try:
        if run_kind == "full":
            summary = engine.reconcile(actor, slug, trigger="schedule")
        else:
            summary = engine.delta(actor, slug, trigger="schedule")
    except PortalError as exc:  # run_in_progress, not_connected, account_terminated
        log.info("%s: scheduled %s not started: %s", slug, run_kind, exc.message)
        return None
    log.info(
        "%s: scheduled %s run %s %s (%s)",
        slug,
        summary.kind,
        summary.run_id,
        summary.status,
        decision.reason,
    )
    return summary


def push_writebacks(services: SyncServices, account_id: int) -> writeback.WriteBackReport | None:
    with services.unit_of_work() as session:
        account = session.get(Account, account_id)
        if account is None:
            return None
        slug, actor = account.slug, sync_actor(account)
    try:
        report = writeback.process(services, actor, slug)
    except PortalError as exc:
        log.info("%s: write-backs not pushed: %s", slug, exc.message)
        return None
    log.info(
        "%s: write-backs written %d, failed %d, retrying %d",
        slug,
        report.written,
        report.failed,
        report.retrying,
    )
    return report


def prune_run_log(services: SyncServices) -> run_retention.Pruned:
    """Prune runs, and SCIM request-log entries, older than SWITCHBOARD_RUN_RETENTION_DAYS
    (daily, from either scheduler)."""
    days = services.settings.run_retention_days
    pruned = run_retention.prune(services, retention_days=days)
    scim_request_log.prune(services, retention_days=days)
    return pruned


def describe(decision: AccountDecision) -> dict[str, object]:
    """One row for `switchboard schedule show`."""
    d = decision.decision
    return {
        "account": decision.slug,
        "mode": decision.mode,
        "due": d.kind,
        "next_at": d.next_at.isoformat() if d.next_at else None,
        "reason": d.reason,
    }

"""The scheduled work both runners share: which accounts are due, and running one account.

The embedded scheduler (threads) and the queue workers (procrastinate) call the same
functions, so the two deployments decide and run alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.db.models import (
    Account,
    DirectoryRegistration,
    DirectorySubscription,
    DirectorySyncState,
    SyncRun,
    WriteBackTask,
)
from switchboard.portal.clock_context import now
from switchboard.portal.errors import PortalError
from switchboard.portal.users import sync_actor
from switchboard.sync import run_retention, subscription_upkeep, throttling, writeback
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


def decide(
    session: Session,
    account: Account,
    registration: DirectoryRegistration,
    *,
    lease: timedelta = DEFAULT_LEASE,
) -> Decision:
    state = session.get(DirectorySyncState, account.id)
    times = (
        SyncTimes(state.last_full_at, state.last_delta_at, state.delta_chain_started_at)
        if state is not None
        else None
    )
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
        for r in session.scalars(
            select(SyncRun)
            .where(
                SyncRun.account_id == account.id,
                SyncRun.dry_run.is_(False),
                SyncRun.kind != "single",
            )
            .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
            .limit(HISTORY)
        )
    ]
    policy = SyncPolicy.model_validate(registration.policy or {})
    return due(
        now(session),
        policy,
        times,
        history,
        terminated=account.status == "terminated",
        lease=lease,
        throttled_until=throttling.throttled_until(session, account.id),
    )


def _lease(services: SyncServices) -> timedelta:
    return timedelta(seconds=services.settings.run_lease_seconds)


def scan(services: SyncServices) -> list[AccountDecision]:
    """Every connected account with what is due for it now."""
    with services.unit_of_work() as session:
        rows = session.execute(
            select(Account, DirectoryRegistration)
            .join(DirectoryRegistration, DirectoryRegistration.account_id == Account.id)
            .order_by(Account.id)
        ).all()
        return [
            AccountDecision(
                account.id,
                account.slug,
                str((registration.policy or {}).get("mode", "on_demand")),
                decide(session, account, registration, lease=_lease(services)),
            )
            for account, registration in rows
        ]


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
    """Prune runs older than SWITCHBOARD_RUN_RETENTION_DAYS (daily, from either scheduler)."""
    return run_retention.prune(services, retention_days=services.settings.run_retention_days)


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

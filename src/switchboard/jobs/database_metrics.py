"""The figures a Prometheus scrape reads from the database (a prometheus-client Collector).

Events are counted where they happen (``switchboard.metrics``); what is a state rather than an
event is read here at scrape time: how long each account has gone without a completed run,
held runs, the write-back queue, subscriptions about to expire, live schedulers and workers,
and procrastinate's job queue on PostgreSQL.

The queries are aggregates over small tables or index lookups, but for held runs (a scan of
sync_runs by status, kept small by run-log retention). On PostgreSQL each statement has a
timeout, and the whole read runs under a Deadline, so a database that does not answer costs
a scrape at most SCRAPE_TIMEOUT seconds. When the database cannot be read, the families are
exposed without samples and ``switchboard_metrics_database_up`` is 0: a scrape never fails for it.

``switchboard_readiness_check`` runs /readyz's checks (``jobs.readiness``), so an alert can
follow readiness without a probe of its own.

The per-account series are bounded: at most ACCOUNT_SERIES_MAX accounts, the stalest first
(``switchboard_sync_accounts`` says how many there are in all).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from switchboard.db.models import (
    Account,
    DirectoryRegistration,
    DirectorySubscription,
    SyncRun,
    WriteBackTask,
)
from switchboard.jobs.deadline import Deadline
from switchboard.jobs.heartbeat import Role, alive
from switchboard.jobs.queue import QUEUE_SCHEMA
from switchboard.jobs.readiness import run_checks
from switchboard.portal.clock_context import now
from switchboard.sync.ports import Transactions

log = logging.getLogger("switchboard.metrics")

ACCOUNT_SERIES_MAX = 500
# Within Prometheus' default scrape timeout (10 s): the reads get SCRAPE_TIMEOUT in all, each
# statement STATEMENT_TIMEOUT_MS (PostgreSQL).
SCRAPE_TIMEOUT = 5.0
STATEMENT_TIMEOUT_MS = 2000
EXPIRING_WITHIN = timedelta(hours=24)
# A run that carried out its plan; "partial" counts (a few users the directory describes in a
# way the portal refuses must not make the account look stale forever).
COMPLETED = ("succeeded", "partial")
WRITEBACK_STATES = ("pending", "done", "failed")
JOB_STATUSES = ("todo", "doing", "succeeded", "failed", "cancelled", "aborting", "aborted")
ROLES: tuple[Role, ...] = ("scheduler", "worker")


def empty_families() -> dict[str, GaugeMetricFamily]:
    """Every family the collector exposes, without samples."""

    def gauge(name: str, doc: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, doc, labels=list(labels))

    return {
        f.name: f
        for f in (
            gauge(
                "switchboard_metrics_database_up",
                "1 when this scrape could read the database, else 0 (the figures below are absent)",
            ),
            gauge(
                "switchboard_readiness_check",
                "1 when the /readyz check passes, else 0 (database, migrations, background)",
                ["check"],
            ),
            gauge("switchboard_sync_accounts", "Accounts connected to Entra ID (not terminated)"),
            gauge(
                "switchboard_sync_account_last_success_age_seconds",
                "Seconds since the account's last completed (succeeded or partial) run, or since"
                f" it was connected if it has none; the {ACCOUNT_SERIES_MAX} stalest accounts",
                ["account"],
            ),
            gauge(
                "switchboard_sync_account_last_run_failed",
                "1 when the account's latest finished run failed, else 0; same accounts as above",
                ["account"],
            ),
            gauge("switchboard_sync_held_runs", "Runs waiting for an admin's approval"),
            gauge(
                "switchboard_sync_held_run_oldest_age_seconds",
                "Seconds the oldest held run has waited for approval (0 when none waits)",
            ),
            gauge(
                "switchboard_writeback_tasks",
                "Two-way write-backs to Entra ID, by state (pending, done, failed)",
                ["state"],
            ),
            gauge(
                "switchboard_subscriptions",
                "Graph change-notification subscriptions of just-in-time accounts",
            ),
            gauge(
                "switchboard_subscriptions_expiring_soon",
                "Subscriptions that expire within 24 hours (renewed a day ahead: a lasting"
                " non-zero value means renewal fails)",
            ),
            gauge(
                "switchboard_background_processes",
                "Schedulers and queue workers with a fresh heartbeat, by role",
                ["role"],
            ),
            gauge(
                "switchboard_job_queue_jobs",
                "Jobs in procrastinate's queue by status (PostgreSQL only)",
                ["status"],
            ),
        )
    }


@dataclass(frozen=True)
class AccountFreshness:
    slug: str
    age_seconds: float
    last_run_failed: bool


class DatabaseCollector(Collector):
    """Reads the figures through ``tx.unit_of_work()`` on every scrape."""

    def __init__(self, tx: Transactions, *, timeout: float = SCRAPE_TIMEOUT) -> None:
        self.tx = tx
        self._deadline: Deadline[dict[str, GaugeMetricFamily]] = Deadline(
            timeout, name="switchboard-metrics"
        )

    def describe(self) -> Iterable[Metric]:
        # Without describe(), registering would run a scrape's queries once to learn the names.
        return list(empty_families().values())

    def wait(self, timeout: float) -> bool:
        """Wait for a read still running (tests, shutdown); True when none is left."""
        return self._deadline.wait(timeout)

    def collect(self) -> Iterable[Metric]:
        try:
            families = self._deadline.run(self._gather)
        except Exception as exc:  # the readiness checks report their own failures
            log.warning("metrics: the scrape failed: %s", type(exc).__name__)
            families = None
        if families is None:  # the database did not answer in time
            families = empty_families()
            families["switchboard_metrics_database_up"].add_metric([], 0)
            families["switchboard_readiness_check"].add_metric(["database"], 0)
        return list(families.values())

    def _gather(self) -> dict[str, GaugeMetricFamily]:
        families = empty_families()
        for check in run_checks(self.tx, timeout=STATEMENT_TIMEOUT_MS / 1000):
            passed = 1 if check.status == "pass" else 0
            families["switchboard_readiness_check"].add_metric([check.name], passed)
        try:
            self._read(families)
        except Exception as exc:  # any database failure: the families stay without samples
            log.warning("metrics: the database could not be read: %s", type(exc).__name__)
            readiness = families["switchboard_readiness_check"]
            families = empty_families()
            families["switchboard_readiness_check"] = readiness
            families["switchboard_metrics_database_up"].add_metric([], 0)
        else:
            families["switchboard_metrics_database_up"].add_metric([], 1)
        return families

    def _read(self, families: dict[str, GaugeMetricFamily]) -> None:
        postgres = not self.tx.is_sqlite()
        with self.tx.unit_of_work() as session:
            if postgres:
                session.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
            stamp = now(session)
            total, accounts = account_freshness(session, stamp)
            families["switchboard_sync_accounts"].add_metric([], total)
            for a in accounts:
                families["switchboard_sync_account_last_success_age_seconds"].add_metric(
                    [a.slug], a.age_seconds
                )
                families["switchboard_sync_account_last_run_failed"].add_metric(
                    [a.slug], 1 if a.last_run_failed else 0
                )
            held, oldest = held_runs(session, stamp)
            families["switchboard_sync_held_runs"].add_metric([], held)
            families["switchboard_sync_held_run_oldest_age_seconds"].add_metric([], oldest)
            for state, count in writeback_states(session).items():
                families["switchboard_writeback_tasks"].add_metric([state], count)
            subscriptions, expiring = subscription_expiry(session, stamp)
            families["switchboard_subscriptions"].add_metric([], subscriptions)
            families["switchboard_subscriptions_expiring_soon"].add_metric([], expiring)
            for role in ROLES:
                live = len(alive(session, role))
                families["switchboard_background_processes"].add_metric([role], live)
            if postgres:
                for status, count in job_queue(session).items():
                    families["switchboard_job_queue_jobs"].add_metric([status], count)


def _age(stamp: datetime, since: datetime | None) -> float:
    return max((stamp - since).total_seconds(), 0.0) if since is not None else 0.0


def account_freshness(session: Session, stamp: datetime) -> tuple[int, list[AccountFreshness]]:
    """(connected accounts, the ACCOUNT_SERIES_MAX stalest with their age and last outcome)."""
    real = SyncRun.account_id == Account.id, SyncRun.dry_run.is_(False)
    # Correlated lookups along the (account_id, started_at) index: a few rows per account.
    last_ok = (
        select(SyncRun.finished_at)
        .where(*real, SyncRun.status.in_(COMPLETED))
        .order_by(SyncRun.started_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    last_status = (
        select(SyncRun.status)
        .where(*real, SyncRun.status != "running")
        .order_by(SyncRun.started_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    connected = (Account.status != "terminated",)
    since = func.coalesce(last_ok, DirectoryRegistration.created_at)
    rows = session.execute(
        select(Account.slug, since, last_status)
        .join(DirectoryRegistration, DirectoryRegistration.account_id == Account.id)
        .where(*connected)
        .order_by(since, Account.slug)
        .limit(ACCOUNT_SERIES_MAX)
    ).all()
    total = session.scalar(
        select(func.count())
        .select_from(Account)
        .join(DirectoryRegistration, DirectoryRegistration.account_id == Account.id)
        .where(*connected)
    )
    return int(total or 0), [
        AccountFreshness(slug, _age(stamp, when), status == "failed") for slug, when, status in rows
    ]


def held_runs(session: Session, stamp: datetime) -> tuple[int, float]:
    count, oldest = session.execute(
        select(
            func.count(), func.min(func.coalesce(SyncRun.finished_at, SyncRun.started_at))
        ).where(SyncRun.status == "held")
    ).one()
    return int(count or 0), _age(stamp, oldest)


def writeback_states(session: Session) -> dict[str, int]:
    counts = dict.fromkeys(WRITEBACK_STATES, 0)
    rows = session.execute(
        select(WriteBackTask.status, func.count()).group_by(WriteBackTask.status)
    ).all()
    for status, count in rows:
        if status in counts:  # a state this version does not know stays out of the labels
            counts[status] = int(count)
    return counts


def subscription_expiry(session: Session, stamp: datetime) -> tuple[int, int]:
    total, expiring = session.execute(
        select(
            func.count(),
            func.count().filter(DirectorySubscription.expires_at < stamp + EXPIRING_WITHIN),
        )
    ).one()
    return int(total or 0), int(expiring or 0)


def job_queue(session: Session) -> dict[str, int]:
    """procrastinate_jobs by status; nothing when the queue's schema does not exist yet."""
    table = f"{QUEUE_SCHEMA}.procrastinate_jobs"
    if session.scalar(text("select to_regclass(:name)"), {"name": table}) is None:
        return {}
    counts = dict.fromkeys(JOB_STATUSES, 0)
    # The table's name is a constant of this module, not input.
    query = f"select status::text, count(*) from {table} group by status"  # noqa: S608
    rows = session.execute(text(query))
    for status, count in rows:
        if status in counts:
            counts[status] = int(count)
    return counts

"""Run leases: one running run per account, kept alive by a heartbeat.

The database enforces the lease (a unique index over running, non-dry runs per account), so
two starters can never both run, whichever process they are in. Starting is one short
transaction that first takes a lock (SQLite: the write lock, by ``BEGIN IMMEDIATE``;
PostgreSQL: the account row), so concurrent starters queue behind each other instead of
failing: the second one finds the first one's run and is told so in words.

A run renews its lease (``heartbeat_at``) from a small thread every quarter of the lease, and
in every transaction that carries out part of its plan. A running run whose heartbeat is older
than the lease has died (a killed process, a lost machine): the next start marks it
``abandoned`` and goes ahead. Renewing only ever touches a run that is still running, so a
heartbeat cannot bring a finished or abandoned run back; a run that finds its lease taken
stops before changing anything more (``LeaseLost``).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from switchboard.db.models import Account, SyncRun, SyncRunItem
from switchboard.portal.clock_context import now
from switchboard.portal.errors import Conflict
from switchboard.sync.ports import Transactions
from switchboard.sync.runs import RunKind, RunStatus

log = logging.getLogger("switchboard.sync")
KIND_NAMES: dict[str, str] = {
    RunKind.FULL: "full reconcile",
    RunKind.DELTA: "delta round",
    RunKind.SINGLE: "one-user sync",
}


class LeaseLost(Exception):
    """The run was taken as stopped (its heartbeat was too old) and another run went ahead."""

    def __init__(self, run_id: int) -> None:
        super().__init__(f"run {run_id} lost its lease")
        self.run_id = run_id


def lock_for_start(session: Session, account_id: int) -> None:
    """Serialise the starts of runs of one account; call first in the start's transaction.

    SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock before anything is read, so a
    second starter waits (busy timeout) and then reads the first one's run, instead of failing
    with "database is locked" when it tries to write on an outdated read. The sqlite3 driver
    opens transactions only before a write by itself; a transaction begun explicitly is one it
    then commits or rolls back like its own. PostgreSQL: the account row, locked in a mode
    that does not stop rows referring to the account from being written meanwhile.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        if driver is not None and not driver.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        return
    session.execute(
        select(Account.id).where(Account.id == account_id).with_for_update(key_share=True)
    )


def claim(session: Session, account_id: int, slug: str, *, lease: timedelta, dry_run: bool) -> None:
    """Make way for a new run of the account: runs whose heartbeat stopped are marked
    abandoned; a live (non-dry) run refuses the start with ``run_in_progress``."""
    stamp = now(session)
    running = session.scalars(
        select(SyncRun)
        .where(SyncRun.account_id == account_id, SyncRun.status == RunStatus.RUNNING)
        .order_by(SyncRun.id)
        .with_for_update()
    ).all()
    for run in running:
        seen = last_sign_of_life(run)
        if seen <= stamp - lease:
            abandon(session, run, seen)
        elif not run.dry_run and not dry_run:
            raise busy(run, slug)


def busy(run: SyncRun, slug: str) -> Conflict:
    kind = KIND_NAMES.get(run.kind, run.kind)
    return Conflict(
        f"run #{run.number} ({kind}, {run.trigger}, started {_clock(run.started_at)}) is still in"
        f" progress for '{slug}'; wait for it to finish, then start again",
        code="run_in_progress",
    )


def refused_start(session: Session, account_id: int, slug: str) -> Conflict:
    """The answer when the database's unique index refused a run (a start that got past the
    lock some other way): name the run that holds the lease."""
    holder = session.scalar(
        select(SyncRun).where(
            SyncRun.account_id == account_id,
            SyncRun.status == RunStatus.RUNNING,
            SyncRun.dry_run.is_(False),
        )
    )
    if holder is not None:
        return busy(holder, slug)
    return Conflict(
        f"another run of '{slug}' started at the same moment; start again",
        code="run_in_progress",
    )


def is_lease_violation(exc: IntegrityError) -> bool:
    return "uq_sync_runs_one_running" in str(exc.orig) or "sync_runs.account_id" in str(exc.orig)


def last_sign_of_life(run: SyncRun) -> datetime:
    return run.heartbeat_at or run.started_at


def abandon(session: Session, run: SyncRun, seen: datetime) -> None:
    """Close a run that stopped heartbeating, with the counts of what it had committed (its
    items are written in the transactions that carried them out)."""
    counts = dict(run.counts or {})
    logged = session.execute(
        select(SyncRunItem.action, func.count())
        .where(SyncRunItem.run_id == run.id)
        .group_by(SyncRunItem.action)
    ).all()
    for action, n in logged:
        counts[action] = max(counts.get(action, 0), int(n))
    failed = session.scalar(
        select(func.count()).where(
            SyncRunItem.run_id == run.id,
            SyncRunItem.state == "failed",
            SyncRunItem.action != "error",
        )
    )
    if failed:
        counts["failed"] = max(counts.get("failed", 0), int(failed))
    run.status = RunStatus.ABANDONED.value
    run.counts = counts
    run.finished_at = now(session)
    run.message = (
        f"stopped without finishing (no sign of life since {_clock(seen)});"
        " what it had carried out stays"
    )
    log.warning(
        "run %s of account %s abandoned: no heartbeat since %s", run.id, run.account_id, seen
    )


def renew(session: Session, run_id: int) -> bool:
    """Renew the run's lease; False when the run is no longer running (never revives it)."""
    result = session.execute(
        update(SyncRun)
        .where(SyncRun.id == run_id, SyncRun.status == RunStatus.RUNNING)
        .values(heartbeat_at=now(session))
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def hold(session: Session, run_id: int) -> None:
    """In a transaction that carries out part of a run: renew the lease, or stop here (the
    transaction rolls back) when another run has taken it."""
    if not renew(session, run_id):
        raise LeaseLost(run_id)


class Heartbeat:
    """Renews a run's lease every ``interval`` seconds, each time in a short transaction of
    its own, until stopped or until the run is found no longer running."""

    def __init__(self, services: Transactions, run_id: int, interval: float) -> None:
        self.services = services
        self.run_id = run_id
        self.interval = interval
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"run-{run_id}-heartbeat", daemon=True
        )

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.services.unit_of_work() as session:
                    alive = renew(session, self.run_id)
            except Exception:  # a database hiccup: the next beat tries again
                log.warning("run %s: heartbeat not recorded", self.run_id, exc_info=True)
                continue
            if not alive:
                self.lost = True
                return


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S UTC")

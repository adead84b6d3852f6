"""Run-log retention: sync runs and their items older than the retention period go.

The scheduler calls ``prune`` daily (the embedded tick, a periodic job on the queue). It works
one account at a time along the (account, started) index, in short transactions: run items go
in slices of ITEM_SLICE rows, then their runs, BATCH runs at a time, so a backlog of months
never holds locks on sync_runs or sync_run_items for long. An interrupted prune leaves runs
with some items gone, which the next one finishes.

Kept whatever their age: running runs, held runs (they wait for an admin's approval), and each
account's newest run, from which its run numbers continue (the next run takes the highest
number plus one) and its schedule reads the last outcome.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from switchboard.db.models import Account, SyncRun, SyncRunItem
from switchboard.portal.clock_context import now
from switchboard.sync.ports import Transactions

log = logging.getLogger("switchboard.sync")
BATCH = 500
ITEM_SLICE = 10_000
KEPT_STATUSES = ("running", "held")


@dataclass(frozen=True)
class Pruned:
    runs: int = 0
    items: int = 0
    # Transactions used, items and runs together.
    transactions: int = 0


def prune(
    tx: Transactions,
    *,
    retention_days: int,
    batch: int = BATCH,
    item_slice: int = ITEM_SLICE,
) -> Pruned:
    """Delete the runs that started more than ``retention_days`` ago, with their items."""
    with tx.unit_of_work() as session:
        cutoff = now(session) - timedelta(days=retention_days)
        accounts = list(session.scalars(select(Account.id).order_by(Account.id)))
    runs = items = transactions = 0
    for account_id in accounts:
        while True:
            with tx.unit_of_work() as session:
                ids = _expired(session, account_id, cutoff, batch)
            transactions += 1
            if not ids:
                break
            while True:  # the items first, a slice per transaction
                with tx.unit_of_work() as session:
                    gone = _delete_items(session, ids, item_slice)
                transactions += 1
                items += gone
                if gone < item_slice:
                    break
            with tx.unit_of_work() as session:
                # Status checked again: a run does not leave these states backwards, but a
                # row changed since the select is left for the next prune rather than guessed.
                runs += _rowcount(
                    session.execute(
                        delete(SyncRun).where(
                            SyncRun.id.in_(ids), SyncRun.status.not_in(KEPT_STATUSES)
                        )
                    )
                )
            transactions += 1
            if len(ids) < batch:
                break
    if runs or items:
        log.info(
            "run-log retention (%d days): pruned %d run(s) and %d run item(s)",
            retention_days,
            runs,
            items,
        )
    return Pruned(runs=runs, items=items, transactions=transactions)


def _expired(session: Session, account_id: int, cutoff: datetime, batch: int) -> list[int]:
    newest = (
        select(func.max(SyncRun.number)).where(SyncRun.account_id == account_id).scalar_subquery()
    )
    return list(
        session.scalars(
            select(SyncRun.id)
            .where(
                SyncRun.account_id == account_id,
                SyncRun.started_at < cutoff,
                SyncRun.status.not_in(KEPT_STATUSES),
                SyncRun.number < newest,
            )
            .order_by(SyncRun.started_at, SyncRun.id)
            .limit(batch)
        )
    )


def _delete_items(session: Session, run_ids: list[int], limit: int) -> int:
    slice_ids = (
        select(SyncRunItem.id).where(SyncRunItem.run_id.in_(run_ids)).limit(limit).scalar_subquery()
    )
    return _rowcount(session.execute(delete(SyncRunItem).where(SyncRunItem.id.in_(slice_ids))))


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)

"""The deletion guard across runs: what one run's plan cannot see on its own.

The planner judges a plan's own deletions and creates (``sync.planner``).
Here the account's recent history adds two rules before a run applies anything:

- while another run of the account waits for approval, this run's deletions wait too (held
  as pending items of this run, approved or rejected like any held run), so rounds that follow
  a wrong scope never delete what the held run is holding back;
- deletions are counted over a sliding day: the deletions applied in the last 24 hours plus
  this run's, against the synced users there were before them. Deletions an admin approved
  do not count: they were looked at.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from switchboard.db.models import SyncRun, SyncRunItem
from switchboard.portal.clock_context import now
from switchboard.sync import queries
from switchboard.sync.plan import Action, Plan
from switchboard.sync.policy import SyncPolicy
from switchboard.sync.runs import RunStatus

WINDOW = timedelta(hours=24)
# error_code of a held deletion carried out on approval (kept out of the window).
APPROVED = "approved"


def waiting_run(session: Session, account_id: int, run_id: int) -> int | None:
    """The number of the oldest other run of the account that waits for approval."""
    return session.scalar(
        select(SyncRun.number)
        .where(
            SyncRun.account_id == account_id,
            SyncRun.status == RunStatus.HELD,
            SyncRun.dry_run.is_(False),
            SyncRun.id != run_id,
        )
        .order_by(SyncRun.id)
        .limit(1)
    )


def deleted_within_window(session: Session, account_id: int, run_id: int) -> int:
    """Deletions the sync applied in the account over the last day, approved ones aside."""
    since = now(session) - WINDOW
    found = session.scalar(
        select(func.count())
        .select_from(SyncRunItem)
        .join(SyncRun, SyncRun.id == SyncRunItem.run_id)
        .where(
            SyncRun.account_id == account_id,
            SyncRun.started_at >= since,
            SyncRun.id != run_id,
            SyncRunItem.action == "delete",
            SyncRunItem.state == "applied",
            or_(SyncRunItem.error_code.is_(None), SyncRunItem.error_code != APPROVED),
        )
    )
    return int(found or 0)


def hold_for_account(
    session: Session, account_id: int, policy: SyncPolicy, the_plan: Plan, run_id: int
) -> None:
    """Hold the plan (``hold_reason``) when the account's other runs say so."""
    deletions = the_plan.tally[Action.DELETE]
    if not deletions or the_plan.hold_reason is not None:
        return
    waiting = waiting_run(session, account_id, run_id)
    if waiting is not None:
        the_plan.hold_reason = (
            f"run #{waiting} waits for approval; no run deletes in this account meanwhile, so"
            f" this run's {deletions} deletion(s) wait too: approve or reject them once run"
            f" #{waiting} is decided"
        )
        return
    earlier = deleted_within_window(session, account_id, run_id)
    if not earlier:
        return  # the plan's own guard has judged this run alone
    guard = policy.deletion_guard
    total = earlier + deletions
    # The synced users there were before the day's deletions.
    base = queries.linked_count(session, account_id) + earlier
    if total > guard.max_count and total * 100 > guard.max_percent * base:
        the_plan.hold_reason = (
            f"with the {earlier} deletion(s) of the last 24 hours, the run would delete"
            f" {total} of {base} synced users within a day (more than"
            f" {guard.max_percent:g}% and more than {guard.max_count}); approve or reject"
        )

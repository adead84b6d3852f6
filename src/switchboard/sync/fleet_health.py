"""One account's directory sync health, and the judgement of whether it needs an operator.

``fleet_status`` fills these rows from the database; the rules here only read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from switchboard.db.models import DirectoryRegistration
from switchboard.sync.cron import parse_cron
from switchboard.sync.policy import SyncPolicy
from switchboard.sync.runs import RunStatus
from switchboard.sync.schedule import DAILY_DELTA

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


def reasons(
    row: AccountHealth, registration: DirectoryRegistration | None, stamp: datetime
) -> list[str]:
    """Why the account needs an operator, in words; empty when it does not."""
    if registration is None:
        return []  # not connected: nothing of the directory sync to watch
    found: list[str] = []
    if row.test_ok is False:
        detail = f": {row.test_message}" if row.test_message else ""
        found.append(f"the last connection test failed{detail}")
    if row.last_run is not None and row.last_run.status == RunStatus.FAILED.value:
        found.append(f"the last run (#{row.last_run.number}) failed")
    if row.held_runs:
        age = _age(row.oldest_held_age_seconds or 0)
        found.append(
            f"run #{row.oldest_held_number} waits for approval (for {age})"
            if row.held_runs == 1
            else f"{row.held_runs} runs wait for approval (the oldest, #{row.oldest_held_number},"
            f" for {age})"
        )
    limit = stale_after(SyncPolicy.model_validate(registration.policy or {}), stamp)
    if row.last_success is not None:
        if row.last_success.age_seconds > limit.total_seconds():
            found.append(
                f"stale: no completed run for {_age(row.last_success.age_seconds)}"
                f" (its mode expects one within {_age(int(limit.total_seconds()))})"
            )
    elif stamp - registration.created_at > limit:
        connected = int((stamp - registration.created_at).total_seconds())
        found.append(f"stale: no completed run since it was connected {_age(connected)} ago")
    if row.subscriptions == "missing":
        found.append(
            f"just-in-time subscriptions missing ({', '.join(row.subscriptions_missing)}):"
            " changes are only picked up by the daily safety net"
        )
    elif row.subscriptions == "expired":
        found.append(
            "just-in-time subscriptions expired: changes are only picked up by the daily safety net"
        )
    elif row.subscriptions == "expiring":
        found.append("just-in-time subscriptions expire within 24 hours and were not renewed")
    if row.writebacks_failing:
        found.append(f"{row.writebacks_failing} write-back(s) to Entra ID failed")
    return found
